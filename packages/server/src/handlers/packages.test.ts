import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreatePackageCommand,
  CreatePackageVersionCommand,
  DeletePackageCommand,
  DeletePackageVersionCommand,
  GetPackageCommand,
  GetPackageConfigurationCommand,
  GetPackageVersionCommand,
  ListPackagesCommand,
  ListPackageVersionsCommand,
  UpdatePackageCommand,
  UpdatePackageConfigurationCommand,
  UpdatePackageVersionCommand,
} from '@aws-sdk/client-iot';
import { rejectsWith as rejects } from '../testing/assertions.js';
import { BACKENDS, startTestServer, type TestServer } from '../testing/test-server.js';

for (const backend of BACKENDS) {
  describe(`software package catalog through @aws-sdk/client-iot (${backend.name})`, {
    skip: backend.skip,
  }, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(backend.name);
    });
    after(() => s?.close());

    test('package and version lifecycle', async () => {
      const created = await s.iot.send(
        new CreatePackageCommand({ packageName: 'fw', description: 'firmware', tags: { team: 'a' } }),
      );
      assert.equal(created.packageArn, `arn:aws:iot:${s.region}:123456789012:package/fw`);
      assert.equal(created.packageName, 'fw');
      assert.equal(created.description, 'firmware');

      const got = await s.iot.send(new GetPackageCommand({ packageName: 'fw' }));
      assert.equal(got.packageArn, created.packageArn);
      assert.equal(got.description, 'firmware');
      assert.equal(got.defaultVersionName, undefined);
      assert.ok(got.creationDate instanceof Date);
      assert.ok(got.lastModifiedDate instanceof Date);

      const v = await s.iot.send(
        new CreatePackageVersionCommand({
          packageName: 'fw',
          versionName: '1.0.0',
          description: 'first',
          attributes: { channel: 'beta' },
        }),
      );
      assert.equal(v.packageVersionArn, `arn:aws:iot:${s.region}:123456789012:package/fw/version/1.0.0`);
      assert.equal(v.status, 'DRAFT');
      assert.deepEqual(v.attributes, { channel: 'beta' });

      // Attributes and description change while DRAFT.
      await s.iot.send(
        new UpdatePackageVersionCommand({
          packageName: 'fw',
          versionName: '1.0.0',
          attributes: { channel: 'stable' },
          description: 'first release',
        }),
      );
      let gv = await s.iot.send(new GetPackageVersionCommand({ packageName: 'fw', versionName: '1.0.0' }));
      assert.deepEqual(gv.attributes, { channel: 'stable' });
      assert.equal(gv.description, 'first release');
      assert.equal(gv.status, 'DRAFT');
      assert.equal(gv.packageVersionArn, v.packageVersionArn);
      assert.ok(gv.creationDate instanceof Date);

      // A DRAFT cannot be the default version.
      await rejects(
        s.iot.send(new UpdatePackageCommand({ packageName: 'fw', defaultVersionName: '1.0.0' })),
        'ConflictException',
        409,
      );

      await s.iot.send(
        new UpdatePackageVersionCommand({ packageName: 'fw', versionName: '1.0.0', action: 'PUBLISH' }),
      );
      gv = await s.iot.send(new GetPackageVersionCommand({ packageName: 'fw', versionName: '1.0.0' }));
      assert.equal(gv.status, 'PUBLISHED');

      // Published: description still changes, attributes do not.
      await s.iot.send(
        new UpdatePackageVersionCommand({ packageName: 'fw', versionName: '1.0.0', description: 'v1' }),
      );
      await rejects(
        s.iot.send(
          new UpdatePackageVersionCommand({
            packageName: 'fw',
            versionName: '1.0.0',
            attributes: { channel: 'x' },
          }),
        ),
        'ConflictException',
        409,
      );

      await s.iot.send(
        new UpdatePackageCommand({ packageName: 'fw', defaultVersionName: '1.0.0', description: 'fw2' }),
      );
      const p = await s.iot.send(new GetPackageCommand({ packageName: 'fw' }));
      assert.equal(p.defaultVersionName, '1.0.0');
      assert.equal(p.description, 'fw2');

      // The default version and a package with versions cannot be deleted.
      await rejects(
        s.iot.send(new DeletePackageVersionCommand({ packageName: 'fw', versionName: '1.0.0' })),
        'ValidationException',
        400,
      );
      await rejects(s.iot.send(new DeletePackageCommand({ packageName: 'fw' })), 'ValidationException', 400);

      await s.iot.send(
        new UpdatePackageVersionCommand({ packageName: 'fw', versionName: '1.0.0', action: 'DEPRECATE' }),
      );
      gv = await s.iot.send(new GetPackageVersionCommand({ packageName: 'fw', versionName: '1.0.0' }));
      assert.equal(gv.status, 'DEPRECATED');
      assert.equal(gv.description, 'v1');

      await s.iot.send(new UpdatePackageCommand({ packageName: 'fw', unsetDefaultVersion: true }));
      assert.equal(
        (await s.iot.send(new GetPackageCommand({ packageName: 'fw' }))).defaultVersionName,
        undefined,
      );
      await s.iot.send(new DeletePackageVersionCommand({ packageName: 'fw', versionName: '1.0.0' }));
      await rejects(
        s.iot.send(new GetPackageVersionCommand({ packageName: 'fw', versionName: '1.0.0' })),
        'ResourceNotFoundException',
        404,
      );
      await s.iot.send(new DeletePackageCommand({ packageName: 'fw' }));
      await rejects(
        s.iot.send(new GetPackageCommand({ packageName: 'fw' })),
        'ResourceNotFoundException',
        404,
      );
      // Deleting what is already gone succeeds (the model declares no ResourceNotFoundException).
      await s.iot.send(new DeletePackageCommand({ packageName: 'fw' }));
      await s.iot.send(new DeletePackageVersionCommand({ packageName: 'fw', versionName: '1.0.0' }));
    });

    test('illegal status transitions', async () => {
      await s.iot.send(new CreatePackageCommand({ packageName: 'tr' }));
      await s.iot.send(new CreatePackageVersionCommand({ packageName: 'tr', versionName: 'a' }));
      await rejects(
        s.iot.send(
          new UpdatePackageVersionCommand({ packageName: 'tr', versionName: 'a', action: 'DEPRECATE' }),
        ),
        'ConflictException',
        409,
      );
      await s.iot.send(
        new UpdatePackageVersionCommand({ packageName: 'tr', versionName: 'a', action: 'PUBLISH' }),
      );
      await rejects(
        s.iot.send(
          new UpdatePackageVersionCommand({ packageName: 'tr', versionName: 'a', action: 'PUBLISH' }),
        ),
        'ConflictException',
        409,
      );
      await s.iot.send(
        new UpdatePackageVersionCommand({ packageName: 'tr', versionName: 'a', action: 'DEPRECATE' }),
      );
      await rejects(
        s.iot.send(
          new UpdatePackageVersionCommand({ packageName: 'tr', versionName: 'a', action: 'DEPRECATE' }),
        ),
        'ConflictException',
        409,
      );
      // AWS: a deprecated version can be published again.
      await s.iot.send(
        new UpdatePackageVersionCommand({ packageName: 'tr', versionName: 'a', action: 'PUBLISH' }),
      );
      assert.equal(
        (await s.iot.send(new GetPackageVersionCommand({ packageName: 'tr', versionName: 'a' }))).status,
        'PUBLISHED',
      );
      await s.iot.send(
        new UpdatePackageVersionCommand({ packageName: 'tr', versionName: 'a', action: 'DEPRECATE' }),
      );
      // A deprecated version can still be the default.
      await s.iot.send(new UpdatePackageCommand({ packageName: 'tr', defaultVersionName: 'a' }));
      assert.equal((await s.iot.send(new GetPackageCommand({ packageName: 'tr' }))).defaultVersionName, 'a');
    });

    test('listing with paging and the status filter', async () => {
      for (const name of ['list-a', 'list-b', 'list-c'])
        await s.iot.send(new CreatePackageCommand({ packageName: name }));
      const names: string[] = [];
      let nextToken: string | undefined;
      do {
        const page = await s.iot.send(new ListPackagesCommand({ maxResults: 2, nextToken }));
        assert.ok((page.packageSummaries ?? []).length <= 2);
        for (const p of page.packageSummaries ?? []) {
          names.push(p.packageName!);
          assert.ok(p.creationDate instanceof Date);
        }
        nextToken = page.nextToken;
      } while (nextToken);
      assert.deepEqual(
        names.filter((n) => n.startsWith('list-')),
        ['list-a', 'list-b', 'list-c'],
      );

      for (const v of ['1', '2', '3', '4'])
        await s.iot.send(new CreatePackageVersionCommand({ packageName: 'list-a', versionName: v }));
      await s.iot.send(
        new UpdatePackageVersionCommand({ packageName: 'list-a', versionName: '2', action: 'PUBLISH' }),
      );
      await s.iot.send(
        new UpdatePackageVersionCommand({ packageName: 'list-a', versionName: '3', action: 'PUBLISH' }),
      );
      await s.iot.send(
        new UpdatePackageVersionCommand({ packageName: 'list-a', versionName: '3', action: 'DEPRECATE' }),
      );

      const all = await s.iot.send(new ListPackageVersionsCommand({ packageName: 'list-a' }));
      assert.deepEqual(
        all.packageVersionSummaries?.map((v) => [v.versionName, v.status]),
        [
          ['1', 'DRAFT'],
          ['2', 'PUBLISHED'],
          ['3', 'DEPRECATED'],
          ['4', 'DRAFT'],
        ],
      );
      assert.equal(all.packageVersionSummaries?.[0]?.packageName, 'list-a');
      const drafts = await s.iot.send(
        new ListPackageVersionsCommand({ packageName: 'list-a', status: 'DRAFT' }),
      );
      assert.deepEqual(
        drafts.packageVersionSummaries?.map((v) => v.versionName),
        ['1', '4'],
      );
      const published = await s.iot.send(
        new ListPackageVersionsCommand({ packageName: 'list-a', status: 'PUBLISHED' }),
      );
      assert.deepEqual(
        published.packageVersionSummaries?.map((v) => v.versionName),
        ['2'],
      );

      const first = await s.iot.send(
        new ListPackageVersionsCommand({ packageName: 'list-a', maxResults: 3 }),
      );
      assert.equal(first.packageVersionSummaries?.length, 3);
      assert.ok(first.nextToken);
      const second = await s.iot.send(
        new ListPackageVersionsCommand({ packageName: 'list-a', maxResults: 3, nextToken: first.nextToken }),
      );
      assert.deepEqual(
        second.packageVersionSummaries?.map((v) => v.versionName),
        ['4'],
      );
      assert.equal(second.nextToken, undefined);
    });

    test('duplicates conflict', async () => {
      await s.iot.send(new CreatePackageCommand({ packageName: 'dup' }));
      await rejects(s.iot.send(new CreatePackageCommand({ packageName: 'dup' })), 'ConflictException', 409);
      await s.iot.send(new CreatePackageVersionCommand({ packageName: 'dup', versionName: '1' }));
      await rejects(
        s.iot.send(new CreatePackageVersionCommand({ packageName: 'dup', versionName: '1' })),
        'ConflictException',
        409,
      );
    });

    test('missing resources', async () => {
      await rejects(
        s.iot.send(new GetPackageCommand({ packageName: 'nope' })),
        'ResourceNotFoundException',
        404,
      );
      await rejects(
        s.iot.send(new UpdatePackageCommand({ packageName: 'nope', description: 'x' })),
        'ResourceNotFoundException',
        404,
      );
      await rejects(
        s.iot.send(new GetPackageVersionCommand({ packageName: 'nope', versionName: '1' })),
        'ResourceNotFoundException',
        404,
      );
      await rejects(
        s.iot.send(
          new UpdatePackageVersionCommand({ packageName: 'nope', versionName: '1', description: 'x' }),
        ),
        'ResourceNotFoundException',
        404,
      );
      // CreatePackageVersion declares no ResourceNotFoundException: a missing package is invalid.
      await rejects(
        s.iot.send(new CreatePackageVersionCommand({ packageName: 'nope', versionName: '1' })),
        'ValidationException',
        400,
      );
      await s.iot.send(new CreatePackageCommand({ packageName: 'has-no-versions' }));
      await rejects(
        s.iot.send(new UpdatePackageCommand({ packageName: 'has-no-versions', defaultVersionName: '9' })),
        'ResourceNotFoundException',
        404,
      );
      const empty = await s.iot.send(new ListPackageVersionsCommand({ packageName: 'nope' }));
      assert.deepEqual(empty.packageVersionSummaries, []);
    });

    test('validation errors', async () => {
      await rejects(
        s.iot.send(new CreatePackageCommand({ packageName: 'bad name!' })),
        'ValidationException',
        400,
      );
      await rejects(
        s.iot.send(new CreatePackageCommand({ packageName: 'x'.repeat(129) })),
        'ValidationException',
        400,
      );
      await s.iot.send(new CreatePackageCommand({ packageName: 'val' }));
      await rejects(
        s.iot.send(new CreatePackageVersionCommand({ packageName: 'val', versionName: 'v'.repeat(65) })),
        'ValidationException',
        400,
      );
      await rejects(
        s.iot.send(
          new CreatePackageVersionCommand({
            packageName: 'val',
            versionName: '1',
            attributes: { 'bad key': 'v' },
          }),
        ),
        'ValidationException',
        400,
      );
      await rejects(s.iot.send(new ListPackagesCommand({ maxResults: 101 })), 'ValidationException', 400);
      await rejects(
        s.iot.send(new ListPackageVersionsCommand({ packageName: 'val', status: 'GONE' as 'DRAFT' })),
        'ValidationException',
        400,
      );
      await s.iot.send(new CreatePackageVersionCommand({ packageName: 'val', versionName: '1' }));
      await rejects(
        s.iot.send(
          new UpdatePackageVersionCommand({
            packageName: 'val',
            versionName: '1',
            action: 'RETIRE' as 'PUBLISH',
          }),
        ),
        'ValidationException',
        400,
      );
      await s.iot.send(
        new UpdatePackageVersionCommand({ packageName: 'val', versionName: '1', action: 'PUBLISH' }),
      );
      await rejects(
        s.iot.send(
          new UpdatePackageCommand({
            packageName: 'val',
            defaultVersionName: '1',
            unsetDefaultVersion: true,
          }),
        ),
        'ValidationException',
        400,
      );
    });

    test('package configuration', async () => {
      const initial = await s.iot.send(new GetPackageConfigurationCommand({}));
      assert.deepEqual(initial.versionUpdateByJobsConfig, { enabled: false });
      const roleArn = 'arn:aws:iam::123456789012:role/package-updates';
      await s.iot.send(
        new UpdatePackageConfigurationCommand({ versionUpdateByJobsConfig: { enabled: true, roleArn } }),
      );
      assert.deepEqual((await s.iot.send(new GetPackageConfigurationCommand({}))).versionUpdateByJobsConfig, {
        enabled: true,
        roleArn,
      });
      await s.iot.send(
        new UpdatePackageConfigurationCommand({ versionUpdateByJobsConfig: { enabled: false } }),
      );
      assert.deepEqual((await s.iot.send(new GetPackageConfigurationCommand({}))).versionUpdateByJobsConfig, {
        enabled: false,
        roleArn,
      });
      await rejects(
        s.iot.send(
          new UpdatePackageConfigurationCommand({
            versionUpdateByJobsConfig: { enabled: true, roleArn: 'short' },
          }),
        ),
        'ValidationException',
        400,
      );
    });
  });
}
