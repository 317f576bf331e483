import { randomUUID } from 'node:crypto';
import { alreadyExists, invalidRequest, notFound } from '@otter/core';
import {
  type Page,
  type PageRequest,
  parseJson,
  type ThingTypeRecord,
  toPage,
  uniqueAsAlreadyExists,
} from './records.js';
import type { SqlDatabase } from './sql/sql-database.js';

/** AWS lets a thing type be deleted only five minutes after it was deprecated. */
export const THING_TYPE_DELETE_DELAY_MS = 5 * 60 * 1000;

interface ThingTypeRow {
  name: string;
  id: string;
  description: string | null;
  searchable_attributes: string;
  deprecated: number;
  deprecated_at: number | null;
  created_at: number;
}

function rowToType(row: ThingTypeRow): ThingTypeRecord {
  return {
    thingTypeName: row.name,
    thingTypeId: row.id,
    ...(row.description === null ? {} : { description: row.description }),
    searchableAttributes: parseJson<string[]>(row.searchable_attributes),
    deprecated: row.deprecated === 1,
    ...(row.deprecated_at === null ? {} : { deprecatedAt: Number(row.deprecated_at) }),
    createdAt: Number(row.created_at),
  };
}

export interface CreateThingTypeInput {
  thingTypeName: string;
  description?: string | undefined;
  searchableAttributes?: string[] | undefined;
  thingTypeId?: string | undefined;
}

const typeNotFound = (name: string) => notFound(`Thing type ${name} cannot be found.`);

export class ThingTypeStore {
  constructor(private readonly db: SqlDatabase) {}

  /** Idempotent when the properties are the same; otherwise ResourceAlreadyExistsException. */
  async create(input: CreateThingTypeInput, now: number): Promise<ThingTypeRecord> {
    const searchable = input.searchableAttributes ?? [];
    const existing = await this.get(input.thingTypeName);
    const same = (t: ThingTypeRecord) =>
      t.description === input.description &&
      JSON.stringify(t.searchableAttributes) === JSON.stringify(searchable);
    if (existing) {
      if (same(existing)) return existing;
      throw alreadyExists(`Thing type ${input.thingTypeName} already exists`, existing.thingTypeId);
    }
    await uniqueAsAlreadyExists(`Thing type ${input.thingTypeName} already exists`, () =>
      this.db.run(
        `INSERT INTO thing_types (name, id, description, searchable_attributes, deprecated, created_at)
         VALUES (?, ?, ?, ?, 0, ?)`,
        [
          input.thingTypeName,
          input.thingTypeId ?? randomUUID(),
          input.description ?? null,
          JSON.stringify(searchable),
          now,
        ],
      ),
    );
    return this.describe(input.thingTypeName);
  }

  async get(name: string): Promise<ThingTypeRecord | undefined> {
    const row = await this.db.get<ThingTypeRow>('SELECT * FROM thing_types WHERE name = ?', [name]);
    return row && rowToType(row);
  }

  async describe(name: string): Promise<ThingTypeRecord> {
    const type = await this.get(name);
    if (!type) throw typeNotFound(name);
    return type;
  }

  async list(request: PageRequest & { thingTypeName?: string | undefined }): Promise<Page<ThingTypeRecord>> {
    const rows = await this.db.all<ThingTypeRow>(
      `SELECT * FROM thing_types WHERE name > ?${request.thingTypeName === undefined ? '' : ' AND name = ?'}
       ORDER BY name LIMIT ?`,
      [
        request.after ?? '',
        ...(request.thingTypeName === undefined ? [] : [request.thingTypeName]),
        request.limit + 1,
      ],
    );
    return toPage(rows.map(rowToType), request.limit, (t) => t.thingTypeName);
  }

  /** Deprecates (or with `undo`, un-deprecates) a thing type. */
  async deprecate(name: string, undo: boolean, now: number): Promise<void> {
    const { changes } = await this.db.run(
      'UPDATE thing_types SET deprecated = ?, deprecated_at = ? WHERE name = ?',
      [undo ? 0 : 1, undo ? null : now, name],
    );
    if (changes === 0) throw typeNotFound(name);
  }

  /** Allowed five minutes after deprecation, and only when no thing has the type. */
  async delete(name: string, now: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      const row = await tx.get<ThingTypeRow>('SELECT * FROM thing_types WHERE name = ?', [name]);
      if (!row) throw typeNotFound(name);
      const type = rowToType(row);
      if (!type.deprecated || type.deprecatedAt === undefined)
        throw invalidRequest(`Thing type ${name} must be deprecated before it can be deleted.`);
      if (now - type.deprecatedAt < THING_TYPE_DELETE_DELAY_MS)
        throw invalidRequest(`Thing type ${name} can be deleted only 5 minutes after it was deprecated.`);
      const used = await tx.get('SELECT 1 AS one FROM things WHERE thing_type_name = ? LIMIT 1', [name]);
      if (used) throw invalidRequest(`Thing type ${name} is still associated with things.`);
      await tx.run("DELETE FROM tags WHERE resource_type = 'thingType' AND resource_name = ?", [name]);
      await tx.run('DELETE FROM thing_types WHERE name = ?', [name]);
    });
  }
}
