import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isOtterError } from '@otter/core';
import { testDatabases } from '../testing/test-databases.js';
import { RegistryStore } from './registry-store.js';
import type { SqlDatabase } from './sql/sql-database.js';

const T0 = 1_700_000_000_000;
const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);
const record = (name: string, sha256 = SHA_A) => ({
  name,
  sha256,
  size: 5_000_000_000, // beyond 32 bits: BIGINT round trip
  contentType: 'application/octet-stream',
  createdAt: T0,
});

/** One contract for the artifact table, run on every database. */
function runArtifactStoreContract(name: string, makeDb: () => Promise<SqlDatabase>, skip?: string) {
  describe(`artifact store: ${name}`, () => {
    if (skip !== undefined) {
      test('artifact store contract', { skip }, () => {});
      return;
    }
    let db: SqlDatabase;
    let store: RegistryStore;
    before(async () => {
      db = await makeDb();
      store = new RegistryStore(db);
    });
    after(() => db.close());

    test('create, idempotent re-create, conflict on different content, get', async () => {
      const first = await store.artifacts.create(record('fw/a.bin'));
      assert.equal(first.created, true);
      const again = await store.artifacts.create({ ...record('fw/a.bin'), createdAt: T0 + 5 });
      assert.equal(again.created, false);
      assert.equal(again.artifact.createdAt, T0);
      await assert.rejects(store.artifacts.create(record('fw/a.bin', SHA_B)), (e) => {
        assert.ok(isOtterError(e));
        assert.equal(e.type, 'ResourceAlreadyExistsException');
        return true;
      });
      assert.deepEqual(await store.artifacts.get('fw/a.bin'), record('fw/a.bin'));
      assert.equal(await store.artifacts.get('fw/A.bin'), undefined);
    });

    test('list by prefix in code point order with pages', async () => {
      for (const n of ['p/b', 'p/a', 'p/C', 'p_x', 'q/a', 'p/%', 'p/é'])
        await store.artifacts.create(record(n));
      const names: string[] = [];
      let after: string | undefined;
      do {
        const page = await store.artifacts.list({ prefix: 'p/', after, limit: 2 });
        names.push(...page.items.map((a) => a.name));
        after = page.nextToken;
      } while (after !== undefined);
      assert.deepEqual(names, ['p/%', 'p/C', 'p/a', 'p/b', 'p/é']);
      const all = await store.artifacts.list({ limit: 100 });
      assert.ok(all.items.some((a) => a.name === 'q/a'));
    });

    test('delete reports whether the blob is still named', async () => {
      await store.artifacts.create(record('d/one', SHA_B));
      await store.artifacts.create(record('d/two', SHA_B));
      assert.equal((await store.artifacts.delete('d/one'))?.blobInUse, true);
      assert.equal((await store.artifacts.delete('d/two'))?.blobInUse, false);
      assert.equal(await store.artifacts.delete('d/two'), undefined);
      assert.equal(await store.artifacts.isBlobInUse(SHA_B), false);
    });
  });
}

for (const db of testDatabases('artifact store contract'))
  runArtifactStoreContract(db.name, db.open, db.skip || undefined);
