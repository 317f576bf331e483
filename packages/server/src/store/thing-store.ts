import { randomUUID } from 'node:crypto';
import { alreadyExists, invalidRequest, notFound, versionConflict } from '@otter/core';
import {
  applyAttributes,
  type Connectivity,
  type Page,
  type PageRequest,
  rowToThing,
  sameRecord,
  type ThingRecord,
  type ThingRow,
  toPage,
} from './records.js';
import { type SqlDatabase, type SqlExecutor, UniqueViolation } from './sql/sql-database.js';
import { reindexThing } from './thing-index.js';

export interface CreateThingInput {
  thingName: string;
  thingTypeName?: string | undefined;
  attributes?: Record<string, string> | undefined;
  /** Defaults to a random UUID. */
  thingId?: string | undefined;
}

export interface UpdateThingInput {
  thingTypeName?: string | undefined;
  removeThingType?: boolean | undefined;
  attributePayload?: { attributes?: Record<string, string>; merge?: boolean } | undefined;
  expectedVersion?: number | undefined;
}

export interface ListThingsRequest extends PageRequest {
  attributeName?: string | undefined;
  attributeValue?: string | undefined;
  thingTypeName?: string | undefined;
  /** Match attributeValue as a prefix. */
  usePrefixAttributeValue?: boolean | undefined;
}

export const thingNotFound = (name: string) => notFound(`Thing ${name} cannot be found.`);

/** Reads a thing inside a transaction, or throws ResourceNotFoundException. */
export async function requireThing(tx: SqlExecutor, name: string): Promise<ThingRecord> {
  const row = await tx.get<ThingRow>('SELECT * FROM things WHERE thing_name = ?', [name]);
  if (!row) throw thingNotFound(name);
  return rowToThing(row);
}

async function requireUsableType(tx: SqlExecutor, typeName: string): Promise<void> {
  const type = await tx.get<{ deprecated: number }>('SELECT deprecated FROM thing_types WHERE name = ?', [
    typeName,
  ]);
  if (!type) throw notFound(`Thing type ${typeName} cannot be found.`);
  if (type.deprecated === 1) throw invalidRequest(`Thing type ${typeName} is deprecated.`);
}

export class ThingStore {
  constructor(private readonly db: SqlDatabase) {}

  /** Idempotent: the same configuration returns the existing thing. */
  async create(input: CreateThingInput, now: number): Promise<ThingRecord> {
    const attributes = input.attributes ?? {};
    const conflict = (existing: ThingRecord): ThingRecord => {
      if (existing.thingTypeName === input.thingTypeName && sameRecord(existing.attributes, attributes))
        return existing;
      throw alreadyExists(
        `Thing ${input.thingName} already exists in account with different attributes`,
        existing.thingId,
      );
    };
    try {
      return await this.db.transaction(async (tx) => {
        const row = await tx.get<ThingRow>('SELECT * FROM things WHERE thing_name = ?', [input.thingName]);
        if (row) return conflict(rowToThing(row));
        if (input.thingTypeName !== undefined) await requireUsableType(tx, input.thingTypeName);
        await tx.run(
          `INSERT INTO things (thing_name, thing_id, thing_type_name, attributes, version, created_at, updated_at)
           VALUES (?, ?, ?, ?, 1, ?, ?)`,
          [
            input.thingName,
            input.thingId ?? randomUUID(),
            input.thingTypeName ?? null,
            JSON.stringify(attributes),
            now,
            now,
          ],
        );
        await reindexThing(tx, input.thingName);
        return requireThing(tx, input.thingName);
      });
    } catch (error) {
      if (!(error instanceof UniqueViolation)) throw error;
      // A concurrent create won the race (or the thing id is taken).
      const existing = await this.get(input.thingName);
      if (existing) return conflict(existing);
      throw alreadyExists(`Thing id ${input.thingId ?? ''} already exists`);
    }
  }

  async get(name: string): Promise<ThingRecord | undefined> {
    const row = await this.db.get<ThingRow>('SELECT * FROM things WHERE thing_name = ?', [name]);
    return row && rowToThing(row);
  }

  /** Like `get`, but a missing thing is ResourceNotFoundException. */
  async describe(name: string): Promise<ThingRecord> {
    const thing = await this.get(name);
    if (!thing) throw thingNotFound(name);
    return thing;
  }

  async update(name: string, input: UpdateThingInput, now: number): Promise<ThingRecord> {
    if (input.removeThingType && input.thingTypeName !== undefined)
      throw invalidRequest('Cannot set removeThingType and thingTypeName together.');
    return this.db.transaction(async (tx) => {
      const thing = await requireThing(tx, name);
      checkVersion('thing', name, thing.version, input.expectedVersion);
      if (input.thingTypeName !== undefined && input.thingTypeName !== thing.thingTypeName)
        await requireUsableType(tx, input.thingTypeName);
      const typeName = input.removeThingType ? null : (input.thingTypeName ?? thing.thingTypeName ?? null);
      const attributes = input.attributePayload
        ? applyAttributes(thing.attributes, input.attributePayload)
        : thing.attributes;
      await tx.run(
        'UPDATE things SET thing_type_name = ?, attributes = ?, version = version + 1, updated_at = ? WHERE thing_name = ?',
        [typeName, JSON.stringify(attributes), now, name],
      );
      await reindexThing(tx, name);
      return requireThing(tx, name);
    });
  }

  /** Deletes the thing with its shadows, group memberships, tags and index rows. False when absent. */
  async delete(name: string, expectedVersion?: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      // The thing's row lock first (a no-op UPDATE, as AttachThingPrincipal takes it): on PostgreSQL
      // an attach running meanwhile either committed before (its principal is seen below) or waits
      // and then finds no thing, so nothing is ever attached to a deleted thing.
      const locked = await tx.run('UPDATE things SET thing_name = thing_name WHERE thing_name = ?', [name]);
      if (locked.changes === 0) return false;
      const row = await tx.get<ThingRow>('SELECT * FROM things WHERE thing_name = ?', [name]);
      if (!row) return false;
      checkVersion('thing', name, Number(row.version), expectedVersion);
      // AWS refuses to delete a thing that still has principals attached (checked in this transaction).
      if (await tx.get('SELECT 1 AS x FROM thing_principals WHERE thing_name = ? LIMIT 1', [name]))
        throw invalidRequest(`Cannot delete. Thing ${name} is still attached to one or more principals`);
      await tx.run('DELETE FROM shadows WHERE thing_name = ?', [name]);
      await tx.run('DELETE FROM shadow_tombstones WHERE thing_name = ?', [name]);
      await tx.run('DELETE FROM thing_group_members WHERE thing_name = ?', [name]);
      await tx.run("DELETE FROM tags WHERE resource_type = 'thing' AND resource_name = ?", [name]);
      await tx.run('DELETE FROM thing_index WHERE thing_name = ?', [name]);
      await tx.run('DELETE FROM things WHERE thing_name = ?', [name]);
      return true;
    });
  }

  /** Things by name; attribute filters use the `thing_index` rows. */
  async list(request: ListThingsRequest): Promise<Page<ThingRecord>> {
    const where: string[] = ['t.thing_name > ?'];
    const params: unknown[] = [request.after ?? ''];
    if (request.thingTypeName !== undefined) {
      where.push('t.thing_type_name = ?');
      params.push(request.thingTypeName);
    }
    if (request.attributeName !== undefined) {
      const prefix = request.usePrefixAttributeValue === true && request.attributeValue !== undefined;
      // A prefix is the range [value, value + U+FFFF): the (field, value_text) index serves it.
      const valueTest =
        request.attributeValue === undefined
          ? ''
          : prefix
            ? ' AND i.value_text >= ? AND i.value_text < ?'
            : ' AND i.value_text = ?';
      where.push(`t.thing_name IN (SELECT i.thing_name FROM thing_index i WHERE i.field = ?${valueTest})`);
      params.push(`attributes.${request.attributeName}`);
      if (request.attributeValue !== undefined) params.push(request.attributeValue);
      if (prefix) params.push(`${request.attributeValue}\uffff`);
    }
    params.push(request.limit + 1);
    const rows = await this.db.all<ThingRow>(
      `SELECT t.* FROM things t WHERE ${where.join(' AND ')} ORDER BY t.thing_name LIMIT ?`,
      params,
    );
    return toPage(rows.map(rowToThing), request.limit, (t) => t.thingName);
  }

  /** Records a connect or disconnect and reindexes the thing. */
  async setConnectivity(name: string, connectivity: Connectivity): Promise<void> {
    await this.db.transaction(async (tx) => {
      const { changes } = await tx.run(
        'UPDATE things SET connected = ?, connectivity_at = ?, disconnect_reason = ? WHERE thing_name = ?',
        [
          connectivity.connected ? 1 : 0,
          connectivity.timestamp ?? null,
          connectivity.disconnectReason ?? null,
          name,
        ],
      );
      if (changes === 0) throw thingNotFound(name);
      await reindexThing(tx, name);
    });
  }
}

export function checkVersion(kind: string, name: string, actual: number, expected: number | undefined): void {
  if (expected !== undefined && expected !== actual)
    throw versionConflict(
      `The version of ${kind} ${name} is ${actual}, not the expected version ${expected}.`,
    );
}
