import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compareDebianVersions, formatDebianVersion, parseDebianVersion } from './debian-version.js';

const part = (chars: string, minLength: number) =>
  fc.array(fc.constantFrom(...chars.split('')), { minLength, maxLength: 8 }).map((a) => a.join(''));

/** Valid Debian versions, biased towards the characters that make ordering interesting. */
export const debianVersionArb = fc
  .record({
    epoch: fc.option(fc.constantFrom('0', '1', '2', '10', '01'), { nil: undefined }),
    first: fc.constantFrom('0', '1', '2', '9', '10'),
    upstream: part('0019aZz.+~', 0),
    revision: fc.option(part('01aZ.+~', 1), { nil: undefined }),
  })
  .map(
    ({ epoch, first, upstream, revision }) =>
      `${epoch === undefined ? '' : `${epoch}:`}${first}${upstream}${revision === undefined ? '' : `-${revision}`}`,
  );

describe('Debian version ordering (properties)', () => {
  it('is reflexive and antisymmetric', () => {
    fc.assert(
      fc.property(debianVersionArb, debianVersionArb, (a, b) => {
        assert.equal(compareDebianVersions(a, a), 0);
        assert.equal(compareDebianVersions(a, b), -compareDebianVersions(b, a) || 0);
      }),
      { numRuns: 2000 },
    );
  });

  it('is transitive', () => {
    fc.assert(
      fc.property(fc.array(debianVersionArb, { minLength: 3, maxLength: 12 }), (list) => {
        const sorted = [...list].sort(compareDebianVersions);
        for (let i = 0; i < sorted.length; i++) {
          for (let j = i + 1; j < sorted.length; j++) {
            assert.ok(compareDebianVersions(sorted[i]!, sorted[j]!) <= 0, `${sorted[i]} <= ${sorted[j]}`);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('parses what it formats, and the canonical form is equal to the input', () => {
    fc.assert(
      fc.property(debianVersionArb, (a) => {
        const canonical = formatDebianVersion(parseDebianVersion(a));
        assert.deepEqual(parseDebianVersion(canonical), parseDebianVersion(a.replace(/^0:/, '')));
        assert.equal(compareDebianVersions(a, canonical), 0);
      }),
      { numRuns: 1000 },
    );
  });

  it('an absent revision equals "-0", an absent epoch equals "0:"', () => {
    fc.assert(
      fc.property(debianVersionArb, (a) => {
        const v = parseDebianVersion(a);
        if (v.revision === '') assert.equal(compareDebianVersions(a, `${a}-0`), 0);
        if (!a.includes(':')) assert.equal(compareDebianVersions(a, `0:${a}`), 0);
      }),
      { numRuns: 1000 },
    );
  });
});
