/**
 * Differential test: the fleet query SQL the real store runs (real schema, `RegistryStore.searchThings`,
 * the dialect of each backend) must return exactly the things the in-memory matcher returns, for
 * the shared fixtures and for random queries over them, on SQLite and on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  and,
  anyChar,
  anyChars,
  bound,
  COMPARE_OPS,
  compare,
  compileFleetQuery,
  exists,
  type FleetQueryNode,
  fleetQueryFixtures,
  type IndexField,
  indexFields,
  literal,
  matchesFleetQuery,
  not,
  or,
  parseFleetQuery,
  printFleetQuery,
  range,
  sqliteDialect,
  term,
  wildcardTerm,
} from '@otter/core';
import fc from 'fast-check';
import { freshPostgresDatabase } from '../testing/test-server.js';
import { createDatabase, RegistryStore, type SqlDatabase } from './index.js';

const TEST_DATABASE_URL = process.env.OTTER_TEST_DATABASE_URL;

const indexed = fleetQueryFixtures.things.map((thing) => ({
  thing,
  name: thing.thingName,
  fields: indexFields(thing),
}));

function viaMatcher(node: FleetQueryNode): string[] {
  return indexed
    .filter((t) => matchesFleetQuery(node, t.fields))
    .map((t) => t.name)
    .sort();
}

/** Writes the fixture things and their index rows straight into the real tables. */
async function loadFixtures(db: SqlDatabase): Promise<void> {
  await db.transaction(async (tx) => {
    for (const { thing, name, fields } of indexed) {
      await tx.run(
        `INSERT INTO things (thing_name, thing_id, thing_type_name, attributes, version, created_at,
           updated_at, connected, connectivity_at, disconnect_reason)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          name,
          thing.thingId,
          thing.thingTypeName ?? null,
          JSON.stringify(thing.attributes),
          1,
          0,
          0,
          thing.connectivity?.connected ? 1 : 0,
          thing.connectivity?.timestamp ?? null,
          thing.connectivity?.disconnectReason ?? null,
        ],
      );
      for (const row of fields) {
        await tx.run(
          'INSERT INTO thing_index (thing_name, field, value_text, value_num) VALUES (?, ?, ?, ?)',
          [name, row.field, row.text, row.num],
        );
      }
    }
  });
}

interface Backend {
  name: string;
  skip: string | false;
  /** Property runs (1000 take about 1 s on a local PostgreSQL; keep its run well under 20 s). */
  numRuns: number;
  open(dataDir: string): Promise<{ db: SqlDatabase; cleanup(): Promise<void> }>;
}

const BACKENDS: Backend[] = [
  {
    name: 'SQLite',
    skip: false,
    numRuns: 1000,
    async open(dataDir) {
      const db = await createDatabase(undefined, dataDir);
      return { db, cleanup: () => db.close() };
    },
  },
  {
    name: 'PostgreSQL',
    skip: TEST_DATABASE_URL ? false : 'skipped: OTTER_TEST_DATABASE_URL is not set',
    numRuns: 1000,
    async open(dataDir) {
      const fresh = await freshPostgresDatabase(TEST_DATABASE_URL!);
      const db = await createDatabase(fresh.url, dataDir).catch(async (error: unknown) => {
        await fresh.drop();
        throw error;
      });
      return {
        db,
        cleanup: async () => {
          await db.close();
          await fresh.drop();
        },
      };
    },
  },
];

for (const backend of BACKENDS) {
  describe(`fleet queries on ${backend.name} agree with the matcher`, { skip: backend.skip }, () => {
    let dataDir = '';
    let db: SqlDatabase;
    let store: RegistryStore;
    let cleanup = async (): Promise<void> => {};

    before(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'otter-fleet-query-'));
      ({ db, cleanup } = await backend.open(dataDir));
      store = new RegistryStore(db);
      await loadFixtures(db);
    });
    after(async () => {
      await cleanup();
      if (dataDir !== '') rmSync(dataDir, { recursive: true, force: true });
    });

    const viaStore = async (node: FleetQueryNode): Promise<string[]> => {
      const page = await store.searchThings(node, { limit: 1000 });
      assert.equal(page.nextToken, undefined, 'all matches fit on one page');
      return page.items.map((t) => t.thingName).sort();
    };

    for (const { query, expected } of fleetQueryFixtures.queries) {
      it(query, async () => {
        const node = parseFleetQuery(query);
        assert.deepEqual(await viaStore(node), expected);
        assert.deepEqual(viaMatcher(node), expected);
      });
    }

    if (backend.name === 'SQLite') {
      it('lets the (field, value) indexes drive leaves', async () => {
        const plan = async (query: string): Promise<string> => {
          const { where, params } = compileFleetQuery(parseFleetQuery(query), sqliteDialect);
          const rows = await db.all<{ detail: string }>(
            `EXPLAIN QUERY PLAN SELECT t.thing_name FROM things t WHERE ${where}`,
            params,
          );
          return rows.map((r) => r.detail).join('\n');
        };
        assert.match(await plan('attributes.battery>50'), /USING COVERING INDEX thing_index_num/);
        assert.match(await plan('thingGroupNames:plant-1'), /USING COVERING INDEX thing_index_text/);
      });
    }

    it('agrees on random queries over the fixture data', async () => {
      await fc.assert(
        fc.asyncProperty(queryArbitrary(indexed.flatMap((t) => t.fields)), async (node) => {
          assert.deepEqual(await viaStore(node), viaMatcher(node), printFleetQuery(node));
        }),
        { numRuns: backend.numRuns },
      );
    });
  });
}

/** Random queries built from the fields and values the fixtures hold, so that many of them hit. */
function queryArbitrary(rows: readonly IndexField[]): fc.Arbitrary<FleetQueryNode> {
  const fields = [...new Set(rows.map((r) => r.field)), 'attributes.missing'];
  const texts = [...new Set(rows.flatMap((r) => (r.text === null ? [] : [r.text])))];
  const nums = [...new Set(rows.flatMap((r) => (r.num === null ? [] : [r.num])))];
  const row = fc.constantFrom(...rows);
  const field = fc.oneof(
    row.map((r) => r.field),
    fc.constantFrom(...fields),
  );
  const text = fc.oneof(
    fc.constantFrom(...texts),
    fc.constantFrom(...texts).map((s) => s.toUpperCase()),
    fc.string({
      maxLength: 3,
      unit: fc.constantFrom('a', 'G', '1', '-', '%', '_', '*', '[', '\\', 'ü', '🙂'),
    }),
  );
  const num = fc.oneof(
    fc.constantFrom(...nums),
    fc.integer({ min: -200, max: 3000 }),
    fc.double({ noNaN: true }),
  );
  const scalar = fc.oneof(num.filter(Number.isFinite), text);
  /** A pattern cut from a text: a prefix, a wildcard, the rest (maybe minus a character), maybe a leading `*`. */
  const patternFrom = (s: string) =>
    fc.tuple(fc.nat(), fc.nat(), fc.constantFrom(anyChars(), anyChar())).map(([i, j, wild]) => {
      const chars = [...s];
      const cut = i % (chars.length + 1);
      const parts = [
        literal(chars.slice(0, cut).join('')),
        wild,
        literal(chars.slice(cut + (j % 2)).join('')),
      ];
      return j % 3 === 0 ? [anyChars(), ...parts] : parts;
    });
  const near = (r: IndexField): fc.Arbitrary<number | string> =>
    r.num !== null && r.text !== null
      ? fc.oneof(
          fc.constant(r.num),
          fc.integer({ min: -2, max: 2 }).map((d) => r.num! + d),
          fc.constant(r.text),
        )
      : fc.oneof(fc.constant(r.text ?? ''), scalar);
  const boundNear = (r: IndexField) => fc.option(fc.tuple(near(r), fc.boolean()), { nil: null });
  const leaf = fc.oneof(
    row.map((r) => term(r.field, r.text ?? '')),
    fc.tuple(field, text).map(([f, v]) => term(f, v)),
    row.chain((r) => patternFrom(r.text ?? '').map((p) => wildcardTerm(r.field, p))),
    fc.tuple(field, text.chain(patternFrom)).map(([f, p]) => wildcardTerm(f, p)),
    field.map(exists),
    row.chain((r) =>
      fc.tuple(fc.constantFrom(...COMPARE_OPS), near(r)).map(([op, v]) => compare(r.field, op, v)),
    ),
    fc.tuple(field, fc.constantFrom(...COMPARE_OPS), scalar).map(([f, op, v]) => compare(f, op, v)),
    row.chain((r) =>
      fc
        .tuple(boundNear(r), boundNear(r))
        .map(([lo, hi]) => range(r.field, lo && bound(lo[0], lo[1]), hi && bound(hi[0], hi[1]))),
    ),
  );
  return fc.letrec<{ node: FleetQueryNode }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small' },
      leaf,
      tie('node').map(not),
      fc.array(tie('node'), { minLength: 2, maxLength: 3 }).map(and),
      fc.array(tie('node'), { minLength: 2, maxLength: 3 }).map(or),
    ),
  })).node;
}
