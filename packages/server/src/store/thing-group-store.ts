import { randomUUID } from 'node:crypto';
import { alreadyExists, invalidRequest, notFound } from '@otter/core';
import {
  applyAttributes,
  type Page,
  type PageRequest,
  parseJson,
  sameRecord,
  type ThingGroupRecord,
  toPage,
  uniqueAsAlreadyExists,
} from './records.js';
import type { SqlDatabase, SqlExecutor } from './sql/sql-database.js';
import { reindexThing } from './thing-index.js';
import { checkVersion, requireThing } from './thing-store.js';

interface GroupRow {
  name: string;
  id: string;
  parent_name: string | null;
  description: string | null;
  attributes: string;
  version: number;
  created_at: number;
  query_string: string | null;
  query_version: string | null;
  index_name: string | null;
}

function rowToGroup(row: GroupRow): ThingGroupRecord {
  return {
    thingGroupName: row.name,
    thingGroupId: row.id,
    ...(row.parent_name === null ? {} : { parentGroupName: row.parent_name }),
    ...(row.description === null ? {} : { description: row.description }),
    attributes: parseJson<Record<string, string>>(row.attributes),
    version: Number(row.version),
    createdAt: Number(row.created_at),
    ...(row.query_string === null ? {} : { queryString: row.query_string }),
    ...(row.query_version === null ? {} : { queryVersion: row.query_version }),
    ...(row.index_name === null ? {} : { indexName: row.index_name }),
  };
}

export interface CreateThingGroupInput {
  thingGroupName: string;
  parentGroupName?: string | undefined;
  description?: string | undefined;
  attributes?: Record<string, string> | undefined;
  thingGroupId?: string | undefined;
  /** Dynamic groups. */
  queryString?: string | undefined;
  queryVersion?: string | undefined;
  indexName?: string | undefined;
}

export interface UpdateThingGroupInput {
  description?: string | undefined;
  attributePayload?: { attributes?: Record<string, string>; merge?: boolean } | undefined;
  expectedVersion?: number | undefined;
  /** Dynamic groups only: a new query (membership is recomputed by the caller). */
  queryString?: string | undefined;
  queryVersion?: string | undefined;
  indexName?: string | undefined;
}

export interface ListThingGroupsRequest extends PageRequest {
  /** Children of this group (all groups when absent). */
  parentGroup?: string | undefined;
  namePrefix?: string | undefined;
  /** With `parentGroup`: all descendants rather than direct children. */
  recursive?: boolean | undefined;
}

const groupNotFound = (name: string) => notFound(`Thing group ${name} cannot be found.`);

/** `name` and its descendants, as a CTE named `sub(name)`; the group name is its one parameter. */
const SUBTREE = `WITH RECURSIVE sub(name) AS (
  SELECT name FROM thing_groups WHERE name = ?
  UNION ALL SELECT g.name FROM thing_groups g JOIN sub ON g.parent_name = sub.name)`;

/** The `settings` row counting dynamic group changes (see `ThingGroupStore.dynamicVersion`). */
const DYNAMIC_VERSION_KEY = 'dynamicThingGroups.version';

/** Counts a dynamic group create / query update / delete, in the transaction that makes it. */
async function bumpDynamicVersion(tx: SqlExecutor): Promise<void> {
  await tx.run(
    `INSERT INTO settings (key, value) VALUES (?, '1') ON CONFLICT (key)
     DO UPDATE SET value = CAST(CAST(settings.value AS BIGINT) + 1 AS TEXT)`,
    [DYNAMIC_VERSION_KEY],
  );
}

async function requireGroup(tx: SqlExecutor, name: string): Promise<ThingGroupRecord> {
  const row = await tx.get<GroupRow>('SELECT * FROM thing_groups WHERE name = ?', [name]);
  if (!row) throw groupNotFound(name);
  return rowToGroup(row);
}

export class ThingGroupStore {
  constructor(private readonly db: SqlDatabase) {}

  /** Idempotent when the properties are the same; otherwise ResourceAlreadyExistsException. */
  async create(input: CreateThingGroupInput, now: number): Promise<ThingGroupRecord> {
    const attributes = input.attributes ?? {};
    const message = `Thing group ${input.thingGroupName} already exists`;
    return uniqueAsAlreadyExists(message, () =>
      this.db.transaction(async (tx) => {
        const row = await tx.get<GroupRow>('SELECT * FROM thing_groups WHERE name = ?', [
          input.thingGroupName,
        ]);
        if (row) {
          const g = rowToGroup(row);
          const same =
            g.parentGroupName === input.parentGroupName &&
            g.description === input.description &&
            g.queryString === input.queryString &&
            sameRecord(g.attributes, attributes);
          if (same) return g;
          throw alreadyExists(message, g.thingGroupId);
        }
        if (input.parentGroupName !== undefined) await requireGroup(tx, input.parentGroupName);
        await tx.run(
          `INSERT INTO thing_groups (name, id, parent_name, description, attributes, version, created_at,
             query_string, query_version, index_name) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?)`,
          [
            input.thingGroupName,
            input.thingGroupId ?? randomUUID(),
            input.parentGroupName ?? null,
            input.description ?? null,
            JSON.stringify(attributes),
            now,
            input.queryString ?? null,
            input.queryVersion ?? null,
            input.indexName ?? null,
          ],
        );
        if (input.queryString !== undefined) await bumpDynamicVersion(tx);
        return requireGroup(tx, input.thingGroupName);
      }),
    );
  }

  async get(name: string): Promise<ThingGroupRecord | undefined> {
    const row = await this.db.get<GroupRow>('SELECT * FROM thing_groups WHERE name = ?', [name]);
    return row && rowToGroup(row);
  }

  async describe(name: string): Promise<ThingGroupRecord> {
    const group = await this.get(name);
    if (!group) throw groupNotFound(name);
    return group;
  }

  /** The chain from the root group down to `name`'s parent (`rootToParentThingGroups`). */
  async ancestors(name: string): Promise<ThingGroupRecord[]> {
    const chain: ThingGroupRecord[] = [];
    let current = await this.describe(name);
    while (current.parentGroupName !== undefined && chain.length < 10) {
      current = await this.describe(current.parentGroupName);
      chain.unshift(current);
    }
    return chain;
  }

  async update(name: string, input: UpdateThingGroupInput): Promise<ThingGroupRecord> {
    return this.db.transaction(async (tx) => {
      const group = await requireGroup(tx, name);
      checkVersion('thing group', name, group.version, input.expectedVersion);
      const attributes = input.attributePayload
        ? applyAttributes(group.attributes, input.attributePayload)
        : group.attributes;
      await tx.run(
        `UPDATE thing_groups SET description = ?, attributes = ?, query_string = ?, query_version = ?,
           index_name = ?, version = version + 1 WHERE name = ?`,
        [
          input.description ?? group.description ?? null,
          JSON.stringify(attributes),
          input.queryString ?? group.queryString ?? null,
          input.queryVersion ?? group.queryVersion ?? null,
          input.indexName ?? group.indexName ?? null,
          name,
        ],
      );
      if (input.queryString !== undefined && input.queryString !== group.queryString)
        await bumpDynamicVersion(tx);
      return requireGroup(tx, name);
    });
  }

  /** A group with child groups cannot be deleted. False when absent. */
  async delete(name: string, expectedVersion?: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const row = await tx.get<GroupRow>('SELECT * FROM thing_groups WHERE name = ?', [name]);
      if (!row) return false;
      checkVersion('thing group', name, Number(row.version), expectedVersion);
      const child = await tx.get('SELECT 1 AS one FROM thing_groups WHERE parent_name = ? LIMIT 1', [name]);
      if (child) throw invalidRequest(`Cannot delete thing group ${name}: it has child groups.`);
      const members = await tx.all<{ thing_name: string }>(
        'SELECT thing_name FROM thing_group_members WHERE group_name = ?',
        [name],
      );
      await tx.run('DELETE FROM thing_group_members WHERE group_name = ?', [name]);
      await tx.run("DELETE FROM tags WHERE resource_type = 'thingGroup' AND resource_name = ?", [name]);
      await tx.run('DELETE FROM thing_groups WHERE name = ?', [name]);
      if (row.query_string !== null) await bumpDynamicVersion(tx);
      for (const m of members) await reindexThing(tx, m.thing_name);
      return true;
    });
  }

  async list(request: ListThingGroupsRequest): Promise<Page<ThingGroupRecord>> {
    const where = ['g.name > ?'];
    const params: unknown[] = [request.after ?? ''];
    let prefix = '';
    if (request.parentGroup !== undefined) {
      await this.describe(request.parentGroup);
      if (request.recursive) {
        prefix = SUBTREE;
        where.push('g.name IN (SELECT name FROM sub) AND g.name <> ?');
        params.unshift(request.parentGroup);
        params.push(request.parentGroup);
      } else {
        where.push('g.parent_name = ?');
        params.push(request.parentGroup);
      }
    }
    if (request.namePrefix !== undefined) {
      where.push('substr(g.name, 1, ?) = ?');
      params.push([...request.namePrefix].length, request.namePrefix);
    }
    params.push(request.limit + 1);
    const rows = await this.db.all<GroupRow>(
      `${prefix} SELECT g.* FROM thing_groups g WHERE ${where.join(' AND ')} ORDER BY g.name LIMIT ?`,
      params,
    );
    return toPage(rows.map(rowToGroup), request.limit, (g) => g.thingGroupName);
  }

  /** Idempotent. */
  async addThing(groupName: string, thingName: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const group = await requireGroup(tx, groupName);
      if (group.queryString !== undefined)
        throw invalidRequest(`Cannot add things to dynamic thing group ${groupName}.`);
      await requireThing(tx, thingName);
      const member = await tx.get(
        'SELECT 1 AS one FROM thing_group_members WHERE group_name = ? AND thing_name = ?',
        [groupName, thingName],
      );
      if (member) return;
      await tx.run('INSERT INTO thing_group_members (group_name, thing_name) VALUES (?, ?)', [
        groupName,
        thingName,
      ]);
      await reindexThing(tx, thingName);
    });
  }

  /** Idempotent. */
  async removeThing(groupName: string, thingName: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await requireGroup(tx, groupName);
      await requireThing(tx, thingName);
      const { changes } = await tx.run(
        'DELETE FROM thing_group_members WHERE group_name = ? AND thing_name = ?',
        [groupName, thingName],
      );
      if (changes > 0) await reindexThing(tx, thingName);
    });
  }

  /** Thing names in the group (with `recursive`, also in its descendants). */
  async listThings(
    groupName: string,
    request: PageRequest & { recursive?: boolean | undefined },
  ): Promise<Page<string>> {
    await this.describe(groupName);
    const groups = request.recursive ? 'IN (SELECT name FROM sub)' : '= ?';
    const rows = await this.db.all<{ thing_name: string }>(
      `${request.recursive ? SUBTREE : ''} SELECT DISTINCT m.thing_name FROM thing_group_members m
       WHERE m.group_name ${groups} AND m.thing_name > ? ORDER BY m.thing_name LIMIT ?`,
      [groupName, request.after ?? '', request.limit + 1],
    );
    return toPage(
      rows.map((r) => r.thing_name),
      request.limit,
      (n) => n,
    );
  }

  /** Names of the groups the thing is directly a member of. */
  async listGroupsForThing(thingName: string, request: PageRequest): Promise<Page<string>> {
    await requireThing(this.db, thingName);
    const rows = await this.db.all<{ group_name: string }>(
      `SELECT group_name FROM thing_group_members WHERE thing_name = ? AND group_name > ?
       ORDER BY group_name LIMIT ?`,
      [thingName, request.after ?? '', request.limit + 1],
    );
    return toPage(
      rows.map((r) => r.group_name),
      request.limit,
      (n) => n,
    );
  }

  /**
   * A number that changes whenever a dynamic group is created, deleted or gets a new query (0
   * before the first): one primary-key read that tells a process whether its cached queries are
   * still those in the database, whichever process changed them.
   */
  async dynamicVersion(): Promise<number> {
    const row = await this.db.get<{ value: string }>('SELECT value FROM settings WHERE key = ?', [
      DYNAMIC_VERSION_KEY,
    ]);
    return row ? Number(row.value) : 0;
  }

  /** Every dynamic group (those with a query string), by name. */
  async listDynamic(): Promise<ThingGroupRecord[]> {
    const rows = await this.db.all<GroupRow>(
      'SELECT * FROM thing_groups WHERE query_string IS NOT NULL ORDER BY name',
    );
    return rows.map(rowToGroup);
  }

  /**
   * Sets whether a thing is a member of a dynamic group, bypassing the static-only guard of
   * `addThing`, and reindexes the thing. Does nothing when the group or the thing is gone.
   * Returns whether membership changed.
   */
  async setDynamicMembership(groupName: string, thingName: string, member: boolean): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const group = await tx.get('SELECT 1 AS one FROM thing_groups WHERE name = ?', [groupName]);
      const thing = await tx.get('SELECT 1 AS one FROM things WHERE thing_name = ?', [thingName]);
      if (!group || !thing) return false;
      const current = await tx.get(
        'SELECT 1 AS one FROM thing_group_members WHERE group_name = ? AND thing_name = ?',
        [groupName, thingName],
      );
      if (Boolean(current) === member) return false;
      if (member)
        await tx.run('INSERT INTO thing_group_members (group_name, thing_name) VALUES (?, ?)', [
          groupName,
          thingName,
        ]);
      else
        await tx.run('DELETE FROM thing_group_members WHERE group_name = ? AND thing_name = ?', [
          groupName,
          thingName,
        ]);
      await reindexThing(tx, thingName);
      return true;
    });
  }
}
