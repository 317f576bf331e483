import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AssociateSbomWithPackageVersionCommand,
  CreatePackageCommand,
  CreatePackageVersionCommand,
  DeletePackageCommand,
  DeletePackageVersionCommand,
  DisassociateSbomFromPackageVersionCommand,
  GetPackageCommand,
  GetPackageConfigurationCommand,
  GetPackageVersionCommand,
  ListSbomValidationResultsCommand,
  ListTagsForResourceCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdatePackageCommand,
  UpdatePackageConfigurationCommand,
  UpdatePackageVersionCommand,
} from '@aws-sdk/client-iot';
import { rejectsWith as rejects } from '../testing/assertions.js';
import { BACKENDS, startTestServer, type TestServer } from '../testing/test-server.js';

const artifact = { s3Location: { bucket: 'firmware', key: 'fw/1.0.0/image.bin', version: '3' } };
const sbom = { s3Location: { bucket: 'firmware', key: 'fw/1.0.0/sbom.spdx.json' } };
const recipe = JSON.stringify({ steps: [{ action: { name: 'install' } }] });
/** Explicit client tokens (the SDK would otherwise fill a fresh UUID into every call). */
const token = (n: number) => `otter-test-client-token-${String(n).padStart(12, '0')}`;

for (const backend of BACKENDS) {
  describe(`package versions: artifact, recipe, SBOM, tags, client tokens (${backend.name})`, {
    skip: backend.skip,
  }, () => {
    let s: TestServer;
    let arn: (resource: string) => string;
    before(async () => {
      s = await startTestServer(backend.name);
      arn = (resource) => `arn:aws:iot:${s.region}:123456789012:${resource}`;
    });
    after(() => s?.close());

    const tagsOf = async (resourceArn: string) =>
      Object.fromEntries(
        ((await s.iot.send(new ListTagsForResourceCommand({ resourceArn }))).tags ?? []).map((t) => [
          t.Key,
          t.Value,
        ]),
      );

    test('artifact and recipe are stored, returned, and frozen once published', async () => {
      await s.iot.send(new CreatePackageCommand({ packageName: 'art' }));
      await s.iot.send(
        new CreatePackageVersionCommand({ packageName: 'art', versionName: '1.0.0', artifact, recipe }),
      );
      let v = await s.iot.send(new GetPackageVersionCommand({ packageName: 'art', versionName: '1.0.0' }));
      assert.deepEqual(v.artifact, artifact);
      assert.equal(v.recipe, recipe);
      assert.equal(v.sbom, undefined);
      assert.equal(v.sbomValidationStatus, undefined);

      // Publishing checks that the artifact exists in Otter's store (bucket `otter` on the file system).
      const upload = await s.native('PUT', '/v1/artifacts/fw/1.0.0/image-2.bin', Buffer.from('image 2'));
      assert.ok(upload.ok, `upload: ${upload.status}`);
      const moved = { s3Location: { bucket: 'otter', key: 'fw/1.0.0/image-2.bin' } };
      await s.iot.send(
        new UpdatePackageVersionCommand({ packageName: 'art', versionName: '1.0.0', artifact: moved }),
      );
      v = await s.iot.send(new GetPackageVersionCommand({ packageName: 'art', versionName: '1.0.0' }));
      assert.deepEqual(v.artifact, moved);
      assert.equal(v.recipe, recipe, 'an update without recipe keeps it');

      // Bad input changes nothing.
      for (const bad of [
        { recipe: 'not json' },
        { recipe: '[1,2]' },
        { artifact: { s3Location: { bucket: 'firmware' } } },
        { artifact: {} },
      ])
        await rejects(
          s.iot.send(new UpdatePackageVersionCommand({ packageName: 'art', versionName: '1.0.0', ...bad })),
          'ValidationException',
          400,
        );
      await rejects(
        s.iot.send(new CreatePackageVersionCommand({ packageName: 'art', versionName: '9', recipe: '{' })),
        'ValidationException',
        400,
      );
      await rejects(
        s.iot.send(new GetPackageVersionCommand({ packageName: 'art', versionName: '9' })),
        'ResourceNotFoundException',
        404,
      );
      v = await s.iot.send(new GetPackageVersionCommand({ packageName: 'art', versionName: '1.0.0' }));
      assert.deepEqual(v.artifact, moved);
      assert.equal(v.recipe, recipe);

      await s.iot.send(
        new UpdatePackageVersionCommand({ packageName: 'art', versionName: '1.0.0', action: 'PUBLISH' }),
      );
      for (const change of [{ artifact }, { recipe: '{}' }])
        await rejects(
          s.iot.send(
            new UpdatePackageVersionCommand({ packageName: 'art', versionName: '1.0.0', ...change }),
          ),
          'ConflictException',
          409,
          /only in DRAFT/,
        );
      // A rejected combination changes nothing: not even the description that came with it.
      await rejects(
        s.iot.send(
          new UpdatePackageVersionCommand({
            packageName: 'art',
            versionName: '1.0.0',
            description: 'changed',
            recipe: '{}',
          }),
        ),
        'ConflictException',
        409,
      );
      v = await s.iot.send(new GetPackageVersionCommand({ packageName: 'art', versionName: '1.0.0' }));
      assert.equal(v.description, undefined);
      assert.equal(v.status, 'PUBLISHED');
      assert.deepEqual(v.artifact, moved);
    });

    test('SBOM: associate, list validation results, disassociate; DRAFT only', async () => {
      await s.iot.send(new CreatePackageCommand({ packageName: 'sb' }));
      await s.iot.send(new CreatePackageVersionCommand({ packageName: 'sb', versionName: '1' }));
      assert.deepEqual(
        (await s.iot.send(new ListSbomValidationResultsCommand({ packageName: 'sb', versionName: '1' })))
          .validationResultSummaries,
        [],
      );
      const associated = await s.iot.send(
        new AssociateSbomWithPackageVersionCommand({ packageName: 'sb', versionName: '1', sbom }),
      );
      assert.equal(associated.packageName, 'sb');
      assert.equal(associated.versionName, '1');
      assert.deepEqual(associated.sbom, sbom);
      assert.equal(associated.sbomValidationStatus, 'SUCCEEDED');
      const v = await s.iot.send(new GetPackageVersionCommand({ packageName: 'sb', versionName: '1' }));
      assert.deepEqual(v.sbom, sbom);
      assert.equal(v.sbomValidationStatus, 'SUCCEEDED');
      const results = await s.iot.send(
        new ListSbomValidationResultsCommand({ packageName: 'sb', versionName: '1' }),
      );
      assert.deepEqual(results.validationResultSummaries, [
        { fileName: 'sbom.spdx.json', validationResult: 'SUCCEEDED' },
      ]);
      assert.deepEqual(
        (
          await s.iot.send(
            new ListSbomValidationResultsCommand({
              packageName: 'sb',
              versionName: '1',
              validationResult: 'FAILED',
            }),
          )
        ).validationResultSummaries,
        [],
      );
      await rejects(
        s.iot.send(new ListSbomValidationResultsCommand({ packageName: 'sb', versionName: 'nope' })),
        'ResourceNotFoundException',
        404,
      );
      await rejects(
        s.iot.send(
          new AssociateSbomWithPackageVersionCommand({ packageName: 'sb', versionName: 'nope', sbom }),
        ),
        'ResourceNotFoundException',
        404,
      );
      await rejects(
        s.iot.send(
          new AssociateSbomWithPackageVersionCommand({
            packageName: 'sb',
            versionName: '1',
            sbom: { s3Location: { key: 'x' } as { bucket: string; key: string } },
          }),
        ),
        'ValidationException',
        400,
      );
      assert.deepEqual(
        (await s.iot.send(new GetPackageVersionCommand({ packageName: 'sb', versionName: '1' }))).sbom,
        sbom,
      );

      await s.iot.send(
        new DisassociateSbomFromPackageVersionCommand({ packageName: 'sb', versionName: '1' }),
      );
      const gone = await s.iot.send(new GetPackageVersionCommand({ packageName: 'sb', versionName: '1' }));
      assert.equal(gone.sbom, undefined);
      assert.equal(gone.sbomValidationStatus, undefined);
      await s.iot.send(
        new DisassociateSbomFromPackageVersionCommand({ packageName: 'sb', versionName: '1' }),
      );

      await s.iot.send(
        new UpdatePackageVersionCommand({ packageName: 'sb', versionName: '1', action: 'PUBLISH' }),
      );
      await rejects(
        s.iot.send(new AssociateSbomWithPackageVersionCommand({ packageName: 'sb', versionName: '1', sbom })),
        'ConflictException',
        409,
      );
      await rejects(
        s.iot.send(new DisassociateSbomFromPackageVersionCommand({ packageName: 'sb', versionName: '1' })),
        'ConflictException',
        409,
      );
    });

    test('tags on package and package version ARNs', async () => {
      await s.iot.send(new CreatePackageCommand({ packageName: 'tg.pkg', tags: { team: 'a' } }));
      await s.iot.send(
        new CreatePackageVersionCommand({
          packageName: 'tg.pkg',
          versionName: '1.0',
          tags: { stage: 'beta' },
        }),
      );
      const pkgArn = arn('package/tg.pkg');
      const verArn = arn('package/tg.pkg/version/1.0');
      assert.deepEqual(await tagsOf(pkgArn), { team: 'a' });
      assert.deepEqual(await tagsOf(verArn), { stage: 'beta' });

      await s.iot.send(
        new TagResourceCommand({
          resourceArn: verArn,
          tags: [
            { Key: 'stage', Value: 'stable' },
            { Key: 'owner', Value: 'ops' },
          ],
        }),
      );
      assert.deepEqual(await tagsOf(verArn), { owner: 'ops', stage: 'stable' });
      assert.deepEqual(await tagsOf(pkgArn), { team: 'a' }, 'package and version tags are separate');
      await s.iot.send(new UntagResourceCommand({ resourceArn: verArn, tagKeys: ['owner'] }));
      assert.deepEqual(await tagsOf(verArn), { stage: 'stable' });

      await rejects(
        s.iot.send(new ListTagsForResourceCommand({ resourceArn: arn('package/tg.pkg/version/2.0') })),
        'ResourceNotFoundException',
        404,
      );
      await rejects(
        s.iot.send(new ListTagsForResourceCommand({ resourceArn: arn('package/none') })),
        'ResourceNotFoundException',
        404,
      );
      for (const bad of ['package/', 'package/a/version/', 'package/a/b/c', 'package/a b'])
        await rejects(
          s.iot.send(new TagResourceCommand({ resourceArn: arn(bad), tags: [{ Key: 'k', Value: 'v' }] })),
          'InvalidRequestException',
          400,
        );

      // Deleting deletes the tags: a re-created version or package starts without them.
      await s.iot.send(new DeletePackageVersionCommand({ packageName: 'tg.pkg', versionName: '1.0' }));
      await rejects(
        s.iot.send(new ListTagsForResourceCommand({ resourceArn: verArn })),
        'ResourceNotFoundException',
        404,
      );
      await s.iot.send(new CreatePackageVersionCommand({ packageName: 'tg.pkg', versionName: '1.0' }));
      assert.deepEqual(await tagsOf(verArn), {});
      await s.iot.send(new DeletePackageVersionCommand({ packageName: 'tg.pkg', versionName: '1.0' }));
      await s.iot.send(new DeletePackageCommand({ packageName: 'tg.pkg' }));
      await s.iot.send(new CreatePackageCommand({ packageName: 'tg.pkg' }));
      assert.deepEqual(await tagsOf(pkgArn), {});
    });

    test('clientToken: same token and parameters replay, other parameters conflict', async () => {
      const first = await s.iot.send(
        new CreatePackageCommand({ packageName: 'idem', description: 'one', clientToken: token(1) }),
      );
      const again = await s.iot.send(
        new CreatePackageCommand({ packageName: 'idem', description: 'one', clientToken: token(1) }),
      );
      assert.deepEqual(
        { ...again, $metadata: undefined },
        { ...first, $metadata: undefined },
        'the first response again, not ConflictException',
      );
      await rejects(
        s.iot.send(
          new CreatePackageCommand({ packageName: 'idem', description: 'two', clientToken: token(1) }),
        ),
        'ConflictException',
        409,
        /client token/,
      );
      assert.equal((await s.iot.send(new GetPackageCommand({ packageName: 'idem' }))).description, 'one');
      // Without the token (a fresh one from the SDK), creating again is the usual conflict.
      await rejects(
        s.iot.send(new CreatePackageCommand({ packageName: 'idem', description: 'one' })),
        'ConflictException',
        409,
        /already exists/,
      );
      // A token belongs to one operation.
      await s.iot.send(
        new UpdatePackageCommand({ packageName: 'idem', description: 'u', clientToken: token(1) }),
      );

      // Replaying an update does not apply it a second time.
      await s.iot.send(
        new CreatePackageVersionCommand({ packageName: 'idem', versionName: '1', clientToken: token(2) }),
      );
      await s.iot.send(
        new UpdatePackageVersionCommand({
          packageName: 'idem',
          versionName: '1',
          action: 'PUBLISH',
          clientToken: token(3),
        }),
      );
      await s.iot.send(
        new UpdatePackageVersionCommand({
          packageName: 'idem',
          versionName: '1',
          action: 'PUBLISH',
          clientToken: token(3),
        }),
      );
      await rejects(
        s.iot.send(
          new UpdatePackageVersionCommand({
            packageName: 'idem',
            versionName: '1',
            action: 'PUBLISH',
            clientToken: token(4),
          }),
        ),
        'ConflictException',
        409,
        /PUBLISHED status/,
      );

      // A failed request is not remembered: the same token runs again once the cause is gone.
      await rejects(
        s.iot.send(
          new UpdatePackageCommand({ packageName: 'idem', defaultVersionName: '2', clientToken: token(5) }),
        ),
        'ResourceNotFoundException',
        404,
      );
      await s.iot.send(new CreatePackageVersionCommand({ packageName: 'idem', versionName: '2' }));
      await s.iot.send(
        new UpdatePackageVersionCommand({ packageName: 'idem', versionName: '2', action: 'PUBLISH' }),
      );
      await s.iot.send(
        new UpdatePackageCommand({ packageName: 'idem', defaultVersionName: '2', clientToken: token(5) }),
      );
      assert.equal(
        (await s.iot.send(new GetPackageCommand({ packageName: 'idem' }))).defaultVersionName,
        '2',
      );

      // Operations that declare no ConflictException answer ValidationException on a mismatch.
      await s.iot.send(
        new DeletePackageVersionCommand({ packageName: 'idem', versionName: '1', clientToken: token(6) }),
      );
      await s.iot.send(
        new DeletePackageVersionCommand({ packageName: 'idem', versionName: '1', clientToken: token(6) }),
      );
      await rejects(
        s.iot.send(
          new DeletePackageVersionCommand({ packageName: 'idem', versionName: 'x', clientToken: token(6) }),
        ),
        'ValidationException',
        400,
      );

      await s.iot.send(
        new UpdatePackageConfigurationCommand({
          versionUpdateByJobsConfig: { enabled: true },
          clientToken: token(7),
        }),
      );
      await rejects(
        s.iot.send(
          new UpdatePackageConfigurationCommand({
            versionUpdateByJobsConfig: { enabled: false },
            clientToken: token(7),
          }),
        ),
        'ConflictException',
        409,
      );
      assert.equal(
        (await s.iot.send(new GetPackageConfigurationCommand({}))).versionUpdateByJobsConfig?.enabled,
        true,
      );
      // Tokens must be 36–64 non-space characters (the model's pattern).
      await rejects(
        s.iot.send(new CreatePackageCommand({ packageName: 'short', clientToken: 'short' })),
        'ValidationException',
        400,
      );
    });
  });
}
