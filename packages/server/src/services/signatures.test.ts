import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { generateSigningKey, isOtterError, parsePublicKey, signDigest } from '@otter/core';
import { RegistryStore } from '../store/registry-store.js';
import type { SqlDatabase } from '../store/sql/sql-database.js';
import { testDatabases } from '../testing/test-databases.js';
import { verifyVersionSignature } from './signatures.js';

const validation = (message: RegExp) => (error: unknown) => {
  assert.ok(isOtterError(error), String(error));
  assert.equal(error.type, 'ValidationException');
  assert.match(error.message, message);
  return true;
};

function suite(name: string, makeDb: () => Promise<SqlDatabase>, skip?: string): void {
  describe(`verifyVersionSignature: ${name}`, { skip: skip ?? false }, () => {
    let db: SqlDatabase;
    let store: RegistryStore;
    const ed = generateSigningKey('ED25519');
    const ec = generateSigningKey('ECDSA_P256_SHA256');
    const sha256 = createHash('sha256').update('firmware 1.0').digest('hex');
    before(async () => {
      db = await makeDb();
      store = new RegistryStore(db);
      for (const [keyName, key] of [
        ['ed', ed],
        ['ec', ec],
      ] as const) {
        await store.signingKeys.put({ name: keyName, ...parsePublicKey(key.publicKeyPem) }, 1);
      }
    });
    after(() => db?.close());

    test('a valid signature by a registered key passes and names the key (by keyId or name)', async () => {
      for (const key of [ed, ec]) {
        const { signature, algorithm, keyId } = signDigest(key.privateKeyPem, sha256);
        const input = { sha256, signature, signatureAlgorithm: algorithm };
        assert.equal((await verifyVersionSignature(store, { ...input, signingKeyId: keyId })).keyId, keyId);
        const byName = await verifyVersionSignature(store, {
          ...input,
          signingKeyId: key === ed ? 'ed' : 'ec',
        });
        assert.equal(byName.keyId, keyId);
        const upper = await verifyVersionSignature(store, {
          ...input,
          sha256: sha256.toUpperCase(),
          signingKeyId: keyId.toUpperCase(),
        });
        assert.equal(upper.keyId, keyId);
      }
    });

    test('unknown key, algorithm mismatch, bad signature, bad fields: ValidationException', async () => {
      const good = signDigest(ed.privateKeyPem, sha256);
      const base = {
        sha256,
        signature: good.signature,
        signatureAlgorithm: 'ED25519',
        signingKeyId: good.keyId,
      };
      const stranger = generateSigningKey('ED25519');
      const otherSha = createHash('sha256').update('firmware 1.1').digest('hex');
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ signingKeyId: stranger.keyId }, /is not registered/],
        [{ signatureAlgorithm: 'ECDSA_P256_SHA256' }, /does not match signing key ed, which is ED25519/],
        [{ signatureAlgorithm: 'RSA_SHA256' }, /unknown signature algorithm/],
        [{ sha256: otherSha }, /not a valid ED25519 signature/],
        [{ signature: signDigest(stranger.privateKeyPem, sha256).signature }, /not a valid/],
        [{ signature: 'garbage' }, /not a valid/],
        [{ sha256: 'abc' }, /64 hex digits/],
        [{ signature: undefined }, /missing signature/],
        [{ signature: '', signingKeyId: '' }, /missing signature, signingKeyId/],
      ];
      for (const [change, message] of cases) {
        await assert.rejects(
          verifyVersionSignature(store, { ...base, ...change } as never),
          validation(message),
        );
      }
    });
  });
}

for (const db of testDatabases('signature checks')) suite(db.name, db.open, db.skip || undefined);
