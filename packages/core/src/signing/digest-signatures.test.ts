import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { p256 } from '@noble/curves/nist.js';
import { signDigest, toDigestBytes, verifyDigestSignature } from './digest-signatures.js';
import { type SigningErrorCode, SigningKeyError } from './signing-errors.js';
import {
  generateSigningKey,
  parsePrivateKey,
  parsePublicKey,
  publicKeyOf,
  SIGNING_ALGORITHMS,
  type SigningAlgorithm,
} from './signing-keys.js';

interface Vectors {
  file: string;
  sha256: string;
  keys: {
    name: string;
    algorithm: SigningAlgorithm;
    privateKeyPem: string;
    publicKeyPem: string;
    keyId: string;
    signatures: string[];
  }[];
}

/** Keys, a file and signatures produced once by openssl (see generatedWith in the file). */
const vectors = JSON.parse(
  readFileSync(new URL('./openssl-vectors.json', import.meta.url), 'utf8'),
) as Vectors;

const withCode = (code: SigningErrorCode) => (e: unknown) => {
  assert.ok(e instanceof SigningKeyError || (e as { code?: string }).code === code, String(e));
  assert.equal((e as { code: string }).code, code);
  assert.equal((e as { type: string }).type, 'InvalidRequestException');
  return true;
};

const flipByte = (b64: string, i: number): string => {
  const bytes = Buffer.from(b64, 'base64');
  bytes[i % bytes.length]! ^= 0x01;
  return bytes.toString('base64');
};

describe('openssl vectors (committed fixture)', () => {
  it('the fixture file hashes to the fixture digest', () => {
    assert.equal(createHash('sha256').update(vectors.file).digest('hex'), vectors.sha256);
  });

  for (const key of vectors.keys) {
    describe(key.name, () => {
      it('parses the private key: algorithm, keyId and public key as openssl computes them', () => {
        const parsed = parsePrivateKey(key.privateKeyPem);
        assert.equal(parsed.algorithm, key.algorithm);
        assert.equal(parsed.keyId, key.keyId);
        assert.equal(parsed.publicKeyPem, key.publicKeyPem);
        assert.match(parsed.privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n/);
        assert.deepEqual(publicKeyOf(key.privateKeyPem), parsePublicKey(key.publicKeyPem));
      });

      it('verifies every openssl signature (incl. high-S ECDSA ones)', () => {
        for (const signature of key.signatures) {
          const input = { algorithm: key.algorithm, publicKeyPem: key.publicKeyPem, signature };
          assert.equal(verifyDigestSignature({ ...input, digest: vectors.sha256 }), true);
          assert.equal(verifyDigestSignature({ ...input, digest: Buffer.from(vectors.sha256, 'hex') }), true);
        }
      });

      it('signs what verifies; Ed25519 signatures equal openssl byte for byte (deterministic)', () => {
        const signed = signDigest(key.privateKeyPem, vectors.sha256);
        assert.equal(signed.algorithm, key.algorithm);
        assert.equal(signed.keyId, key.keyId);
        const input = { algorithm: key.algorithm, publicKeyPem: key.publicKeyPem, digest: vectors.sha256 };
        assert.equal(verifyDigestSignature({ ...input, signature: signed.signature }), true);
        if (key.algorithm === 'ED25519') assert.equal(signed.signature, key.signatures[0]);
      });

      it('rejects a tampered digest, a tampered signature and another key', () => {
        const signature = key.signatures[0]!;
        const input = { algorithm: key.algorithm, publicKeyPem: key.publicKeyPem };
        const digest = Buffer.from(vectors.sha256, 'hex');
        digest[7]! ^= 0x80;
        assert.equal(verifyDigestSignature({ ...input, digest, signature }), false);
        for (const i of [0, 1, 5, 20, 40, 63, 70]) {
          const tampered = flipByte(signature, i);
          assert.equal(
            verifyDigestSignature({ ...input, digest: vectors.sha256, signature: tampered }),
            false,
          );
        }
        const other = generateSigningKey(key.algorithm);
        assert.equal(
          verifyDigestSignature({
            ...input,
            publicKeyPem: other.publicKeyPem,
            digest: vectors.sha256,
            signature,
          }),
          false,
        );
      });
    });
  }

  it('accepts the 64-byte compact (r‖s) form of an ECDSA signature', () => {
    const key = vectors.keys.find((k) => k.algorithm === 'ECDSA_P256_SHA256')!;
    for (const der of key.signatures) {
      const compact = p256.Signature.fromBytes(Buffer.from(der, 'base64'), 'der').toBytes('compact');
      assert.equal(compact.length, 64);
      const signature = Buffer.from(compact).toString('base64');
      const input = { algorithm: key.algorithm, publicKeyPem: key.publicKeyPem, digest: vectors.sha256 };
      assert.equal(verifyDigestSignature({ ...input, signature }), true);
    }
  });
});

describe('malformed signatures are false, never an exception', () => {
  for (const algorithm of SIGNING_ALGORITHMS) {
    it(algorithm, () => {
      const key = generateSigningKey(algorithm);
      const digest = createHash('sha256').update('x').digest();
      const good = signDigest(key.privateKeyPem, digest).signature;
      const bad = [
        '',
        '!!!not base64!!!',
        'AAAA',
        good.slice(0, -4),
        `${good}AAAA`,
        Buffer.alloc(64).toString('base64'),
        Buffer.alloc(72, 0xff).toString('base64'),
        good.replace(/=+$/, ''),
      ];
      for (const signature of bad) {
        assert.equal(
          verifyDigestSignature({ algorithm, publicKeyPem: key.publicKeyPem, digest, signature }),
          false,
          `signature ${JSON.stringify(signature)}`,
        );
      }
    });
  }
});

describe('keys', () => {
  it('generates keys of both algorithms whose keyId is SHA-256 over the SPKI DER, first 16 bytes', () => {
    for (const algorithm of SIGNING_ALGORITHMS) {
      const key = generateSigningKey(algorithm);
      assert.equal(key.algorithm, algorithm);
      const der = createPublicKey(key.publicKeyPem).export({ type: 'spki', format: 'der' });
      assert.equal(key.keyId, createHash('sha256').update(der).digest('hex').slice(0, 32));
      assert.match(key.privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n/);
      assert.match(key.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n/);
      assert.deepEqual(parsePrivateKey(key.privateKeyPem), key);
    }
  });

  it('refuses RSA, P-384, encrypted, garbage and multi-key PEM with a clear SigningKeyError', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const ed = generateKeyPairSync('ed25519');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pkcs8 = (k: typeof ed.privateKey) => k.export({ type: 'pkcs8', format: 'pem' }).toString();
    const spki = (k: typeof ed.publicKey) => k.export({ type: 'spki', format: 'pem' }).toString();
    const cases: [string, () => unknown, SigningErrorCode, RegExp][] = [
      [
        'RSA private',
        () => parsePrivateKey(pkcs8(rsa.privateKey)),
        'UNSUPPORTED_KEY',
        /RSA keys are not supported/,
      ],
      [
        'RSA public',
        () => parsePublicKey(spki(rsa.publicKey)),
        'UNSUPPORTED_KEY',
        /RSA keys are not supported/,
      ],
      [
        'RSA PKCS#1',
        () => parsePrivateKey(rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()),
        'UNSUPPORTED_KEY',
        /RSA/,
      ],
      ['P-384 private', () => parsePrivateKey(pkcs8(p384.privateKey)), 'UNSUPPORTED_KEY', /P-384/],
      ['P-384 public', () => parsePublicKey(spki(p384.publicKey)), 'UNSUPPORTED_KEY', /P-384/],
      [
        'encrypted PKCS#8',
        () =>
          parsePrivateKey(
            ed.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }),
          ),
        'ENCRYPTED_KEY',
        /encrypted/,
      ],
      [
        'encrypted SEC1',
        () =>
          parsePrivateKey(
            ec.privateKey.export({ type: 'sec1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }),
          ),
        'ENCRYPTED_KEY',
        /encrypted/,
      ],
      ['garbage', () => parsePrivateKey('hello'), 'INVALID_PEM', /not PEM/],
      ['empty', () => parsePublicKey(''), 'INVALID_PEM', /not PEM/],
      ['not a string', () => parsePublicKey(42), 'INVALID_PEM', /PEM text/],
      [
        'corrupt body',
        () => parsePublicKey('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'),
        'INVALID_PEM',
        /cannot be read/,
      ],
      [
        'two keys',
        () => parsePublicKey(spki(ed.publicKey) + spki(ec.publicKey)),
        'INVALID_PEM',
        /2 PEM blocks/,
      ],
      ['private as public', () => parsePublicKey(pkcs8(ed.privateKey)), 'WRONG_KEY_KIND', /private key/],
      ['public as private', () => parsePrivateKey(spki(ed.publicKey)), 'WRONG_KEY_KIND', /public key/],
      [
        'sign with a public key',
        () => signDigest(spki(ed.publicKey), Buffer.alloc(32)),
        'WRONG_KEY_KIND',
        /public/,
      ],
    ];
    for (const [name, run, code, message] of cases) {
      assert.throws(run, (e: unknown) => withCode(code)(e) && message.test((e as Error).message), name);
    }
  });

  it('accepts a SEC1 "EC PRIVATE KEY" and normalizes it to PKCS#8', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const parsed = parsePrivateKey(ec.privateKey.export({ type: 'sec1', format: 'pem' }).toString());
    assert.equal(parsed.algorithm, 'ECDSA_P256_SHA256');
    assert.match(parsed.privateKeyPem, /^-----BEGIN PRIVATE KEY-----/);
  });
});

describe('verify input checks', () => {
  const ed = generateSigningKey('ED25519');
  const ec = generateSigningKey('ECDSA_P256_SHA256');
  const digest = createHash('sha256').update('y').digest();

  it('an algorithm that is not the key’s is a SigningKeyError, not false', () => {
    const signature = signDigest(ed.privateKeyPem, digest).signature;
    assert.throws(
      () =>
        verifyDigestSignature({
          algorithm: 'ECDSA_P256_SHA256',
          publicKeyPem: ed.publicKeyPem,
          digest,
          signature,
        }),
      withCode('ALGORITHM_MISMATCH'),
    );
    assert.throws(
      () => verifyDigestSignature({ algorithm: 'ED25519', publicKeyPem: ec.publicKeyPem, digest, signature }),
      withCode('ALGORITHM_MISMATCH'),
    );
    assert.throws(
      () =>
        verifyDigestSignature({ algorithm: 'RSA_SHA256', publicKeyPem: ec.publicKeyPem, digest, signature }),
      withCode('UNKNOWN_ALGORITHM'),
    );
  });

  it('a digest that is not 32 bytes / 64 hex digits is refused', () => {
    for (const bad of [
      Buffer.alloc(31),
      Buffer.alloc(33),
      'abc',
      'z'.repeat(64),
      digest.toString('base64'),
    ]) {
      assert.throws(() => toDigestBytes(bad), withCode('INVALID_DIGEST'));
      assert.throws(() => signDigest(ed.privateKeyPem, bad), withCode('INVALID_DIGEST'));
    }
  });
});
