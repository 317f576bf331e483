/**
 * Differential test: the fleet query SQL compiled for SQLite must return exactly the things the
 * in-memory matcher returns, for the shared fixtures and for random queries over them.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
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
import Database from 'better-sqlite3';
import fc from 'fast-check';

const db = new Database(':memory:');
after(() => db.close());
db.exec(`
  CREATE TABLE things (thing_name TEXT PRIMARY KEY);
  CREATE TABLE thing_index (
    thing_name TEXT NOT NULL, field TEXT NOT NULL, value_text TEXT NULL, value_num REAL NULL
  );
  CREATE INDEX thing_index_text ON thing_index (field, value_text, thing_name);
  CREATE INDEX thing_index_num ON thing_index (field, value_num, thing_name);
  CREATE INDEX thing_index_thing ON thing_index (thing_name);
`);

const indexed = fleetQueryFixtures.things.map((thing) => ({
  name: thing.thingName,
  fields: indexFields(thing),
}));
const insertThing = db.prepare('INSERT INTO things (thing_name) VALUES (?)');
const insertRow = db.prepare(
  'INSERT INTO thing_index (thing_name, field, value_text, value_num) VALUES (?, ?, ?, ?)',
);
db.transaction(() => {
  for (const { name, fields } of indexed) {
    insertThing.run(name);
    for (const row of fields) insertRow.run(name, row.field, row.text, row.num);
  }
})();

function viaSql(node: FleetQueryNode): string[] {
  const { where, params } = compileFleetQuery(node, sqliteDialect);
  const rows = db.prepare(`SELECT t.thing_name AS name FROM things t WHERE ${where}`).all(...params) as {
    name: string;
  }[];
  return rows.map((r) => r.name).sort();
}

function viaMatcher(node: FleetQueryNode): string[] {
  return indexed
    .filter((t) => matchesFleetQuery(node, t.fields))
    .map((t) => t.name)
    .sort();
}

describe('fleet queries on SQLite agree with the matcher', () => {
  for (const { query, expected } of fleetQueryFixtures.queries) {
    it(query, () => {
      const node = parseFleetQuery(query);
      assert.deepEqual(viaSql(node), expected);
      assert.deepEqual(viaMatcher(node), expected);
    });
  }

  it('lets the (field, value) indexes drive leaves', () => {
    const plan = (query: string): string => {
      const { where, params } = compileFleetQuery(parseFleetQuery(query), sqliteDialect);
      const rows = db
        .prepare(`EXPLAIN QUERY PLAN SELECT t.thing_name FROM things t WHERE ${where}`)
        .all(...params);
      return (rows as { detail: string }[]).map((r) => r.detail).join('\n');
    };
    assert.match(plan('attributes.battery>50'), /USING COVERING INDEX thing_index_num/);
    assert.match(plan('thingGroupNames:plant-1'), /USING COVERING INDEX thing_index_text/);
  });

  it('agrees on random queries over the fixture data', () => {
    fc.assert(
      fc.property(queryArbitrary(indexed.flatMap((t) => t.fields)), (node) => {
        assert.deepEqual(viaSql(node), viaMatcher(node), printFleetQuery(node));
      }),
      { numRuns: 1000 },
    );
  });
});

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
