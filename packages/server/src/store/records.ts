import { alreadyExists, invalidRequest } from '@otter/core';
import { type SqlExecutor, UniqueViolation } from './sql/sql-database.js';

/** Timestamps are epoch milliseconds throughout the store. */
export interface ThingRecord {
  thingName: string;
  thingId: string;
  thingTypeName?: string;
  attributes: Record<string, string>;
  version: number;
  createdAt: number;
  updatedAt: number;
  connectivity: Connectivity;
}

export interface Connectivity {
  connected: boolean;
  /** When the last connect or disconnect happened; absent when never connected. */
  timestamp?: number;
  disconnectReason?: string;
}

export interface ThingTypeRecord {
  thingTypeName: string;
  thingTypeId: string;
  description?: string;
  searchableAttributes: string[];
  deprecated: boolean;
  deprecatedAt?: number;
  createdAt: number;
}

export interface ThingGroupRecord {
  thingGroupName: string;
  thingGroupId: string;
  parentGroupName?: string;
  description?: string;
  attributes: Record<string, string>;
  version: number;
  createdAt: number;
  /** Dynamic groups only. */
  queryString?: string;
  queryVersion?: string;
  indexName?: string;
}

export interface Page<T> {
  items: T[];
  /** The last item's key, to pass as `after` for the next page; absent on the last page. */
  nextToken?: string;
}

export interface PageRequest {
  /** Exclusive lower bound on the sort key (a name). */
  after?: string | undefined;
  limit: number;
}

/** Fetch `limit + 1` rows, then call this to cut the page and compute the token. */
export function toPage<T>(rows: T[], limit: number, key: (item: T) => string): Page<T> {
  if (rows.length <= limit) return { items: rows };
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return last === undefined ? { items } : { items, nextToken: key(last) };
}

/**
 * One page of a certificate table (`certificates`, `ca_certificates`) ordered by creation time, ties
 * by id: newest first unless `ascending`; `where` is an optional `[column, value]` equality filter.
 * The marker (`nextToken`) is `<createdAt>:<certificateId>` of the page's last row.
 */
export async function pageByCreation<Row, T extends { createdAt: number; certificateId: string }>(
  db: SqlExecutor,
  table: 'certificates' | 'ca_certificates',
  where: readonly [column: string, value: unknown] | undefined,
  request: { ascending?: boolean | undefined; after?: string | undefined; limit: number },
  toRecord: (row: Row) => T,
): Promise<Page<T>> {
  const [op, dir] = request.ascending ? ['>', 'ASC'] : ['<', 'DESC'];
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (where !== undefined) {
    conditions.push(`${where[0]} = ?`);
    params.push(where[1]);
  }
  if (request.after !== undefined) {
    const m = /^(\d+):([0-9a-f]{64})$/.exec(request.after);
    if (!m) throw invalidRequest('The marker is not valid');
    conditions.push(`(created_at ${op} ? OR (created_at = ? AND certificate_id ${op} ?))`);
    params.push(Number(m[1]), Number(m[1]), m[2]);
  }
  params.push(request.limit + 1);
  const clause = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
  const rows = await db.all<Row>(
    `SELECT * FROM ${table} ${clause} ORDER BY created_at ${dir}, certificate_id ${dir} LIMIT ?`,
    params,
  );
  return toPage(rows.map(toRecord), request.limit, (c) => `${c.createdAt}:${c.certificateId}`);
}

/**
 * Reads a certificate row (`certificates`, `ca_certificates`) and takes its row lock for the rest of
 * the transaction: a no-op UPDATE locks on both databases (SQLite's writer lock, PostgreSQL's row lock).
 */
export async function lockCertificateRow<Row>(
  tx: SqlExecutor,
  table: 'certificates' | 'ca_certificates',
  certificateId: string,
): Promise<Row | undefined> {
  const id = certificateId.toLowerCase();
  const { changes } = await tx.run(
    `UPDATE ${table} SET certificate_id = certificate_id WHERE certificate_id = ?`,
    [id],
  );
  return changes === 0 ? undefined : tx.get<Row>(`SELECT * FROM ${table} WHERE certificate_id = ?`, [id]);
}

/** Runs `fn`, turning a unique-constraint violation into ResourceAlreadyExistsException. */
export async function uniqueAsAlreadyExists<T>(message: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof UniqueViolation) throw alreadyExists(message);
    throw error;
  }
}

export function parseJson<T>(text: string): T {
  return JSON.parse(text) as T;
}

export function sameRecord(
  a: Readonly<Record<string, string>>,
  b: Readonly<Record<string, string>>,
): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
}

/** AWS attribute payload: `merge` merges (an empty value removes the key), otherwise replaces. */
export function applyAttributes(
  current: Readonly<Record<string, string>>,
  payload: { attributes?: Record<string, string>; merge?: boolean },
): Record<string, string> {
  const incoming = payload.attributes ?? {};
  if (!payload.merge) return { ...incoming };
  const next: Record<string, string> = { ...current };
  for (const [key, value] of Object.entries(incoming)) {
    if (value === '') delete next[key];
    else next[key] = value;
  }
  return next;
}

export interface ThingRow {
  thing_name: string;
  thing_id: string;
  thing_type_name: string | null;
  attributes: string;
  version: number;
  created_at: number;
  updated_at: number;
  connected: number;
  connectivity_at: number | null;
  disconnect_reason: string | null;
}

export function rowToThing(row: ThingRow): ThingRecord {
  return {
    thingName: row.thing_name,
    thingId: row.thing_id,
    ...(row.thing_type_name === null ? {} : { thingTypeName: row.thing_type_name }),
    attributes: parseJson<Record<string, string>>(row.attributes),
    version: Number(row.version),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    connectivity: {
      connected: row.connected === 1,
      ...(row.connectivity_at === null ? {} : { timestamp: Number(row.connectivity_at) }),
      ...(row.disconnect_reason === null ? {} : { disconnectReason: row.disconnect_reason }),
    },
  };
}

export interface PackageRecord {
  packageName: string;
  description?: string;
  defaultVersionName?: string;
  createdAt: number;
  updatedAt: number;
}

export type PackageVersionStatus = 'DRAFT' | 'PUBLISHED' | 'DEPRECATED';

export interface PackageVersionRecord {
  packageName: string;
  versionName: string;
  description?: string;
  attributes: Record<string, string>;
  status: PackageVersionStatus;
  errorReason?: string;
  createdAt: number;
  updatedAt: number;
}
