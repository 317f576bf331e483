import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateJobCommand,
  CreateJobTemplateCommand,
  CreateThingCommand,
  DeleteJobCommand,
  DeleteJobTemplateCommand,
  ListTagsForResourceCommand,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-iot';
import { rejectsWith } from '../testing/assertions.js';
import { BACKENDS, startTestServer, type TestServer } from '../testing/test-server.js';

for (const backend of BACKENDS) {
  describe(`tags on job and job template ARNs through @aws-sdk/client-iot (${backend.name})`, {
    skip: backend.skip,
  }, () => {
    let s: TestServer;
    const arn = (resource: string) => `arn:aws:iot:${s.region}:123456789012:${resource}`;
    const tagsOf = async (resourceArn: string) =>
      Object.fromEntries(
        ((await s.iot.send(new ListTagsForResourceCommand({ resourceArn }))).tags ?? []).map((t) => [
          t.Key,
          t.Value,
        ]),
      );
    before(async () => {
      s = await startTestServer(backend.name);
      await s.iot.send(new CreateThingCommand({ thingName: 'dev-1' }));
    });
    after(() => s?.close());

    test('CreateJob tags are listed, tagged and untagged on the job ARN; DeleteJob removes them', async () => {
      const created = await s.iot.send(
        new CreateJobCommand({
          jobId: 'ota-1',
          targets: [arn('thing/dev-1')],
          document: '{}',
          tags: [{ Key: 'team', Value: 'fw' }],
        }),
      );
      assert.equal(created.jobArn, arn('job/ota-1'));
      assert.deepEqual(await tagsOf(arn('job/ota-1')), { team: 'fw' });
      await s.iot.send(
        new TagResourceCommand({
          resourceArn: arn('job/ota-1'),
          tags: [
            { Key: 'ring', Value: 'canary' },
            { Key: 'team', Value: 'ops' },
          ],
        }),
      );
      assert.deepEqual(await tagsOf(arn('job/ota-1')), { ring: 'canary', team: 'ops' });
      await s.iot.send(new UntagResourceCommand({ resourceArn: arn('job/ota-1'), tagKeys: ['team'] }));
      assert.deepEqual(await tagsOf(arn('job/ota-1')), { ring: 'canary' });

      await s.iot.send(new DeleteJobCommand({ jobId: 'ota-1', force: true }));
      await rejectsWith(
        s.iot.send(new ListTagsForResourceCommand({ resourceArn: arn('job/ota-1') })),
        'ResourceNotFoundException',
        404,
      );
      // A job re-created with the same id starts without the old tags.
      await s.iot.send(
        new CreateJobCommand({ jobId: 'ota-1', targets: [arn('thing/dev-1')], document: '{}' }),
      );
      assert.deepEqual(await tagsOf(arn('job/ota-1')), {});
    });

    test('CreateJobTemplate tags are listed, tagged and untagged on the template ARN; deleting removes them', async () => {
      const created = await s.iot.send(
        new CreateJobTemplateCommand({
          jobTemplateId: 'tpl-1',
          description: 'd',
          document: '{}',
          tags: [{ Key: 'owner', Value: 'me' }],
        }),
      );
      assert.equal(created.jobTemplateArn, arn('jobtemplate/tpl-1'));
      assert.deepEqual(await tagsOf(arn('jobtemplate/tpl-1')), { owner: 'me' });
      await s.iot.send(
        new TagResourceCommand({ resourceArn: arn('jobtemplate/tpl-1'), tags: [{ Key: 'k', Value: 'v' }] }),
      );
      await s.iot.send(
        new UntagResourceCommand({ resourceArn: arn('jobtemplate/tpl-1'), tagKeys: ['owner'] }),
      );
      assert.deepEqual(await tagsOf(arn('jobtemplate/tpl-1')), { k: 'v' });
      await s.iot.send(new DeleteJobTemplateCommand({ jobTemplateId: 'tpl-1' }));
      await rejectsWith(
        s.iot.send(new ListTagsForResourceCommand({ resourceArn: arn('jobtemplate/tpl-1') })),
        'ResourceNotFoundException',
        404,
      );
      await s.iot.send(
        new CreateJobTemplateCommand({ jobTemplateId: 'tpl-1', description: 'd', document: '{}' }),
      );
      assert.deepEqual(await tagsOf(arn('jobtemplate/tpl-1')), {});
    });

    test('bad or unknown job ARNs get a typed error and change nothing', async () => {
      await rejectsWith(
        s.iot.send(
          new TagResourceCommand({ resourceArn: arn('job/missing'), tags: [{ Key: 'k', Value: 'v' }] }),
        ),
        'ResourceNotFoundException',
        404,
      );
      await rejectsWith(
        s.iot.send(new UntagResourceCommand({ resourceArn: arn('jobtemplate/missing'), tagKeys: ['k'] })),
        'ResourceNotFoundException',
        404,
      );
      for (const bad of [
        arn('job/'),
        arn('job/a.b'),
        arn(`job/${'x'.repeat(65)}`),
        arn('jobtemplate/a/b'),
        arn('jobs/ota-1'),
      ])
        await rejectsWith(
          s.iot.send(new TagResourceCommand({ resourceArn: bad, tags: [{ Key: 'k', Value: 'v' }] })),
          'InvalidRequestException',
          400,
        );
      assert.deepEqual(await tagsOf(arn('job/ota-1')), {});
    });
  });
}
