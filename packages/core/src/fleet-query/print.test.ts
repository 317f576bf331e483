import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  and,
  anyChar,
  anyChars,
  bound,
  COMPARE_OPS,
  compare,
  type FleetQueryNode,
  forEachLeaf,
  literal,
  not,
  or,
  range,
  term,
  wildcardTerm,
} from './ast.js';
import { FLEET_QUERY_MAX_LENGTH, FLEET_QUERY_MAX_TERMS, parseFleetQuery } from './parse.js';
import { printFleetQuery } from './print.js';

/** Strings full of what the syntax finds special: keywords, escapes, quotes, brackets, spaces. */
const nasty = (minLength: number) =>
  fc.string({
    minLength,
    maxLength: 6,
    unit: fc.oneof(
      fc.constantFrom(...'aZ0-.$_ \t\n\\"*?()[]{}:<>é🙂'),
      fc.constantFrom('AND', 'OR', 'NOT', 'TO', '-'),
    ),
  });
const field = nasty(1);
const number = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }));
const scalar = fc.oneof(number, nasty(0));
const bounded = fc.option(fc.record({ value: scalar, inclusive: fc.boolean() }), { nil: null });
const part = fc.oneof(nasty(0).map(literal), fc.constant(anyChars()), fc.constant(anyChar()));

const leaf: fc.Arbitrary<FleetQueryNode> = fc.oneof(
  fc.tuple(field, nasty(0)).map(([f, v]) => term(f, v)),
  fc.tuple(field, fc.array(part, { maxLength: 5 })).map(([f, p]) => wildcardTerm(f, p)),
  fc
    .tuple(field, bounded, bounded)
    .map(([f, lo, hi]) => range(f, lo && bound(lo.value, lo.inclusive), hi && bound(hi.value, hi.inclusive))),
  fc.tuple(field, fc.constantFrom(...COMPARE_OPS), scalar).map(([f, op, v]) => compare(f, op, v)),
);

const fleetQueryArbitrary: fc.Arbitrary<FleetQueryNode> = fc.letrec<{ node: FleetQueryNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    tie('node').map(not),
    fc.array(tie('node'), { minLength: 2, maxLength: 3 }).map(and),
    fc.array(tie('node'), { minLength: 2, maxLength: 3 }).map(or),
  ),
})).node;

function leafCount(node: FleetQueryNode): number {
  let n = 0;
  forEachLeaf(node, () => {
    n += 1;
  });
  return n;
}

describe('printFleetQuery', () => {
  it('prints canonical text', () => {
    const cases: [string, string][] = [
      ['abc', 'thingName:abc'],
      ['f:a b OR NOT (c:d e:f)', 'f:a AND thingName:b OR NOT (c:d AND e:f)'],
      ['f:(a OR b) g:c', '(f:a OR f:b) AND g:c'],
      ['f:"a b"', 'f:"a b"'],
      ['f:a\\*b* f:\\(x\\)', 'f:a\\*b* AND f:\\(x\\)'],
      ['f:{1 TO abc]', 'f:{1 TO "abc"]'],
      ['f:[* TO 5} f:{"x" TO *]', 'f:[* TO 5} AND f:{"x" TO *]'],
      ['f>=1e3 -f<"z"', 'f>=1000 AND NOT f<"z"'],
      ['f:""', 'f:""'],
      ['f:*', 'f:*'],
      [
        'shadow.name.$package.reported.samplePackage.version:2.1.5',
        'shadow.name.$package.reported.samplePackage.version:2.1.5',
      ],
    ];
    for (const [input, printed] of cases)
      assert.equal(printFleetQuery(parseFleetQuery(input)), printed, input);
  });

  it('escapes field names that would read as negation or keywords', () => {
    assert.equal(printFleetQuery(term('-x', 'y')), '\\-x:y');
    assert.equal(printFleetQuery(term('NOT', 'AND')), 'NOT:AND');
    assert.equal(printFleetQuery(term('a b', 'c d')), 'a\\ b:"c d"');
  });

  it('round-trips: parse(print(ast)) deep-equals ast', () => {
    fc.assert(
      fc.property(fleetQueryArbitrary, (ast) => {
        const text = printFleetQuery(ast);
        fc.pre(text.length <= FLEET_QUERY_MAX_LENGTH && leafCount(ast) <= FLEET_QUERY_MAX_TERMS);
        assert.deepEqual(parseFleetQuery(text), ast, text);
      }),
      { numRuns: 2000 },
    );
  });

  it('is a fixed point on its own output', () => {
    fc.assert(
      fc.property(fleetQueryArbitrary, (ast) => {
        const text = printFleetQuery(ast);
        fc.pre(text.length <= FLEET_QUERY_MAX_LENGTH && leafCount(ast) <= FLEET_QUERY_MAX_TERMS);
        assert.equal(printFleetQuery(parseFleetQuery(text)), text);
      }),
      { numRuns: 500 },
    );
  });
});

describe('AST constructors', () => {
  it('flatten nested junctions and freeze nodes', () => {
    const [a, b, c] = [term('f', 'a'), term('f', 'b'), term('f', 'c')];
    assert.deepEqual(and([a, and([b, c])]), and([a, b, c]));
    assert.equal(or([a]), a);
    assert.ok(Object.isFrozen(and([a, b])));
    assert.throws(() => and([]), RangeError);
    assert.throws(() => term('', 'x'), RangeError);
    assert.throws(() => compare('f', '<', Number.NaN), RangeError);
  });
  it('normalise patterns', () => {
    assert.deepEqual(wildcardTerm('f', [literal('a'), literal('b')]), term('f', 'ab'));
    assert.deepEqual(wildcardTerm('f', [anyChars(), literal(''), anyChars()]).kind, 'exists');
    assert.deepEqual(compare('f', '<', -0), compare('f', '<', 0));
  });
});
