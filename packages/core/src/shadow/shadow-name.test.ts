import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateShadowName } from './shadow-name.js';

describe('validateShadowName', () => {
  it('accepts names of [$a-zA-Z0-9:_-], 1 to 64 characters', () => {
    for (const name of ['a', 'config', 'A-b_c:9', 'x'.repeat(64), '$package']) {
      assert.doesNotThrow(() => validateShadowName(name), name);
    }
  });

  it('rejects empty and over-long names', () => {
    assert.throws(() => validateShadowName(''), {
      name: 'InvalidRequestException',
      message:
        /at 'shadowName' failed to satisfy constraint: Member must have length greater than or equal to 1/,
    });
    assert.throws(() => validateShadowName('x'.repeat(65)), {
      name: 'InvalidRequestException',
      message: /Member must have length less than or equal to 64/,
    });
  });

  it('rejects characters outside the pattern', () => {
    for (const name of ['a b', 'a/b', 'a.b', 'é', 'a#', 'name\n']) {
      assert.throws(() => validateShadowName(name), {
        name: 'InvalidRequestException',
        message: /Member must satisfy regular expression pattern: \[\$a-zA-Z0-9:_-\]\+/,
      });
    }
  });

  it('reserves names starting with $ except $package', () => {
    for (const name of ['$aws', '$', '$packages', '$Package']) {
      assert.throws(() => validateShadowName(name), { name: 'InvalidRequestException', message: /reserved/ });
    }
  });
});
