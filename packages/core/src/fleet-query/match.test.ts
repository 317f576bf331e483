import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fleetQueryFixtures } from './fixtures.js';
import { indexFields } from './index-fields.js';
import { compareCodePoints, matchesFleetQuery } from './match.js';
import { parseFleetQuery } from './parse.js';

const indexed = fleetQueryFixtures.things.map((thing) => ({
  name: thing.thingName,
  fields: indexFields(thing),
}));

function search(query: string): string[] {
  const node = parseFleetQuery(query);
  return indexed
    .filter((t) => matchesFleetQuery(node, t.fields))
    .map((t) => t.name)
    .sort();
}

describe('matchesFleetQuery over the shared fixtures', () => {
  it('has enough fixtures to be worth sharing', () => {
    assert.ok(fleetQueryFixtures.things.length >= 30);
    assert.ok(fleetQueryFixtures.queries.length >= 40);
    const names = fleetQueryFixtures.things.map((t) => t.thingName);
    assert.equal(new Set(names).size, names.length, 'thing names are unique');
    for (const { query, expected } of fleetQueryFixtures.queries) {
      for (const name of expected) assert.ok(names.includes(name), `${query}: unknown thing ${name}`);
    }
  });

  for (const { query, expected } of fleetQueryFixtures.queries) {
    it(query, () => {
      assert.deepEqual(search(query), expected);
    });
  }
});

describe('matchesFleetQuery semantics', () => {
  const fields = indexFields({
    thingName: 'dev',
    thingId: 'id',
    thingGroupNames: [],
    attributes: { n: '10', s: 'abc' },
    namedShadows: {},
  });
  const matches = (query: string): boolean => matchesFleetQuery(parseFleetQuery(query), fields);

  it('treats NOT of an absent field as true and any leaf on it as false', () => {
    assert.equal(matches('attributes.missing:x'), false);
    assert.equal(matches('attributes.missing:*'), false);
    assert.equal(matches('NOT attributes.missing:x'), true);
    assert.equal(matches('NOT attributes.missing:*'), true);
  });

  it('compares numerically only with numeric bounds, textually only with string bounds', () => {
    assert.equal(matches('attributes.n>9'), true); // 10 > 9
    assert.equal(matches('attributes.n>"9"'), false); // "10" < "9"
    assert.equal(matches('attributes.s>5'), false); // no number: numeric bounds never match
    assert.equal(matches('attributes.s>"5"'), true);
    assert.equal(matches('attributes.n:[5 TO "1"]'), false); // 10 >= 5 but "10" > "1"
    assert.equal(matches('attributes.n:[5 TO "2"}'), true); // 10 >= 5 and "10" < "2"
    assert.equal(matches('attributes.n:[5 TO "9"]'), true);
  });

  it('matches exact values by text, case-sensitively', () => {
    assert.equal(matches('attributes.n:10'), true);
    assert.equal(matches('attributes.n:10.0'), false);
    assert.equal(matches('attributes.s:ABC'), false);
    assert.equal(matches('thingName:DEV'), false);
  });

  it('lets ? match one code point and * match newlines', () => {
    const f = indexFields({
      thingName: '🙂\nx',
      thingId: 'i',
      thingGroupNames: [],
      attributes: {},
      namedShadows: {},
    });
    assert.equal(matchesFleetQuery(parseFleetQuery('thingName:?\\\nx'), f), true);
    assert.equal(matchesFleetQuery(parseFleetQuery('thingName:??\\\nx'), f), false);
    assert.equal(matchesFleetQuery(parseFleetQuery('thingName:*x'), f), true);
  });

  it('orders text by code point, as UTF-8 bytes sort', () => {
    const utf8 = (s: string) => Buffer.from(s, 'utf8');
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        assert.equal(Math.sign(compareCodePoints(a, b)), Math.sign(Buffer.compare(utf8(a), utf8(b))));
      }),
    );
    assert.ok(compareCodePoints('\u{1F642}', '\uffe5') > 0);
  });
});
