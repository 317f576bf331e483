import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AddThingToThingGroupCommand,
  AssociateTargetsWithJobCommand,
  CancelJobCommand,
  CancelJobExecutionCommand,
  CreateJobCommand,
  CreateJobTemplateCommand,
  CreatePackageCommand,
  CreatePackageVersionCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  DeleteJobCommand,
  DeleteJobTemplateCommand,
  DescribeJobCommand,
  DescribeJobExecutionCommand,
  DescribeJobTemplateCommand,
  GetJobDocumentCommand,
  ListJobExecutionsForJobCommand,
  ListJobExecutionsForThingCommand,
  ListJobsCommand,
  ListJobTemplatesCommand,
  UpdateJobCommand,
  UpdatePackageConfigurationCommand,
  UpdatePackageVersionCommand,
} from '@aws-sdk/client-iot';
import { GetThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import {
  DescribeJobExecutionCommand as DeviceDescribeCommand,
  GetPendingJobExecutionsCommand,
  IoTJobsDataPlaneClient,
  StartNextPendingJobExecutionCommand,
  UpdateJobExecutionCommand,
} from '@aws-sdk/client-iot-jobs-data-plane';
import { ERROR_STATUS, type ErrorType } from '@otter/core';
import { rejectsWith as rejectsWithStatus } from '../testing/assertions.js';
import { BACKENDS, startTestServer, type TestServer } from '../testing/test-server.js';

const ACCOUNT = '123456789012';

/** The SDK call fails with `type` and the status ERROR_STATUS gives it. */
const rejectsWith = (p: Promise<unknown>, type: string, message?: RegExp) =>
  rejectsWithStatus(p, type, ERROR_STATUS[type as ErrorType], message);

for (const backend of BACKENDS) {
  describe(`jobs over the AWS SDKs (${backend.name})`, { skip: backend.skip }, () => {
    let t: TestServer;
    let jobsData: IoTJobsDataPlaneClient;
    let arn: (r: string) => string;
    before(async () => {
      t = await startTestServer(backend.name);
      jobsData = new IoTJobsDataPlaneClient({
        endpoint: t.server.url,
        region: t.region,
        credentials: { accessKeyId: t.server.accessKeyId, secretAccessKey: t.server.secretAccessKey },
        maxAttempts: 1,
      });
      arn = (r) => `arn:aws:iot:${t.region}:${t.server.config.accountId ?? ACCOUNT}:${r}`;
      for (const name of ['dev-1', 'dev-2', 'dev-3'])
        await t.iot.send(new CreateThingCommand({ thingName: name }));
      await t.iot.send(new CreateThingGroupCommand({ thingGroupName: 'fleet' }));
      await t.iot.send(new CreateThingGroupCommand({ thingGroupName: 'fleet-eu', parentGroupName: 'fleet' }));
      await t.iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'fleet', thingName: 'dev-1' }));
      await t.iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'fleet-eu', thingName: 'dev-2' }));
      await t.iot.send(new CreatePackageCommand({ packageName: 'samplePackage1' }));
      await t.iot.send(
        new CreatePackageVersionCommand({
          packageName: 'samplePackage1',
          versionName: '2.1.5',
          attributes: {
            s3URL: 'https://EXAMPIEBUCKET.s3.us-west-2.amazonaws.com/exampleCodeFile',
            codeSignature: 'aaaa"bb',
          },
        }),
      );
    });
    after(async () => {
      jobsData?.destroy();
      await t?.close();
    });

    const doc = JSON.stringify({
      Steps: {
        download: [{ samplePackage: '${aws:iot:package:samplePackage1:version:2.1.5:attributes:s3URL}' }],
        signature: '${aws:iot:package:samplePackage1:version:2.1.5:attributes:codeSignature}',
      },
    });
    const versionArn = () => arn('package/samplePackage1/version/2.1.5');

    test('seed 000: a DRAFT version or a missing destination is refused and nothing is created', async () => {
      await rejectsWith(
        t.iot.send(
          new CreateJobCommand({
            jobId: 'ota-1',
            targets: [arn('thinggroup/fleet')],
            document: doc,
            destinationPackageVersions: [versionArn()],
          }),
        ),
        'InvalidRequestException',
        /samplePackage1:2\.1\.5 is DRAFT/,
      );
      await t.iot.send(
        new UpdatePackageVersionCommand({
          packageName: 'samplePackage1',
          versionName: '2.1.5',
          action: 'PUBLISH',
        }),
      );
      await rejectsWith(
        t.iot.send(
          new CreateJobCommand({ jobId: 'ota-1', targets: [arn('thinggroup/fleet')], document: doc }),
        ),
        'InvalidRequestException',
        /missing from destinationPackageVersions: samplePackage1:2\.1\.5/,
      );
      await rejectsWith(t.iot.send(new DescribeJobCommand({ jobId: 'ota-1' })), 'ResourceNotFoundException');
    });

    test('seed 000 end to end: resolved document, SUCCEEDED, counts, $package shadow', async () => {
      await t.iot.send(
        new UpdatePackageConfigurationCommand({ versionUpdateByJobsConfig: { enabled: true } }),
      );
      const created = await t.iot.send(
        new CreateJobCommand({
          jobId: 'ota-1',
          targets: [arn('thinggroup/fleet')],
          document: doc,
          destinationPackageVersions: [versionArn()],
          description: 'seed 000',
        }),
      );
      assert.equal(created.jobArn, arn('job/ota-1'));
      // The group's own member and its child group's member.
      const pending = await jobsData.send(new GetPendingJobExecutionsCommand({ thingName: 'dev-2' }));
      assert.deepEqual(
        pending.queuedJobs?.map((j) => j.jobId),
        ['ota-1'],
      );
      const none = await jobsData.send(new GetPendingJobExecutionsCommand({ thingName: 'dev-3' }));
      assert.deepEqual(none.queuedJobs, []);

      const started = await jobsData.send(new StartNextPendingJobExecutionCommand({ thingName: 'dev-1' }));
      assert.equal(started.execution?.status, 'IN_PROGRESS');
      assert.equal(started.execution?.versionNumber, 2);
      const delivered = JSON.parse(started.execution?.jobDocument ?? '{}');
      assert.equal(
        delivered.Steps.download[0].samplePackage,
        'https://EXAMPIEBUCKET.s3.us-west-2.amazonaws.com/exampleCodeFile',
      );
      assert.equal(delivered.Steps.signature, 'aaaa"bb');
      const stored = await t.iot.send(new GetJobDocumentCommand({ jobId: 'ota-1' }));
      assert.equal(stored.document, doc);

      // A stale expectedVersion answers with the current state and changes nothing.
      await rejectsWith(
        jobsData.send(
          new UpdateJobExecutionCommand({
            thingName: 'dev-1',
            jobId: 'ota-1',
            status: 'SUCCEEDED',
            expectedVersion: 1,
          }),
        ),
        'VersionConflictException',
      );
      const updated = await jobsData.send(
        new UpdateJobExecutionCommand({
          thingName: 'dev-1',
          jobId: 'ota-1',
          status: 'SUCCEEDED',
          expectedVersion: 2,
          statusDetails: { step: 'done' },
          includeJobExecutionState: true,
          includeJobDocument: true,
        }),
      );
      assert.equal(updated.executionState?.status, 'SUCCEEDED');
      assert.equal(updated.executionState?.versionNumber, 3);
      assert.match(updated.jobDocument ?? '', /exampleCodeFile/);
      // Terminal: no more changes.
      await rejectsWith(
        jobsData.send(
          new UpdateJobExecutionCommand({ thingName: 'dev-1', jobId: 'ota-1', status: 'FAILED' }),
        ),
        'InvalidStateTransitionException',
      );

      const described = await t.iot.send(new DescribeJobCommand({ jobId: 'ota-1' }));
      assert.equal(described.job?.status, 'IN_PROGRESS');
      assert.deepEqual(described.job?.jobProcessDetails, {
        numberOfCanceledThings: 0,
        numberOfSucceededThings: 1,
        numberOfFailedThings: 0,
        numberOfRejectedThings: 0,
        numberOfQueuedThings: 1,
        numberOfInProgressThings: 0,
        numberOfRemovedThings: 0,
        numberOfTimedOutThings: 0,
      });
      assert.deepEqual(described.job?.destinationPackageVersions, [versionArn()]);

      const shadow = await t.data.send(
        new GetThingShadowCommand({ thingName: 'dev-1', shadowName: '$package' }),
      );
      const state = JSON.parse(Buffer.from(shadow.payload ?? new Uint8Array()).toString('utf8'));
      assert.deepEqual(state.state.reported, { samplePackage1: { version: '2.1.5' } });

      // dev-2 finishes too: the SNAPSHOT job completes.
      await jobsData.send(
        new UpdateJobExecutionCommand({ thingName: 'dev-2', jobId: 'ota-1', status: 'SUCCEEDED' }),
      );
      const done = await t.iot.send(new DescribeJobCommand({ jobId: 'ota-1' }));
      assert.equal(done.job?.status, 'COMPLETED');
      assert.ok(done.job?.completedAt instanceof Date);
      const listed = await t.iot.send(new ListJobsCommand({ status: 'COMPLETED' }));
      assert.deepEqual(
        listed.jobs?.map((j) => j.jobId),
        ['ota-1'],
      );
      const byGroup = await t.iot.send(new ListJobsCommand({ thingGroupName: 'fleet' }));
      assert.deepEqual(
        byGroup.jobs?.map((j) => j.jobId),
        ['ota-1'],
      );
    });

    test('documentSource names an Otter artifact; presigned-URL placeholders resolve for the device', async () => {
      const document = JSON.stringify({
        url: `\${aws:iot:s3-presigned-url:${t.server.url}/v1/artifacts/jobs/fw.bin}`,
      });
      for (const [name, body] of [
        ['jobs/doc.json', Buffer.from(document)],
        ['jobs/fw.bin', Buffer.from('firmware')],
      ] as const) {
        const r = await t.native('PUT', `/v1/artifacts/${name}`, body);
        assert.ok(r.ok, `upload ${name}: ${r.status}`);
      }
      await rejectsWith(
        t.iot.send(
          new CreateJobCommand({
            jobId: 'from-missing-source',
            targets: [arn('thing/dev-3')],
            documentSource: `${t.server.url}/v1/artifacts/jobs/missing.json`,
          }),
        ),
        'InvalidRequestException',
        /does not exist/,
      );
      await rejectsWith(
        t.iot.send(new DescribeJobCommand({ jobId: 'from-missing-source' })),
        'ResourceNotFoundException',
      );
      await t.iot.send(
        new CreateJobCommand({
          jobId: 'from-source',
          targets: [arn('thing/dev-3')],
          documentSource: `${t.server.url}/v1/artifacts/jobs/doc.json`,
        }),
      );
      const stored = await t.iot.send(new GetJobDocumentCommand({ jobId: 'from-source' }));
      assert.equal(stored.document, document);
      const started = await jobsData.send(new StartNextPendingJobExecutionCommand({ thingName: 'dev-3' }));
      assert.equal(started.execution?.jobId, 'from-source');
      const url = new URL((JSON.parse(started.execution?.jobDocument ?? '{}') as { url: string }).url);
      assert.ok(url.searchParams.has('X-Otter-Signature'), `a presigned URL: ${url}`);
      const download = await fetch(url);
      assert.equal(download.status, 200);
      assert.equal(await download.text(), 'firmware');
      await t.iot.send(new CancelJobCommand({ jobId: 'from-source', force: true }));
    });

    test('bad input is refused with a typed error and changes nothing', async () => {
      const base = { jobId: 'bad', targets: [arn('thing/dev-3')], document: '{"a":1}' };
      const cases: [Record<string, unknown>, string, RegExp?][] = [
        [{ document: '{not json' }, 'InvalidRequestException', /not valid JSON/],
        [{ document: '{"a":"${aws:iot:bogus}"}' }, 'InvalidRequestException', /malformed placeholder/],
        [{ targets: [arn('thing/ghost')] }, 'ResourceNotFoundException', /ghost/],
        [{ targets: ['not-an-arn'] }, 'InvalidRequestException'],
        [{ jobExecutionsRolloutConfig: { maximumPerMinute: 1001 } }, 'InvalidRequestException'],
        [
          {
            abortConfig: {
              criteriaList: [
                {
                  failureType: 'FAILED',
                  action: 'CANCEL',
                  thresholdPercentage: 0,
                  minNumberOfExecutedThings: 1,
                },
              ],
            },
          },
          'InvalidRequestException',
        ],
        [
          { jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'FAILED', numberOfRetries: 11 }] } },
          'InvalidRequestException',
        ],
        [{ timeoutConfig: { inProgressTimeoutInMinutes: 10081 } }, 'InvalidRequestException'],
        [{ schedulingConfig: { startTime: '2000-01-01T00:00' } }, 'InvalidRequestException'],
        [
          { document: '{"a":"${aws:iot:parameter:p}"}', documentParameters: { q: 'x' } },
          'InvalidRequestException',
          /unknown parameter/,
        ],
        [
          { document: '{"a":"${aws:iot:parameter:p}"}' },
          'InvalidRequestException',
          /missing required parameter/,
        ],
        [{ jobTemplateArn: arn('jobtemplate/none'), document: undefined }, 'ResourceNotFoundException'],
        [{ document: undefined }, 'InvalidRequestException'],
      ];
      for (const [patch, type, message] of cases) {
        await rejectsWith(t.iot.send(new CreateJobCommand({ ...base, ...patch } as never)), type, message);
      }
      await rejectsWith(t.iot.send(new DescribeJobCommand({ jobId: 'bad' })), 'ResourceNotFoundException');
      await rejectsWith(
        t.iot.send(new CreateJobCommand({ ...base, jobId: 'ota-1' })),
        'ResourceAlreadyExistsException',
      );
      await rejectsWith(
        jobsData.send(
          new UpdateJobExecutionCommand({ thingName: 'dev-3', jobId: 'ota-1', status: 'IN_PROGRESS' }),
        ),
        'ResourceNotFoundException',
      );
      await rejectsWith(
        jobsData.send(new GetPendingJobExecutionsCommand({ thingName: 'ghost' })),
        'ResourceNotFoundException',
      );
      await rejectsWith(t.iot.send(new DescribeJobCommand({ jobId: 'nope' })), 'ResourceNotFoundException');
      await rejectsWith(
        t.iot.send(
          new UpdateJobCommand({ jobId: 'ota-1', timeoutConfig: { inProgressTimeoutInMinutes: 0 } }),
        ),
        'InvalidRequestException',
      );
      await rejectsWith(
        t.iot.send(new AssociateTargetsWithJobCommand({ jobId: 'ota-1', targets: [arn('thing/dev-3')] })),
        'InvalidRequestException',
        /CONTINUOUS/,
      );
    });

    test('device status rules, cancel, delete, templates and parameters', async () => {
      await t.iot.send(
        new CreateJobTemplateCommand({
          jobTemplateId: 'tpl',
          description: 'template',
          document: '{"url":"${aws:iot:parameter:url}"}',
          timeoutConfig: { inProgressTimeoutInMinutes: 30 },
        }),
      );
      const tpl = await t.iot.send(new DescribeJobTemplateCommand({ jobTemplateId: 'tpl' }));
      assert.equal(tpl.timeoutConfig?.inProgressTimeoutInMinutes, 30);
      assert.deepEqual(
        (await t.iot.send(new ListJobTemplatesCommand({}))).jobTemplates?.map((x) => x.jobTemplateId),
        ['tpl'],
      );
      await t.iot.send(
        new CreateJobCommand({
          jobId: 'j2',
          targets: [arn('thing/dev-3'), arn('thing/dev-1')],
          jobTemplateArn: tpl.jobTemplateArn,
          documentParameters: { url: 'https://example.com/a "b"' },
          targetSelection: 'CONTINUOUS',
        }),
      );
      const next = await jobsData.send(
        new DeviceDescribeCommand({ thingName: 'dev-3', jobId: '$next', includeJobDocument: true }),
      );
      assert.equal(next.execution?.jobId, 'j2');
      assert.deepEqual(JSON.parse(next.execution?.jobDocument ?? ''), { url: 'https://example.com/a "b"' });
      // Devices may not set QUEUED / CANCELED.
      await rejectsWith(
        jobsData.send(new UpdateJobExecutionCommand({ thingName: 'dev-3', jobId: 'j2', status: 'CANCELED' })),
        'InvalidRequestException',
      );
      const started = await jobsData.send(
        new StartNextPendingJobExecutionCommand({ thingName: 'dev-3', stepTimeoutInMinutes: 5 }),
      );
      assert.equal(started.execution?.status, 'IN_PROGRESS');
      assert.ok((started.execution?.approximateSecondsBeforeTimedOut ?? 0) > 0);
      // Unforced cancel of an IN_PROGRESS execution is refused.
      await rejectsWith(
        t.iot.send(new CancelJobExecutionCommand({ jobId: 'j2', thingName: 'dev-3' })),
        'InvalidStateTransitionException',
      );
      await rejectsWith(
        t.iot.send(
          new CancelJobExecutionCommand({ jobId: 'j2', thingName: 'dev-3', force: true, expectedVersion: 9 }),
        ),
        'VersionConflictException',
      );
      await rejectsWith(t.iot.send(new DeleteJobCommand({ jobId: 'j2' })), 'InvalidStateTransitionException');
      await t.iot.send(new CancelJobExecutionCommand({ jobId: 'j2', thingName: 'dev-1' }));
      const e1 = await t.iot.send(new DescribeJobExecutionCommand({ jobId: 'j2', thingName: 'dev-1' }));
      assert.equal(e1.execution?.status, 'CANCELED');
      assert.equal(e1.execution?.thingArn, arn('thing/dev-1'));
      await t.iot.send(new AssociateTargetsWithJobCommand({ jobId: 'j2', targets: [arn('thing/dev-2')] }));
      const forJob = await t.iot.send(new ListJobExecutionsForJobCommand({ jobId: 'j2', maxResults: 2 }));
      assert.equal(forJob.executionSummaries?.length, 2);
      assert.ok(forJob.nextToken);
      const page2 = await t.iot.send(
        new ListJobExecutionsForJobCommand({ jobId: 'j2', maxResults: 2, nextToken: forJob.nextToken }),
      );
      assert.deepEqual(
        page2.executionSummaries?.map((s) => s.thingArn),
        [arn('thing/dev-3')],
      );
      const forThing = await t.iot.send(new ListJobExecutionsForThingCommand({ thingName: 'dev-2' }));
      assert.deepEqual(forThing.executionSummaries?.map((s) => s.jobId).sort(), ['j2', 'ota-1']);

      const canceled = await t.iot.send(
        new CancelJobCommand({ jobId: 'j2', force: true, reasonCode: 'BAD_BUILD', comment: 'stop' }),
      );
      assert.equal(canceled.jobId, 'j2');
      const job = await t.iot.send(new DescribeJobCommand({ jobId: 'j2' }));
      assert.equal(job.job?.status, 'CANCELED');
      assert.equal(job.job?.reasonCode, 'BAD_BUILD');
      assert.equal(job.job?.forceCanceled, true);
      assert.equal(job.job?.jobProcessDetails?.numberOfCanceledThings, 3);
      await rejectsWith(t.iot.send(new CancelJobCommand({ jobId: 'j2' })), 'InvalidRequestException');
      await t.iot.send(new DeleteJobCommand({ jobId: 'j2' }));
      await rejectsWith(t.iot.send(new DescribeJobCommand({ jobId: 'j2' })), 'ResourceNotFoundException');
      await t.iot.send(new DeleteJobTemplateCommand({ jobTemplateId: 'tpl' }));
      await rejectsWith(
        t.iot.send(new DescribeJobTemplateCommand({ jobTemplateId: 'tpl' })),
        'ResourceNotFoundException',
      );
    });
  });
}
