import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ManualClock, OtterError } from '@otter/core';
import type { AwsContext } from '../aws/aws-plane.js';
import { createDatabase, RegistryStore } from '../store/index.js';
import type { PackageVersionDetail } from '../store/package-store.js';
import { BACKENDS, freshPostgresDatabase, TEST_DATABASE_URL } from '../testing/test-server.js';
import { packageHandlers } from './packages.js';

const ctx = {
  region: 'eu-west-1',
  arn: (r: string) => `arn:aws:iot:eu-west-1:123456789012:${r}`,
} as AwsContext;

for (const backend of BACKENDS) {
  describe(`publish check of UpdatePackageVersion (${backend.name})`, { skip: backend.skip }, () => {
    let dir: string;
    let store: RegistryStore;
    let cleanup: () => Promise<void>;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'otter-publish-'));
      const pg = backend.name === 'postgres' ? await freshPostgresDatabase(TEST_DATABASE_URL!) : undefined;
      const db = await createDatabase(pg?.url, dir);
      store = new RegistryStore(db);
      cleanup = async () => {
        await db.close();
        await pg?.drop();
      };
    });
    after(async () => {
      await cleanup?.();
      rmSync(dir, { recursive: true, force: true });
    });

    test('sees the version as it will be published; when it throws, nothing changes', async () => {
      const clock = new ManualClock();
      const seen: PackageVersionDetail[] = [];
      let refuse = true;
      const h = packageHandlers(store, clock, {
        publishCheck: async (v) => {
          seen.push(v);
          if (refuse)
            throw new OtterError('ConflictException', `artifact of ${v.versionName} does not verify`);
        },
      });
      await h.CreatePackage!({ packageName: 'p' }, ctx);
      await h.CreatePackageVersion!({ packageName: 'p', versionName: '1', attributes: { a: '1' } }, ctx);
      const before = await store.packages.describeVersion('p', '1');
      clock.advance(1000);
      const artifact = { s3Location: { bucket: 'b', key: 'k' } };
      await assert.rejects(
        h.UpdatePackageVersion!(
          { packageName: 'p', versionName: '1', action: 'PUBLISH', artifact, description: 'new' },
          ctx,
        ),
        /does not verify/,
      );
      assert.equal(seen.length, 1);
      assert.equal(seen[0]?.status, 'PUBLISHED');
      assert.deepEqual(seen[0]?.artifact, artifact, 'the check sees the artifact of the same request');
      assert.equal(seen[0]?.description, 'new');
      assert.deepEqual(await store.packages.describeVersion('p', '1'), before, 'nothing changed');

      // Updates without PUBLISH do not run the check.
      await h.UpdatePackageVersion!({ packageName: 'p', versionName: '1', description: 'd' }, ctx);
      assert.equal(seen.length, 1);

      refuse = false;
      await h.UpdatePackageVersion!({ packageName: 'p', versionName: '1', action: 'PUBLISH' }, ctx);
      assert.equal(seen.length, 2);
      const published = await store.packages.describeVersion('p', '1');
      assert.equal(published.status, 'PUBLISHED');
      assert.equal(published.description, 'd');
      assert.deepEqual(published.attributes, { a: '1' });
    });

    test('a version changed while the check runs is re-read and checked again', async () => {
      const clock = new ManualClock();
      let calls = 0;
      const h = packageHandlers(store, clock, {
        publishCheck: async () => {
          calls++;
          // Another writer changes the version during the first check only.
          if (calls === 1) await store.packages.updateVersion('q', '1', { attributes: { late: 'yes' } }, 5);
        },
      });
      await h.CreatePackage!({ packageName: 'q' }, ctx);
      await h.CreatePackageVersion!({ packageName: 'q', versionName: '1' }, ctx);
      await h.UpdatePackageVersion!({ packageName: 'q', versionName: '1', action: 'PUBLISH' }, ctx);
      assert.equal(calls, 2);
      const v = await store.packages.describeVersion('q', '1');
      assert.equal(v.status, 'PUBLISHED');
      assert.deepEqual(v.attributes, { late: 'yes' });
    });

    test('without a publish check, PUBLISH just publishes', async () => {
      const h = packageHandlers(store, new ManualClock());
      await h.CreatePackage!({ packageName: 'r' }, ctx);
      await h.CreatePackageVersion!({ packageName: 'r', versionName: '1' }, ctx);
      await h.UpdatePackageVersion!({ packageName: 'r', versionName: '1', action: 'PUBLISH' }, ctx);
      assert.equal((await store.packages.describeVersion('r', '1')).status, 'PUBLISHED');
    });
  });
}
