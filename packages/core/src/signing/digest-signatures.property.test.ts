import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { signDigest, verifyDigestSignature } from './digest-signatures.js';
import { generateSigningKey, SIGNING_ALGORITHMS } from './signing-keys.js';

const flipBit = (bytes: Uint8Array, bit: number): Buffer => {
  const copy = Buffer.from(bytes);
  const i = bit % (copy.length * 8);
  copy[i >> 3]! ^= 1 << (i & 7);
  return copy;
};

describe('flipping any bit of the signature or the digest fails verification', () => {
  for (const algorithm of SIGNING_ALGORITHMS) {
    const key = generateSigningKey(algorithm);
    it(algorithm, () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.nat(),
          fc.boolean(),
          (digest, bit, inSignature) => {
            const { signature } = signDigest(key.privateKeyPem, digest);
            const input = { algorithm, publicKeyPem: key.publicKeyPem, digest, signature };
            assert.equal(verifyDigestSignature(input), true);
            const tampered = inSignature
              ? { ...input, signature: flipBit(Buffer.from(signature, 'base64'), bit).toString('base64') }
              : { ...input, digest: flipBit(digest, bit) };
            return verifyDigestSignature(tampered) === false;
          },
        ),
        { numRuns: 300 },
      );
    });
  }
});
