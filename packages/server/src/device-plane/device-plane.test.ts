import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  DescribeJobExecutionCommand as AdminDescribeExecutionCommand,
  AttachThingPrincipalCommand,
  CreateJobCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import {
  DeleteThingShadowCommand,
  GetThingShadowCommand,
  ListNamedShadowsForThingCommand,
  UpdateThingShadowCommand,
} from '@aws-sdk/client-iot-data-plane';
import {
  DescribeJobExecutionCommand,
  GetPendingJobExecutionsCommand,
  StartNextPendingJobExecutionCommand,
  UpdateJobExecutionCommand,
} from '@aws-sdk/client-iot-jobs-data-plane';
import fc from 'fast-check';
import { getCaCertificatePem } from '../services/device-ca.js';
import { rejectsWith } from '../testing/assertions.js';
import { BACKENDS, startTestServer, type TestServer } from '../testing/test-server.js';
import {
  type ClientCert,
  type DeviceClients,
  deviceClients,
  httpsRequest,
  issueTestCertificate,
  makeCa,
} from './device-plane-test-support.js';

const utf8 = (b: Uint8Array | undefined) => JSON.parse(Buffer.from(b ?? []).toString('utf8'));
const shadow = (doc: object) => Buffer.from(JSON.stringify(doc));

for (const backend of BACKENDS) {
  describe(`device TLS listener (${backend.name})`, { skip: backend.skip }, () => {
    let t: TestServer;
    let ca: string;
    let url: string;
    let arn: (r: string) => string;
    const certs: Record<string, ClientCert & { id: string; arn: string }> = {};
    let sensor1: DeviceClients;

    /** CreateKeysAndCertificate (ACTIVE) and AttachThingPrincipal on the running server. */
    const certificateFor = async (thingName?: string) => {
      const made = await t.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
      if (thingName)
        await t.iot.send(new AttachThingPrincipalCommand({ thingName, principal: made.certificateArn! }));
      return {
        cert: made.certificatePem!,
        key: made.keyPair!.PrivateKey!,
        id: made.certificateId!,
        arn: made.certificateArn!,
      };
    };

    before(async () => {
      t = await startTestServer(backend.name);
      assert.ok(t.server.deviceUrl?.startsWith('https://127.0.0.1:'));
      url = t.server.deviceUrl!;
      ca = await getCaCertificatePem(t.server.store);
      arn = (r) => `arn:aws:iot:${t.region}:${t.server.config.accountId}:${r}`;
      for (const name of ['sensor-1', 'sensor-2'])
        await t.iot.send(new CreateThingCommand({ thingName: name }));
      certs['sensor-1'] = await certificateFor('sensor-1');
      certs['sensor-2'] = await certificateFor('sensor-2');
      sensor1 = deviceClients(url, ca, certs['sensor-1']);
      await t.iot.send(
        new CreateJobCommand({
          jobId: 'ota-1',
          targets: [arn('thing/sensor-1'), arn('thing/sensor-2')],
          document: JSON.stringify({ operation: 'install', version: '2.0.0' }),
        }),
      );
    });
    after(async () => {
      await t?.close();
    });

    test('a device runs its own job over HTTPS with the real jobs client', async () => {
      const pending = await sensor1.jobs.send(new GetPendingJobExecutionsCommand({ thingName: 'sensor-1' }));
      assert.deepEqual(
        pending.queuedJobs?.map((j) => j.jobId),
        ['ota-1'],
      );
      const next = await sensor1.jobs.send(
        new DescribeJobExecutionCommand({ thingName: 'sensor-1', jobId: '$next', includeJobDocument: true }),
      );
      assert.equal(next.execution?.jobId, 'ota-1');
      assert.equal(next.execution?.status, 'QUEUED');
      const started = await sensor1.jobs.send(
        new StartNextPendingJobExecutionCommand({
          thingName: 'sensor-1',
          statusDetails: { step: 'download' },
        }),
      );
      assert.equal(started.execution?.status, 'IN_PROGRESS');
      assert.deepEqual(JSON.parse(started.execution?.jobDocument ?? ''), {
        operation: 'install',
        version: '2.0.0',
      });
      const updated = await sensor1.jobs.send(
        new UpdateJobExecutionCommand({
          thingName: 'sensor-1',
          jobId: 'ota-1',
          status: 'SUCCEEDED',
          includeJobExecutionState: true,
        }),
      );
      assert.equal(updated.executionState?.status, 'SUCCEEDED');
      const described = await sensor1.jobs.send(
        new DescribeJobExecutionCommand({ thingName: 'sensor-1', jobId: 'ota-1' }),
      );
      assert.equal(described.execution?.status, 'SUCCEEDED');
    });

    test('a device reads and writes its own shadows (classic and named) with the real data client', async () => {
      await sensor1.data.send(
        new UpdateThingShadowCommand({
          thingName: 'sensor-1',
          payload: shadow({ state: { reported: { firmware: '2.0.0' } } }),
        }),
      );
      await sensor1.data.send(
        new UpdateThingShadowCommand({
          thingName: 'sensor-1',
          shadowName: 'config',
          payload: shadow({ state: { reported: { interval: 30 } } }),
        }),
      );
      const got = await sensor1.data.send(new GetThingShadowCommand({ thingName: 'sensor-1' }));
      assert.equal(utf8(got.payload).state.reported.firmware, '2.0.0');
      const named = await sensor1.data.send(
        new GetThingShadowCommand({ thingName: 'sensor-1', shadowName: 'config' }),
      );
      assert.equal(utf8(named.payload).state.reported.interval, 30);
      const list = await sensor1.data.send(new ListNamedShadowsForThingCommand({ thingName: 'sensor-1' }));
      assert.deepEqual(list.results, ['config']);
      await sensor1.data.send(new DeleteThingShadowCommand({ thingName: 'sensor-1', shadowName: 'config' }));
      await rejectsWith(
        sensor1.data.send(new GetThingShadowCommand({ thingName: 'sensor-1', shadowName: 'config' })),
        'ResourceNotFoundException',
        404,
      );
      // The admin sees what the device wrote.
      const admin = await t.data.send(new GetThingShadowCommand({ thingName: 'sensor-1' }));
      assert.equal(utf8(admin.payload).state.reported.firmware, '2.0.0');
    });

    test("another thing's jobs and shadows answer 403 ForbiddenException and change nothing", async () => {
      const forbidden = /certificate of thing sensor-1 may not access thing sensor-2/;
      await rejectsWith(
        sensor1.jobs.send(new GetPendingJobExecutionsCommand({ thingName: 'sensor-2' })),
        'ForbiddenException',
        403,
        forbidden,
      );
      await rejectsWith(
        sensor1.jobs.send(new StartNextPendingJobExecutionCommand({ thingName: 'sensor-2' })),
        'ForbiddenException',
        403,
        forbidden,
      );
      await rejectsWith(
        sensor1.jobs.send(new DescribeJobExecutionCommand({ thingName: 'sensor-2', jobId: '$next' })),
        'ForbiddenException',
        403,
      );
      await rejectsWith(
        sensor1.jobs.send(
          new UpdateJobExecutionCommand({ thingName: 'sensor-2', jobId: 'ota-1', status: 'FAILED' }),
        ),
        'ForbiddenException',
        403,
      );
      await rejectsWith(
        sensor1.data.send(
          new UpdateThingShadowCommand({
            thingName: 'sensor-2',
            payload: shadow({ state: { desired: { x: 1 } } }),
          }),
        ),
        'ForbiddenException',
        403,
      );
      await rejectsWith(
        sensor1.data.send(new GetThingShadowCommand({ thingName: 'sensor-2' })),
        'ForbiddenException',
        403,
      );
      await rejectsWith(
        sensor1.data.send(new ListNamedShadowsForThingCommand({ thingName: 'sensor-2' })),
        'ForbiddenException',
        403,
      );
      const other = await t.iot.send(
        new AdminDescribeExecutionCommand({ thingName: 'sensor-2', jobId: 'ota-1' }),
      );
      assert.equal(other.execution?.status, 'QUEUED');
      await rejectsWith(
        t.data.send(new GetThingShadowCommand({ thingName: 'sensor-2' })),
        'ResourceNotFoundException',
        404,
      );
      // sensor-2's own certificate reaches sensor-2.
      const sensor2 = deviceClients(url, ca, certs['sensor-2']);
      const pending = await sensor2.jobs.send(new GetPendingJobExecutionsCommand({ thingName: 'sensor-2' }));
      assert.deepEqual(
        pending.queuedJobs?.map((j) => j.jobId),
        ['ota-1'],
      );
    });

    test('admins use SigV4 on the TLS port without a client certificate', async () => {
      const admin = deviceClients(url, ca, undefined, {
        accessKeyId: t.server.accessKeyId,
        secretAccessKey: t.server.secretAccessKey,
      });
      const pending = await admin.jobs.send(new GetPendingJobExecutionsCommand({ thingName: 'sensor-2' }));
      assert.deepEqual(
        pending.queuedJobs?.map((j) => j.jobId),
        ['ota-1'],
      );
      await admin.data.send(
        new UpdateThingShadowCommand({
          thingName: 'sensor-2',
          payload: shadow({ state: { desired: { on: true } } }),
        }),
      );
      await admin.data.send(new DeleteThingShadowCommand({ thingName: 'sensor-2' }));
      // The control plane is not served here.
      const listThings = await httpsRequest(`${url}/things`, ca, undefined, 'GET');
      assert.equal(listThings.status, 404);
      assert.equal(listThings.errorType, 'UnknownOperationException');
    });

    test('no client certificate: refused with a clear message (or a failed signature)', async () => {
      const bare = await httpsRequest(`${url}/things/sensor-1/jobs`, ca, undefined, 'GET');
      assert.equal(bare.status, 401);
      assert.equal(bare.errorType, 'UnauthorizedException');
      assert.match(JSON.parse(bare.body).message, /No client certificate was presented/);
      const dummy = deviceClients(url, ca, undefined);
      await assert.rejects(
        dummy.jobs.send(new GetPendingJobExecutionsCommand({ thingName: 'sensor-1' })),
        (e: { $metadata: { httpStatusCode?: number } }) => e.$metadata.httpStatusCode === 403,
      );
    });

    test('INACTIVE and REVOKED certificates are refused (401) from the next request on', async () => {
      const cert = await certificateFor('sensor-1');
      const device = deviceClients(url, ca, cert);
      await device.jobs.send(new GetPendingJobExecutionsCommand({ thingName: 'sensor-1' }));
      await t.iot.send(new UpdateCertificateCommand({ certificateId: cert.id, newStatus: 'INACTIVE' }));
      await rejectsWith(
        device.jobs.send(new GetPendingJobExecutionsCommand({ thingName: 'sensor-1' })),
        'UnauthorizedException',
        401,
        /is INACTIVE, not ACTIVE/,
      );
      await rejectsWith(
        device.data.send(new GetThingShadowCommand({ thingName: 'sensor-1' })),
        'UnauthorizedException',
        401,
        /is INACTIVE, not ACTIVE/,
      );
      await t.iot.send(new UpdateCertificateCommand({ certificateId: cert.id, newStatus: 'ACTIVE' }));
      await device.jobs.send(new GetPendingJobExecutionsCommand({ thingName: 'sensor-1' }));
      await t.iot.send(new UpdateCertificateCommand({ certificateId: cert.id, newStatus: 'REVOKED' }));
      await rejectsWith(
        device.jobs.send(new GetPendingJobExecutionsCommand({ thingName: 'sensor-1' })),
        'UnauthorizedException',
        401,
        /is REVOKED, not ACTIVE/,
      );
    });

    test('a certificate of an unknown CA, or one attached to no thing, is refused (401)', async () => {
      const foreign = await issueTestCertificate(await makeCa('CN=Somebody Else CA'));
      const stranger = deviceClients(url, ca, foreign);
      await rejectsWith(
        stranger.jobs.send(new GetPendingJobExecutionsCommand({ thingName: 'sensor-1' })),
        'UnauthorizedException',
        401,
        /is not registered/,
      );
      await rejectsWith(
        stranger.data.send(new GetThingShadowCommand({ thingName: 'sensor-1' })),
        'UnauthorizedException',
        401,
      );
      const loose = deviceClients(url, ca, await certificateFor(undefined));
      await rejectsWith(
        loose.jobs.send(new GetPendingJobExecutionsCommand({ thingName: 'sensor-1' })),
        'UnauthorizedException',
        401,
        /is not attached to any thing/,
      );
    });

    test('property: a device reaches a thing exactly when the path names its own thing', async () => {
      const cert = certs['sensor-1']!;
      const thingChar = fc.constantFrom(
        ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_-',
      );
      const thingName = fc.oneof(
        fc.constant('sensor-1'),
        fc.constant('sensor-2'),
        fc.constant('Sensor-1'),
        fc.constant('sensor-1 '),
        fc.string({ unit: thingChar, minLength: 1, maxLength: 20 }),
        // `.` and `..` are left out: the URL parser would take `%2E` as a dot segment and drop it.
        fc.string({ minLength: 1, maxLength: 12 }).filter((n) => n !== '.' && n !== '..'),
      );
      // Each character either as is (when URL-safe) or percent-encoded: the listener compares decoded names.
      const encoded = thingName.chain((name) =>
        fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((raw) => ({
          name,
          path: [...name]
            .map((c, i) =>
              raw[i] && /[A-Za-z0-9_-]/.test(c)
                ? c
                : [...Buffer.from(c, 'utf8')]
                    .map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`)
                    .join(''),
            )
            .join(''),
        })),
      );
      const route = fc.constantFrom(
        ['GET', '/jobs'],
        ['GET', '/jobs/$next'],
        ['GET', '/jobs/ota-1'],
        ['GET', '/shadow'],
        ['GET', '/shadow?name=config'],
        ['POST', '/shadow?name=prop'],
      );
      await fc.assert(
        fc.asyncProperty(encoded, route, async ({ name, path }, [method, suffix]) => {
          const body = method === 'POST' ? JSON.stringify({ state: { reported: { n: 1 } } }) : undefined;
          const res = await httpsRequest(`${url}/things/${path}${suffix}`, ca, cert, method!, body);
          if (name === 'sensor-1') {
            assert.ok(![401, 403].includes(res.status), `${name} ${suffix}: ${res.status} ${res.body}`);
          } else {
            assert.equal(res.status, 403, `${JSON.stringify(name)} ${suffix}: ${res.status} ${res.body}`);
            assert.equal(res.errorType, 'ForbiddenException');
          }
        }),
        { numRuns: 60 },
      );
      // Nothing of another thing was written.
      await rejectsWith(
        t.data.send(new GetThingShadowCommand({ thingName: 'sensor-2', shadowName: 'prop' })),
        'ResourceNotFoundException',
        404,
      );
    });
  });
}
