import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { anyChar, anyChars, literal, wildcardTerm } from './ast.js';
import { parseFleetQuery } from './parse.js';
import { compileFleetQuery, postgresDialect, sqliteDialect } from './sql.js';

const leaf = (condition: string) =>
  `t.thing_name IN (SELECT i.thing_name FROM thing_index i WHERE i.field = ?${condition})`;

/** `a*b?c[%_\` taken literally, then `*` and `?` as wildcards. */
const pattern = wildcardTerm('f', [literal('a*b?c[%_\\'), anyChars(), anyChar()]);

describe('compileFleetQuery', () => {
  it('compiles every leaf to an indexed IN subquery', () => {
    const cases: [string, string, unknown[]][] = [
      ['thingName:abc', leaf(' AND i.value_text = ?'), ['thingName', 'abc']],
      ['attributes.x:*', leaf(''), ['attributes.x']],
      ['attributes.x>5', leaf(' AND i.value_num > ?'), ['attributes.x', 5]],
      ['attributes.x<="5"', leaf(' AND i.value_text <= ?'), ['attributes.x', '5']],
      [
        'attributes.x:{1 TO "z"]',
        leaf(' AND i.value_num > ? AND i.value_text <= ?'),
        ['attributes.x', 1, 'z'],
      ],
      ['attributes.x:[* TO 9}', leaf(' AND i.value_num < ?'), ['attributes.x', 9]],
    ];
    for (const [query, where, params] of cases) {
      assert.deepEqual(compileFleetQuery(parseFleetQuery(query), sqliteDialect), { where, params }, query);
    }
  });

  it('compiles AND, OR and NOT structurally', () => {
    const { where, params } = compileFleetQuery(parseFleetQuery('f:a AND (f:b OR NOT f:c)'), sqliteDialect);
    const l = leaf(' AND i.value_text = ?');
    assert.equal(where, `(${l} AND (${l} OR NOT (${l})))`);
    assert.deepEqual(params, ['f', 'a', 'f', 'b', 'f', 'c']);
  });

  it('escapes wildcard patterns for GLOB in SQLite', () => {
    const { where, params } = compileFleetQuery(pattern, sqliteDialect);
    assert.equal(where, leaf(' AND i.value_text GLOB ?'));
    assert.deepEqual(params, ['f', 'a[*]b[?]c[[]%_\\*?']);
  });

  it('escapes wildcard patterns for LIKE in PostgreSQL and numbers placeholders', () => {
    const { where, params } = compileFleetQuery(pattern, postgresDialect);
    assert.equal(
      where,
      "t.thing_name IN (SELECT i.thing_name FROM thing_index i WHERE i.field = $1 AND i.value_text LIKE $2 ESCAPE '\\')",
    );
    assert.deepEqual(params, ['f', 'a*b?c[\\%\\_\\\\%_']);
  });

  it('numbers PostgreSQL placeholders in textual order from a start offset', () => {
    const { where, params } = compileFleetQuery(parseFleetQuery('f:[1 TO "z"] OR g>"a"'), postgresDialect, {
      paramOffset: 2,
    });
    assert.equal(
      where,
      '(t.thing_name IN (SELECT i.thing_name FROM thing_index i WHERE i.field = $3 AND i.value_num >= $4' +
        ' AND i.value_text COLLATE "C" <= $5) OR ' +
        't.thing_name IN (SELECT i.thing_name FROM thing_index i WHERE i.field = $6 AND i.value_text COLLATE "C" > $7))',
    );
    assert.deepEqual(params, ['f', 1, 'z', 'g', 'a']);
  });
});
