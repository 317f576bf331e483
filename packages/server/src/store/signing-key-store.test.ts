import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateSigningKey, isOtterError, parsePublicKey } from '@otter/core';
import { migrate } from './migrations.js';
import { openPostgresDatabase } from './postgres/postgres-database.js';
import { RegistryStore } from './registry-store.js';
import type { SqlDatabase } from './sql/sql-database.js';
import { openSqliteDatabase } from './sqlite/sqlite-database.js';

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

const dir = mkdtempSync(join(tmpdir(), 'otter-keys-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

contract('SQLite', async () => {
  const db = openSqliteDatabase(join(dir, 'otter.db'));
  await migrate(db);
  return db;
});

const url = process.env.OTTER_TEST_DATABASE_URL;
if (url === undefined || url === '') {
  console.log('PostgreSQL signing key store skipped: OTTER_TEST_DATABASE_URL not set');
  contract('PostgreSQL', () => Promise.reject(new Error('skipped')), 'OTTER_TEST_DATABASE_URL not set');
} else {
  const schema = `otter_test_${randomBytes(6).toString('hex')}`;
  const admin = openPostgresDatabase({ connectionString: url, max: 1 });
  after(async () => {
    await admin.run(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.close();
  });
  contract('PostgreSQL', async () => {
    await admin.run(`CREATE SCHEMA ${schema}`);
    const db = openPostgresDatabase({ connectionString: url, options: `-c search_path=${schema}` });
    await migrate(db);
    return db;
  });
}
