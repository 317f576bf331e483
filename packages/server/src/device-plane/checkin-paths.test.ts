import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  AttachThingPrincipalCommand,
  CreateJobCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  DeleteThingCommand,
  DetachThingPrincipalCommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import type { Execution } from '@otter/core';
import {
  type DeviceAuthError,
  type DeviceAuthFailure,
  identifyDevice,
  VerifiedCertificates,
} from '../services/device-identity.js';
import { JobEngine, type JobNotifier } from '../services/job-engine.js';
import { makeDeviceCert } from '../services/pki-test-support.js';
import { createDatabase, RegistryStore } from '../store/index.js';
import { BACKENDS, startTestServer, type TestServer } from '../testing/test-server.js';

const der = (pem: string) => new X509Certificate(pem).raw;
const thing = { kind: 'thing' } as const;
const ids = (list: Execution[]) => list.map((e) => `${e.jobId}:${e.status}`);

/** Remembers the names the engine reports, as the MQTT notifier would receive them. */
class RecordingNotifier implements JobNotifier {
  readonly names: string[] = [];
  async executionsChanged(thingNames: readonly string[]): Promise<void> {
    this.names.push(...thingNames);
  }
}

for (const backend of BACKENDS) {
  describe(`device check-in paths (${backend.name})`, { skip: backend.skip }, () => {
    let s: TestServer;
    let store: RegistryStore;
    let engine: JobEngine;
    const notifier = new RecordingNotifier();
    const arn = (r: string) => `arn:aws:iot:us-east-1:123456789012:${r}`;
    const refused = (p: Promise<unknown>, reason: DeviceAuthFailure) =>
      assert.rejects(p, (e: DeviceAuthError) => {
        assert.equal(e.type, 'UnauthorizedException');
        assert.equal(e.reason, reason);
        return true;
      });

    before(async () => {
      s = await startTestServer(backend.name);
      // A second engine on the same database, with a notifier whose calls the test can read.
      store = new RegistryStore(await createDatabase(s.server.config.databaseUrl, s.server.config.dataDir));
      engine = new JobEngine({ store, clock: { now: () => Date.now() }, notifier });
      for (const t of ['ci-1', 'ci-2', 'ci-3']) await s.iot.send(new CreateThingCommand({ thingName: t }));
    });
    after(async () => {
      await store?.close();
      await s?.close();
    });

    test('one query tells an unknown thing, a thing with nothing pending and pending work apart', async () => {
      await assert.rejects(engine.pending({ ...thing, thingName: 'nobody' }, 'nobody'), {
        type: 'ResourceNotFoundException',
        message: 'Thing nobody cannot be found.',
      });
      assert.deepEqual(await engine.pending({ ...thing, thingName: 'ci-3' }, 'ci-3'), {
        inProgress: [],
        queued: [],
      });
      for (const jobId of ['ci-a', 'ci-b']) {
        await s.iot.send(
          new CreateJobCommand({ jobId, targets: [arn('thing/ci-1'), arn('thing/ci-2')], document: '{}' }),
        );
      }
      const started = await engine.startNextWithJob({ ...thing, thingName: 'ci-1' }, 'ci-1', {});
      assert.equal(started?.execution.jobId, 'ci-a');
      assert.equal(started?.job.jobId, 'ci-a');
      const one = await engine.pending({ ...thing, thingName: 'ci-1' }, 'ci-1');
      assert.deepEqual(ids(one.inProgress), ['ci-a:IN_PROGRESS']);
      assert.deepEqual(ids(one.queued), ['ci-b:QUEUED']);

      // The notifier's batch read: same answer per thing; unknown things are left out.
      const batch = await engine.pendingOfThings(['ci-1', 'ci-2', 'ci-3', 'nobody', 'ci-1']);
      assert.deepEqual([...batch.keys()].sort(), ['ci-1', 'ci-2', 'ci-3']);
      assert.deepEqual(batch.get('ci-1'), one);
      assert.deepEqual(ids(batch.get('ci-2')!.queued), ['ci-a:QUEUED', 'ci-b:QUEUED']);
      assert.deepEqual(batch.get('ci-3'), { inProgress: [], queued: [] });
    });

    test('a progress report pushes nothing; a status change does', async () => {
      notifier.names.length = 0;
      const ci1 = { ...thing, thingName: 'ci-1' };
      await engine.updateExecution(ci1, 'ci-1', 'ci-a', {
        status: 'IN_PROGRESS',
        statusDetails: { step: 'flash' },
      });
      assert.deepEqual(notifier.names, []);
      const { execution } = await engine.updateExecution(ci1, 'ci-1', 'ci-a', { status: 'SUCCEEDED' });
      assert.equal(execution.status, 'SUCCEEDED');
      assert.deepEqual(notifier.names, ['ci-1']);
    });

    test('CreateJob answers first; the affected things reach the notifier right after', async () => {
      notifier.names.length = 0;
      await engine.createJob(
        { jobId: 'ci-c', targets: [arn('thing/ci-2'), arn('thing/ci-3')], document: '{}' },
        arn,
      );
      await engine.notificationsQueued();
      assert.deepEqual([...notifier.names].sort(), ['ci-2', 'ci-3']);
    });

    test('a deleted thing drops out of the batch read', async () => {
      await s.iot.send(new DeleteThingCommand({ thingName: 'ci-3' }));
      const batch = await engine.pendingOfThings(['ci-2', 'ci-3']);
      assert.deepEqual([...batch.keys()], ['ci-2']);
    });

    test('with the per-listener certificate cache, status and attachment changes apply at the next call', async () => {
      const verified = new VerifiedCertificates();
      const opts = { verified };
      const c = await s.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
      await s.iot.send(new AttachThingPrincipalCommand({ thingName: 'ci-1', principal: c.certificateArn! }));
      const bytes = der(c.certificatePem!);
      assert.equal((await identifyDevice(store, bytes, undefined, opts)).thingName, 'ci-1');
      assert.equal((await identifyDevice(store, bytes, undefined, opts)).thingName, 'ci-1');
      await s.iot.send(
        new UpdateCertificateCommand({ certificateId: c.certificateId, newStatus: 'INACTIVE' }),
      );
      await refused(identifyDevice(store, bytes, undefined, opts), 'NOT_ACTIVE');
      await s.iot.send(new UpdateCertificateCommand({ certificateId: c.certificateId, newStatus: 'ACTIVE' }));
      assert.equal((await identifyDevice(store, bytes, undefined, opts)).thingName, 'ci-1');
      await s.iot.send(new DetachThingPrincipalCommand({ thingName: 'ci-1', principal: c.certificateArn! }));
      await refused(identifyDevice(store, bytes, undefined, opts), 'NO_THING');
      const junk = Buffer.from('not a certificate');
      await refused(identifyDevice(store, junk, undefined, opts), 'MALFORMED_CERTIFICATE');
      await refused(identifyDevice(store, junk, undefined, opts), 'MALFORMED_CERTIFICATE');
      const foreign = der(await makeDeviceCert());
      await refused(identifyDevice(store, foreign, undefined, opts), 'UNKNOWN_CERTIFICATE');
      await refused(identifyDevice(store, foreign, undefined, opts), 'UNKNOWN_CERTIFICATE');
    });
  });
}
