import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generateSigningKey, isOtterError, parsePublicKey } from '@otter/core';
import { testDatabases } from '../testing/test-databases.js';
import { RegistryStore } from './registry-store.js';
import type { SqlDatabase } from './sql/sql-database.js';

const T0 = 1_700_000_000_000;
const rejectsWith = (type: string, message?: RegExp) => (error: unknown) => {
  assert.ok(isOtterError(error), `expected ${type}, got ${String(error)}`);
  assert.equal(error.type, type);
  if (message) assert.match(error.message, message);
  return true;
};

const newKey = (name: string, algorithm: 'ED25519' | 'ECDSA_P256_SHA256' = 'ED25519') => {
  const { keyId, publicKeyPem } = parsePublicKey(generateSigningKey(algorithm).publicKeyPem);
  return { name, algorithm, keyId, publicKeyPem };
};

function contract(name: string, makeDb: () => Promise<SqlDatabase>, skip?: string): void {
  describe(`signing key store: ${name}`, { skip: skip ?? false }, () => {
    let db: SqlDatabase;
    let store: RegistryStore;
    before(async () => {
      db = await makeDb();
      store = new RegistryStore(db);
    });
    after(() => db?.close());

    test('put, again (no change), get by name and keyId, describe', async () => {
      const key = newKey('release');
      const first = await store.signingKeys.put(key, T0);
      assert.equal(first.created, true);
      assert.deepEqual(first.key, { ...key, createdAt: T0 });
      const again = await store.signingKeys.put(key, T0 + 5);
      assert.equal(again.created, false);
      assert.equal(again.key.createdAt, T0);
      assert.deepEqual(await store.signingKeys.get('release'), first.key);
      assert.deepEqual(await store.signingKeys.getByKeyId(key.keyId), first.key);
      assert.deepEqual(await store.signingKeys.describe('release'), first.key);
      assert.equal(await store.signingKeys.get('nope'), undefined);
      await assert.rejects(store.signingKeys.describe('nope'), rejectsWith('ResourceNotFoundException'));
    });

    test('the name holding another key, or the key under another name: ResourceAlreadyExists, no change', async () => {
      const key = newKey('taken', 'ECDSA_P256_SHA256');
      await store.signingKeys.put(key, T0);
      await assert.rejects(
        store.signingKeys.put(newKey('taken'), T0),
        rejectsWith('ResourceAlreadyExistsException', /already exists with another key/),
      );
      await assert.rejects(
        store.signingKeys.put({ ...key, name: 'alias' }, T0),
        rejectsWith('ResourceAlreadyExistsException', /already registered as taken/),
      );
      assert.equal((await store.signingKeys.get('taken'))?.keyId, key.keyId);
      assert.equal(await store.signingKeys.get('alias'), undefined);
    });

    test('names compare by code point; list pages by name', async () => {
      for (const n of ['p-b', 'p-a', 'P-c', 'p-B']) await store.signingKeys.put(newKey(n), T0);
      const all: string[] = [];
      let after: string | undefined;
      do {
        const page = await store.signingKeys.list({ after, limit: 2 });
        assert.ok(page.items.length <= 2);
        all.push(...page.items.map((k) => k.name));
        after = page.nextToken;
      } while (after !== undefined);
      const expected = [...all].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      assert.deepEqual(all, expected);
      for (const n of ['P-c', 'p-B', 'p-a', 'p-b']) assert.ok(all.includes(n));
    });

    test('delete', async () => {
      await store.signingKeys.put(newKey('gone'), T0);
      assert.equal(await store.signingKeys.delete('gone'), true);
      assert.equal(await store.signingKeys.delete('gone'), false);
      assert.equal(await store.signingKeys.get('gone'), undefined);
    });
  });
}

for (const db of testDatabases('signing key store')) contract(db.name, db.open, db.skip || undefined);
