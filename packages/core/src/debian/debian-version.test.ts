import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDebianError } from './debian-errors.js';
import { TRICKY_CASES } from './debian-version.fixtures.js';
import {
  compareDebianVersions,
  debianVersionsEqual,
  formatDebianVersion,
  isDebianVersion,
  parseDebianVersion,
} from './debian-version.js';

describe('compareDebianVersions', () => {
  for (const [a, b, sign] of TRICKY_CASES) {
    it(`${a} ${['<', '=', '>'][sign + 1]} ${b}`, () => {
      assert.equal(compareDebianVersions(a, b), sign);
      assert.equal(compareDebianVersions(b, a), -sign || 0);
      assert.equal(debianVersionsEqual(a, b), sign === 0);
    });
  }

  it('1.0.8 equals 1.0.8-0 (seed 004): an absent revision compares like "0"', () => {
    assert.ok(debianVersionsEqual('1.0.8', '1.0.8-0'));
    assert.ok(!debianVersionsEqual('1.0.8', '1.0.8-1'));
  });

  it('throws INVALID_VERSION for invalid input', () => {
    assert.throws(
      () => compareDebianVersions('1.0', 'abc'),
      (e) => isDebianError(e) && e.code === 'INVALID_VERSION' && e.type === 'InvalidRequestException',
    );
  });
});

describe('parseDebianVersion', () => {
  it('splits epoch, upstream and revision at the first colon and the last hyphen', () => {
    assert.deepEqual(parseDebianVersion('1.0.8'), { epoch: 0, upstream: '1.0.8', revision: '' });
    assert.deepEqual(parseDebianVersion('2:1.0-rc-1ubuntu2'), {
      epoch: 2,
      upstream: '1.0-rc',
      revision: '1ubuntu2',
    });
    assert.deepEqual(parseDebianVersion('1.2+dfsg~b1-0.1'), {
      epoch: 0,
      upstream: '1.2+dfsg~b1',
      revision: '0.1',
    });
  });

  it('formats canonically', () => {
    assert.equal(formatDebianVersion(parseDebianVersion('0:1.0')), '1.0');
    assert.equal(formatDebianVersion(parseDebianVersion('3:1.0-2')), '3:1.0-2');
  });

  const invalid: Array<[string, RegExp]> = [
    ['', /empty/],
    [' 1.0', /start with a digit/],
    ['1.0 ', /only letters/],
    ['1 0', /only letters/],
    ['a1.0', /start with a digit/],
    ['1.0-', /revision is empty/],
    ['1.0-a_b', /revision may contain/],
    ['1:1.0-1:2', /':' may appear only once/],
    [':1.0', /epoch is empty/],
    ['a:1.0', /epoch is not an unsigned number/],
    ['-1:1.0', /epoch is not an unsigned number/],
    ['+1:1.0', /epoch is not an unsigned number/],
    ['1:', /nothing after the epoch/],
    ['2147483648:1', /epoch is too big/],
    ['1:-1', /upstream version is empty/],
    ['-1', /upstream version is empty/],
    ['1.0_1', /upstream version may contain/],
    ['1.0*', /upstream version may contain/],
    ['=1.0', /start with a digit/],
    ['1.0\u00e9', /upstream version may contain/],
    ['1'.repeat(257), /longer than 256/],
  ];
  for (const [input, why] of invalid) {
    it(`rejects ${JSON.stringify(input.length > 20 ? `${input.slice(0, 20)}…` : input)}`, () => {
      assert.throws(
        () => parseDebianVersion(input),
        (e) => isDebianError(e) && e.code === 'INVALID_VERSION' && why.test(e.message),
      );
      assert.equal(isDebianVersion(input), false);
    });
  }
});
