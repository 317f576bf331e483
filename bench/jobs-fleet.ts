/**
 * Bulk loading for the jobs benchmarks: N things generated inside the database (a recursive CTE on
 * SQLite, generate_series on PostgreSQL, one statement each), the thing group `sample` holding
 * `sampleSize` things spread over the whole name range, and optionally the group `all` holding every
 * thing (the rollout fan-out target). Rows are exactly what the registry stores for a thing with two
 * attributes; `thing_index` (fleet search) rows are not written: no jobs path reads them.
 */
import type { SqlDatabase, SqlExecutor } from '../packages/server/src/store/index.js';

export const thingName = (i: number): string => `thing-${String(i).padStart(7, '0')}`;

/** `size` distinct indexes in [0, n), scattered over the range (a prime stride modulo n). */
export function sampleIndexes(n: number, size: number): number[] {
  const stride = 982_451_653; // prime: distinct residues for every n it does not divide
  const out: number[] = [];
  for (let k = 0; k < Math.min(size, n); k++) out.push((k * stride) % n);
  return out;
}

async function createGroup(tx: SqlExecutor, name: string, now: number): Promise<void> {
  await tx.run(
    `INSERT INTO thing_groups (name, id, parent_name, description, attributes, version, created_at)
     VALUES (?, ?, NULL, NULL, '{}', 1, ?)`,
    [name, `group-${name}`, now],
  );
}

/** Loads the fleet into a migrated, empty database; returns the sampled thing names. */
export async function loadJobsFleet(
  db: SqlDatabase,
  opts: { things: number; sampleSize: number; allGroup: boolean },
): Promise<string[]> {
  const now = Date.now();
  const n = opts.things;
  const sample = sampleIndexes(n, opts.sampleSize).map(thingName);
  await db.transaction(async (tx) => {
    if (tx.kind === 'sqlite') {
      await tx.run(
        `WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
         INSERT INTO things (thing_name, thing_id, thing_type_name, attributes, version, created_at,
           updated_at, connected, connectivity_at, disconnect_reason)
         SELECT printf('thing-%07d', i), printf('%08x-0000-4000-8000-%012x', i, i), NULL,
           printf('{"model":"model-%03d","site":"site-%04d"}', i % 100, i % 1000), 1, ?, ?, 0, NULL, NULL
         FROM seq`,
        [n - 1, now, now],
      );
    } else {
      await tx.run(
        `INSERT INTO things (thing_name, thing_id, thing_type_name, attributes, version, created_at,
           updated_at, connected, connectivity_at, disconnect_reason)
         SELECT 'thing-' || lpad(i::text, 7, '0'), md5(i::text), NULL,
           '{"model":"model-' || lpad((i % 100)::text, 3, '0') || '","site":"site-' || lpad((i % 1000)::text, 4, '0') || '"}',
           1, ?::bigint, ?::bigint, 0, NULL, NULL
         FROM generate_series(0, ?::int) AS i`,
        [now, now, n - 1],
      );
    }
    await createGroup(tx, 'sample', now);
    for (let start = 0; start < sample.length; start += 500) {
      const part = sample.slice(start, start + 500);
      await tx.run(
        `INSERT INTO thing_group_members (group_name, thing_name) VALUES ${part.map(() => "('sample', ?)").join(',')}`,
        part,
      );
    }
    if (opts.allGroup) {
      await createGroup(tx, 'all', now);
      await tx.run(
        `INSERT INTO thing_group_members (group_name, thing_name) SELECT 'all', thing_name FROM things`,
      );
    }
  });
  if (db.kind === 'postgres') await db.run('ANALYZE');
  return sample;
}
