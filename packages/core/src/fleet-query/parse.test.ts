import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OtterError } from '../errors.js';
import {
  and,
  anyChar,
  anyChars,
  bound,
  compare,
  exists,
  literal,
  not,
  or,
  range,
  term,
  wildcardTerm,
} from './ast.js';
import { parseFleetQuery } from './parse.js';

const parses = (text: string, expected: unknown): void =>
  assert.deepEqual(parseFleetQuery(text), expected, text);

describe('parseFleetQuery: syntax', () => {
  it('reads field:value terms, with any field name', () => {
    parses('thingName:abc', term('thingName', 'abc'));
    parses('attributes.firmware:1.2.0', term('attributes.firmware', '1.2.0'));
    parses(
      'shadow.name.$package.reported.samplePackage.version:2.1.5',
      term('shadow.name.$package.reported.samplePackage.version', '2.1.5'),
    );
    parses('connectivity.connected:true', term('connectivity.connected', 'true'));
    parses('attributes.x: 5', term('attributes.x', '5'));
  });

  it('reads a bare term as a thingName term', () => {
    parses('abc', term('thingName', 'abc'));
    parses('abc*', wildcardTerm('thingName', [literal('abc'), anyChars()]));
    parses('"a b"', term('thingName', 'a b'));
  });

  it('reads quoted values literally, with backslash escapes', () => {
    parses('attributes.m:"cam 2000"', term('attributes.m', 'cam 2000'));
    parses('attributes.m:"a*b?"', term('attributes.m', 'a*b?'));
    parses('attributes.m:"say \\"hi\\" \\\\"', term('attributes.m', 'say "hi" \\'));
    parses('attributes.m:""', term('attributes.m', ''));
  });

  it('reads wildcards, and escaped wildcards as literals', () => {
    parses('thingName:abc*', wildcardTerm('thingName', [literal('abc'), anyChars()]));
    parses('thingName:ab?', wildcardTerm('thingName', [literal('ab'), anyChar()]));
    parses('thingName:*my*', wildcardTerm('thingName', [anyChars(), literal('my'), anyChars()]));
    parses('thingName:a\\*b', term('thingName', 'a*b'));
    parses('thingName:a\\*b*', wildcardTerm('thingName', [literal('a*b'), anyChars()]));
    parses('attributes.mac:aa\\:bb', term('attributes.mac', 'aa:bb'));
    parses('attributes.x:a\\ b', term('attributes.x', 'a b'));
  });

  it('reads field:* (and **) as exists', () => {
    parses('attributes.x:*', exists('attributes.x'));
    parses('attributes.x:**', exists('attributes.x'));
  });

  it('reads ranges with inclusive, exclusive, mixed and open bounds', () => {
    parses('a.b:[75 TO 80]', range('a.b', bound(75, true), bound(80, true)));
    parses('a.b:{75 TO 80}', range('a.b', bound(75, false), bound(80, false)));
    parses('a.b:{75 TO 80]', range('a.b', bound(75, false), bound(80, true)));
    parses('a.b:[75 TO 80}', range('a.b', bound(75, true), bound(80, false)));
    parses('a.b:[* TO 80]', range('a.b', null, bound(80, true)));
    parses('a.b:[-1.5e3 TO *}', range('a.b', bound(-1500, true), null));
    parses('a.b:[* TO *]', exists('a.b'));
    parses('a.b:[ "abcd" TO "abcf" ]', range('a.b', bound('abcd', true), bound('abcf', true)));
    parses('a.b:[abcd TO abcf]', range('a.b', bound('abcd', true), bound('abcf', true)));
    parses('a.b:["5" TO 7]', range('a.b', bound('5', true), bound(7, true)));
  });

  it('reads comparisons', () => {
    parses('attributes.x>5', compare('attributes.x', '>', 5));
    parses('attributes.x>=5', compare('attributes.x', '>=', 5));
    parses('attributes.x<-3', compare('attributes.x', '<', -3));
    parses('attributes.x<= 3', compare('attributes.x', '<=', 3));
    parses('attributes.x>"5"', compare('attributes.x', '>', '5'));
    parses('attributes.x>abc', compare('attributes.x', '>', 'abc'));
  });

  it('reads AND, OR, NOT and - with NOT > AND > OR', () => {
    const [a, b, c] = [term('f', 'a'), term('f', 'b'), term('f', 'c')];
    parses('f:a AND f:b', and([a, b]));
    parses('f:a OR f:b', or([a, b]));
    parses('NOT f:a', not(a));
    parses('-f:a', not(a));
    parses('f:a OR f:b AND f:c', or([a, and([b, c])]));
    parses('f:a AND f:b OR f:c', or([and([a, b]), c]));
    parses('NOT f:a AND f:b', and([not(a), b]));
    parses('NOT NOT f:a', not(not(a)));
    parses('f:a AND f:b AND f:c', and([a, b, c]));
  });

  it('reads juxtaposition as AND (so `a NOT b` is `a AND NOT b`)', () => {
    const [a, b, c] = [term('f', 'a'), term('f', 'b'), term('f', 'c')];
    parses('f:a f:b', and([a, b]));
    parses('f:a NOT f:b', and([a, not(b)]));
    parses('f:a f:b OR f:c', or([and([a, b]), c]));
    parses(
      'attributes.attr1:abc AND attributes.attr2<5 NOT attributes.attr3>10',
      and([
        term('attributes.attr1', 'abc'),
        compare('attributes.attr2', '<', 5),
        not(compare('attributes.attr3', '>', 10)),
      ]),
    );
  });

  it('reads parentheses and field groups', () => {
    const [a, b, c] = [term('f', 'a'), term('f', 'b'), term('f', 'c')];
    parses('(f:a OR f:b) AND f:c', and([or([a, b]), c]));
    parses('f:a AND (f:b OR (f:c))', and([a, or([b, c])]));
    parses('NOT(f:a OR f:b)', not(or([a, b])));
    parses('f:(a OR b)', or([a, b]));
    parses('f:(a b)', and([a, b]));
    parses(
      'thingName:(tv* AND -plasma)',
      and([wildcardTerm('thingName', [literal('tv'), anyChars()]), not(term('thingName', 'plasma'))]),
    );
    parses('f:([1 TO 2] OR "x y")', or([range('f', bound(1, true), bound(2, true)), term('f', 'x y')]));
  });

  it('keeps keywords case-sensitive and whole-word', () => {
    parses('f:a and f:b', and([term('f', 'a'), term('thingName', 'and'), term('f', 'b')]));
    parses('ANDROID', term('thingName', 'ANDROID'));
    parses('f:AND', term('f', 'AND'));
    parses('AND:x', term('AND', 'x'));
    parses('\\-x:y', term('-x', 'y'));
  });

  it('accepts up to 1000 characters and 50 terms', () => {
    const fifty = Array.from({ length: 50 }, (_, i) => `f:${i}`).join(' OR ');
    assert.equal(parseFleetQuery(fifty).kind, 'or');
    assert.equal(parseFleetQuery(`f:${'x'.repeat(998)}`).kind, 'term');
  });
});

/** Asserts an InvalidQueryException whose message matches `pattern`. */
function rejects(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseFleetQuery(text),
    (err: unknown) => {
      assert.ok(err instanceof OtterError, `${text}: not an OtterError`);
      assert.equal(err.type, 'InvalidQueryException');
      assert.match(err.message, pattern, text);
      return true;
    },
  );
}

describe('parseFleetQuery: errors say what and where', () => {
  it('rejects empty queries', () => {
    rejects('', /empty/);
    rejects('   ', /empty/);
  });
  it('rejects queries that are too long', () => {
    rejects(`f:${'x'.repeat(999)}`, /1001 characters long; at most 1000/);
  });
  it('rejects more than 50 terms, saying where the 51st starts', () => {
    const query = Array.from({ length: 51 }, () => 'f:x').join(' ');
    rejects(query, /more than 50 terms \(term 51 starts at character 201\)/);
    rejects(`f:(${Array.from({ length: 51 }, () => 'x').join(' ')})`, /more than 50 terms/);
  });
  it('rejects missing operands', () => {
    rejects('f:a AND', /expected a term after AND at character 8, found the end/);
    rejects('f:a OR ', /expected a term after OR at character 8/);
    rejects('NOT', /expected a term after NOT at character 4/);
    rejects('(f:a AND)', /expected a term after AND at character 9, found '\)'/);
    rejects('AND f:a', /unexpected AND at character 1/);
    rejects('f:a OR OR f:b', /unexpected OR at character 8/);
  });
  it('rejects missing values', () => {
    rejects('thingName:', /expected a value after 'thingName:' at character 11, found the end/);
    rejects('thingName: )', /expected a value after 'thingName:' at character 12, found '\)'/);
    rejects('attributes.x>', /expected a value after '>' at character 14/);
    rejects('attributes.x>=)', /expected a value after '>=' at character 15, found '\)'/);
    rejects(':abc', /expected a field name before the ':' at character 1/);
  });
  it('rejects unbalanced parentheses', () => {
    rejects('(f:a', /missing '\)' at the end to close the '\(' at character 1/);
    rejects('f:(a OR b', /missing '\)' at the end to close the '\(' at character 3/);
    rejects('f:a)', /unexpected '\)' at character 4: no '\(' to close/);
    rejects(')', /expected a term at character 1, found '\)'/);
  });
  it('rejects malformed ranges', () => {
    rejects('f:[1 5]', /expected 'TO' at character 6 in the range starting at character 3/);
    rejects('f:[1 TO 5', /expected '\]' or '\}' at character 10 to close the range at character 3/);
    rejects('f:[1 TO 5)', /expected '\]' or '\}' at character 10/);
    rejects('f:[TO 5]', /expected 'TO' at character 7/);
    rejects('f:[ TO 5]', /expected 'TO' at character 8/);
    rejects('f:[1 TO ]', /expected a value in the range at character 9, found '\]'/);
    rejects('f:[a* TO b]', /wildcards are not allowed in the range \(character 5\)/);
  });
  it('rejects wildcards where they mean nothing', () => {
    rejects('f>a*', /wildcards are not allowed after '>' \(character 4\)/);
    rejects('attr*:x', /wildcards are not allowed in field names \(character 5\)/);
    rejects('a\\:b*c:x', /wildcards are not allowed in field names \(character 5\)/);
  });
  it('rejects stray brackets and bad escapes', () => {
    rejects('f:a ]', /expected a term at character 5, found '\]'/);
    rejects('f:abc\\', /'\\' at character 6 escapes nothing/);
    rejects('f:"abc', /unterminated quoted string starting at character 3/);
    rejects('f:a:b', /expected a field name before the ':' at character 4/);
  });
});
