/**
 * Fleet search benchmark: N things in SQLite (default 1,000,000), one selective attribute query
 * through `RegistryStore.searchThings` vs the same query as hand-written SQL on a separate
 * read-only better-sqlite3 connection to the same file.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { indexFields, parseFleetQuery } from '@otter/core';
import Database from 'better-sqlite3';
import { createDatabase, RegistryStore, type SqlExecutor } from '../packages/server/src/store/index.js';
import { type LatencySummary, summarize } from './stats.js';

export interface FleetSearchResult {
  things: number;
  indexRows: number;
  loadSeconds: number;
  matches: number;
  otter: LatencySummary;
  reference: LatencySummary;
}

const MODELS = 100;
const SITES = 1000;
const THING_BATCH = 500; // 10 columns -> 5,000 parameters per INSERT
const INDEX_BATCH = 1000; // 4 columns -> 4,000 parameters per INSERT
const QUERY = 'attributes.site:site-0042';
const REFERENCE_SQL = `SELECT t.* FROM things t JOIN thing_index i ON i.thing_name = t.thing_name
  WHERE i.field='attributes.site' AND i.value_text='site-0042' ORDER BY t.thing_name LIMIT 101`;

const thingName = (i: number): string => `thing-${String(i).padStart(7, '0')}`;

/** Inserts `rows` (arrays of column values) with multi-row INSERTs of at most `batch` rows. */
async function insertRows(
  tx: SqlExecutor,
  table: string,
  columns: readonly string[],
  rows: unknown[][],
  batch: number,
): Promise<void> {
  const tuple = `(${columns.map(() => '?').join(',')})`;
  for (let start = 0; start < rows.length; start += batch) {
    const chunk = rows.slice(start, start + batch);
    const sql = `INSERT INTO ${table} (${columns.join(',')}) VALUES ${chunk.map(() => tuple).join(',')}`;
    await tx.run(sql, chunk.flat());
  }
}

/**
 * Loads `count` things and their `thing_index` rows (exactly what core's `indexFields` yields for
 * a thing with attributes {model, site}, no type, groups or shadows, disconnected) in one
 * transaction. Secondary indexes are dropped first and recreated from their own DDL afterwards,
 * which is much faster than maintaining them row by row; the final schema is unchanged.
 */
async function load(tx: SqlExecutor, count: number): Promise<number> {
  const indexes = await tx.all<{ name: string; sql: string }>(
    `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL
     AND tbl_name IN ('things', 'thing_index')`,
  );
  for (const ix of indexes) await tx.run(`DROP INDEX ${ix.name}`);

  const now = Date.now();
  let indexRows = 0;
  const CHUNK = 50_000; // build rows in chunks to bound memory
  for (let base = 0; base < count; base += CHUNK) {
    const things: unknown[][] = [];
    const index: unknown[][] = [];
    for (let i = base; i < Math.min(count, base + CHUNK); i++) {
      const name = thingName(i);
      const id = randomUUID();
      const attributes = {
        model: `model-${String(i % MODELS).padStart(3, '0')}`,
        site: `site-${String(i % SITES).padStart(4, '0')}`,
      };
      things.push([name, id, null, JSON.stringify(attributes), 1, now, now, 0, null, null]);
      const fields = indexFields({
        thingName: name,
        thingId: id,
        thingGroupNames: [],
        attributes,
        namedShadows: {},
        connectivity: { connected: false },
      });
      for (const f of fields) index.push([name, f.field, f.text, f.num]);
    }
    await insertRows(
      tx,
      'things',
      [
        'thing_name',
        'thing_id',
        'thing_type_name',
        'attributes',
        'version',
        'created_at',
        'updated_at',
        'connected',
        'connectivity_at',
        'disconnect_reason',
      ],
      things,
      THING_BATCH,
    );
    await insertRows(
      tx,
      'thing_index',
      ['thing_name', 'field', 'value_text', 'value_num'],
      index,
      INDEX_BATCH,
    );
    indexRows += index.length;
  }
  for (const ix of indexes) await tx.run(ix.sql);
  return indexRows;
}

export async function runFleetSearch(opts: {
  workDir: string;
  things: number;
  iterations: number;
  warmup: number;
  log: (line: string) => void;
}): Promise<FleetSearchResult> {
  const dataDir = join(opts.workDir, 'fleet');
  rmSync(dataDir, { recursive: true, force: true });
  const db = await createDatabase(undefined, dataDir);
  try {
    const store = new RegistryStore(db);
    opts.log(`fleet: loading ${opts.things.toLocaleString('en-US')} things ...`);
    const t0 = performance.now();
    const indexRows = await db.transaction((tx) => load(tx, opts.things));
    const loadSeconds = (performance.now() - t0) / 1000;
    opts.log(
      `fleet: loaded ${opts.things.toLocaleString('en-US')} things, ${indexRows.toLocaleString('en-US')} index rows in ${loadSeconds.toFixed(1)} s`,
    );

    const ref = new Database(join(dataDir, 'otter.db'), { readonly: true });
    try {
      const refStmt = ref.prepare(REFERENCE_SQL);
      const query = parseFleetQuery(QUERY);

      // Sanity: both return the same first page.
      const page = await store.searchThings(query, { limit: 100 });
      const refRows = refStmt.all() as { thing_name: string }[];
      const otterNames = page.items.map((t) => t.thingName).join(',');
      const refNames = refRows
        .slice(0, 100)
        .map((r) => r.thing_name)
        .join(',');
      if (otterNames !== refNames) throw new Error('fleet: Otter and reference returned different things');
      const matches = Math.floor(opts.things / SITES) + (opts.things % SITES > 42 ? 1 : 0);

      for (let i = 0; i < opts.warmup; i++) {
        await store.searchThings(query, { limit: 100 });
        refStmt.all();
      }
      // Interleave the two so drift (page cache, CPU frequency) hits both alike.
      const otter: number[] = [];
      const reference: number[] = [];
      for (let i = 0; i < opts.iterations; i++) {
        let s = performance.now();
        await store.searchThings(parseFleetQuery(QUERY), { limit: 100 });
        otter.push(performance.now() - s);
        s = performance.now();
        refStmt.all();
        reference.push(performance.now() - s);
      }
      return {
        things: opts.things,
        indexRows,
        loadSeconds,
        matches,
        otter: summarize(otter),
        reference: summarize(reference),
      };
    } finally {
      ref.close();
    }
  } finally {
    await db.close();
  }
}
