import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  AddThingToThingGroupCommand,
  AssociateTargetsWithJobCommand,
  CreateJobCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  DescribeJobCommand,
  DescribeJobExecutionCommand,
  IoTClient,
  ListJobExecutionsForJobCommand,
  RemoveThingFromThingGroupCommand,
} from '@aws-sdk/client-iot';
import { ManualClock } from '@otter/core';
import { connectAsync, type MqttClient } from 'mqtt';
import { type RunningServer, startServer } from '../main.js';
import { deviceToken } from '../mqtt/device-token.js';
import { nextMessage } from '../mqtt/testing.js';
import { BACKENDS, freshPostgresDatabase, TEST_DATABASE_URL } from '../testing/test-server.js';
import { ADMIN } from './job-engine.js';

/**
 * CONTINUOUS jobs: a thing whose execution was REMOVED (it left the target groups) and that comes
 * back gets a new attempt through the pending / rollout path; SNAPSHOT jobs and terminal outcomes
 * never re-run.
 */

const MINUTE = 60_000;
const SECRET = 'otter-test-secret-key';
const groupArn = (n: string) => `arn:aws:iot:eu-west-1:123456789012:thinggroup/${n}`;
const thingArn = (n: string) => `arn:aws:iot:eu-west-1:123456789012:thing/${n}`;
type Doc = Record<string, unknown>;

interface Booted {
  server: RunningServer;
  iot: IoTClient;
  device(thingName: string): Promise<MqttClient>;
  close(): Promise<void>;
}

/** A real server (embedded broker on a free port) whose clock the test moves; tests call tick. */
async function boot(backend: string, clock: ManualClock): Promise<Booted> {
  const dataDir = mkdtempSync(join(tmpdir(), 'otter-rejoin-'));
  const pg = backend === 'postgres' ? await freshPostgresDatabase(TEST_DATABASE_URL!) : undefined;
  const server = await startServer({
    env: {},
    logger: false,
    clock,
    overrides: {
      port: 0,
      mqttPort: 0,
      mqttWsPort: -1,
      deviceTlsPort: -1,
      dataDir,
      accessKeyId: 'AKIAOTTERTEST0000001',
      secretAccessKey: SECRET,
      // The SDK signs with the real time; the server's clock is moved by minutes.
      maxSkewSeconds: 10 ** 8,
      schedulerIntervalMs: 0,
      ...(pg ? { databaseUrl: pg.url } : {}),
    },
  });
  const iot = new IoTClient({
    endpoint: server.url,
    region: 'eu-west-1',
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    maxAttempts: 1,
  });
  const clients: MqttClient[] = [];
  return {
    server,
    iot,
    device: async (thingName) => {
      const client = await connectAsync(`mqtt://127.0.0.1:${server.mqtt.ports.mqtt}`, {
        clientId: thingName,
        username: thingName,
        password: deviceToken(SECRET, thingName),
        reconnectPeriod: 0,
        connectTimeout: 5000,
      });
      clients.push(client);
      return client;
    },
    close: async () => {
      await Promise.all(clients.map((c) => c.endAsync(true)));
      await server.close();
      await pg?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The first message on `topic` that satisfies `ok` (pushes are asynchronous: older ones may come first). */
async function messageWhere(client: MqttClient, topic: string, ok: (doc: Doc) => boolean): Promise<Doc> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const doc = await nextMessage(client, topic, Math.max(1, deadline - Date.now()));
    if (ok(doc)) return doc;
  }
}

async function things(iot: IoTClient, names: string[], group: string): Promise<void> {
  for (const thingName of names) {
    await iot.send(new CreateThingCommand({ thingName }));
    await iot.send(new AddThingToThingGroupCommand({ thingGroupName: group, thingName }));
  }
}

const join_ = (iot: IoTClient, thingName: string, thingGroupName: string) =>
  iot.send(new AddThingToThingGroupCommand({ thingGroupName, thingName }));
const leave = (iot: IoTClient, thingName: string, thingGroupName: string) =>
  iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName, thingName }));

/** Every attempt of the job: [thing, executionNumber, status, latest, retryAttempt]. */
async function attempts(server: RunningServer, jobId: string) {
  const rows = await server.store.db.all<{
    thing_name: string;
    execution_number: number;
    status: string;
    latest: number;
    retry_attempt: number;
  }>(
    `SELECT thing_name, execution_number, status, latest, retry_attempt FROM job_executions
     WHERE job_id = ? ORDER BY thing_name, execution_number`,
    [jobId],
  );
  return rows.map((r) => [
    r.thing_name,
    Number(r.execution_number),
    r.status,
    Number(r.latest),
    Number(r.retry_attempt),
  ]);
}

async function details(iot: IoTClient, jobId: string) {
  const d = (await iot.send(new DescribeJobCommand({ jobId }))).job?.jobProcessDetails;
  return {
    queued: d?.numberOfQueuedThings,
    inProgress: d?.numberOfInProgressThings,
    succeeded: d?.numberOfSucceededThings,
    removed: d?.numberOfRemovedThings,
  };
}

const clockNow = () => new ManualClock(Math.floor(Date.now() / MINUTE) * MINUTE);

for (const backend of BACKENDS) {
  describe(`CONTINUOUS rejoin (${backend.name})`, { skip: backend.skip }, () => {
    test('a REMOVED thing that rejoins gets a new attempt, again after a second leave; SUCCEEDED never re-runs', async () => {
      const clock = clockNow();
      const b = await boot(backend.name, clock);
      const { server, iot } = b;
      try {
        await iot.send(new CreateThingGroupCommand({ thingGroupName: 'fleet' }));
        await things(iot, ['r-1', 'r-2'], 'fleet');
        await iot.send(
          new CreateJobCommand({
            jobId: 'cj',
            targetSelection: 'CONTINUOUS',
            targets: [groupArn('fleet')],
            document: '{"op":"x"}',
          }),
        );
        await server.services.jobs.startNext(ADMIN, 'r-1', {});
        await server.services.jobs.updateExecution(ADMIN, 'r-2', 'cj', { status: 'SUCCEEDED' });

        // Both leave: r-1 (IN_PROGRESS) is REMOVED, r-2 keeps its outcome.
        await leave(iot, 'r-1', 'fleet');
        await leave(iot, 'r-2', 'fleet');
        let r = await server.scheduler.tick();
        assert.equal(r.removed, 1);
        assert.deepEqual(await details(iot, 'cj'), { queued: 0, inProgress: 0, succeeded: 1, removed: 1 });

        // Both come back: r-1 gets attempt 2 (notified), r-2 nothing.
        const dev = await b.device('r-1');
        await dev.subscribeAsync('$aws/things/r-1/jobs/notify-next', { qos: 1 });
        const pushed = messageWhere(
          dev,
          '$aws/things/r-1/jobs/notify-next',
          (d) => (d.execution as Doc | undefined)?.executionNumber === 2,
        );
        await join_(iot, 'r-1', 'fleet');
        await join_(iot, 'r-2', 'fleet');
        r = await server.scheduler.tick();
        assert.deepEqual([r.joined, r.released], [1, 1]);
        const next = (await pushed).execution as Doc;
        assert.deepEqual([next.jobId, next.status, next.versionNumber], ['cj', 'QUEUED', 1]);
        assert.deepEqual(next.jobDocument, { op: 'x' });
        assert.deepEqual(await attempts(server, 'cj'), [
          ['r-1', 1, 'REMOVED', 0, 0],
          ['r-1', 2, 'QUEUED', 1, 0],
          ['r-2', 1, 'SUCCEEDED', 1, 0],
        ]);
        // Counts are of latest attempts: the REMOVED one is history now.
        assert.deepEqual(await details(iot, 'cj'), { queued: 1, inProgress: 0, succeeded: 1, removed: 0 });
        const latest = await iot.send(new DescribeJobExecutionCommand({ jobId: 'cj', thingName: 'r-1' }));
        assert.deepEqual([latest.execution?.executionNumber, latest.execution?.status], [2, 'QUEUED']);
        const first = await iot.send(
          new DescribeJobExecutionCommand({ jobId: 'cj', thingName: 'r-1', executionNumber: 1 }),
        );
        assert.equal(first.execution?.status, 'REMOVED');
        r = await server.scheduler.tick();
        assert.deepEqual([r.joined, r.released], [0, 0], 'rejoins once');

        // The new attempt runs like any other; leave and rejoin again: attempt 3.
        const started = await server.services.jobs.startNext(ADMIN, 'r-1', {});
        assert.equal(started?.executionNumber, 2);
        await leave(iot, 'r-1', 'fleet');
        assert.equal((await server.scheduler.tick()).removed, 1);
        await join_(iot, 'r-1', 'fleet');
        r = await server.scheduler.tick();
        assert.deepEqual([r.joined, r.released], [1, 1]);
        assert.deepEqual(await attempts(server, 'cj'), [
          ['r-1', 1, 'REMOVED', 0, 0],
          ['r-1', 2, 'REMOVED', 0, 0],
          ['r-1', 3, 'QUEUED', 1, 0],
          ['r-2', 1, 'SUCCEEDED', 1, 0],
        ]);
        const listed = await iot.send(new ListJobExecutionsForJobCommand({ jobId: 'cj' }));
        assert.deepEqual(
          listed.executionSummaries?.map((e) => [
            e.thingArn?.split('/').pop(),
            e.jobExecutionSummary?.executionNumber,
          ]),
          [
            ['r-1', 3],
            ['r-2', 1],
          ],
        );
        await server.services.jobs.updateExecution(ADMIN, 'r-1', 'cj', { status: 'SUCCEEDED' });
        assert.deepEqual(await details(iot, 'cj'), { queued: 0, inProgress: 0, succeeded: 2, removed: 0 });
      } finally {
        await b.close();
      }
    });

    test('rejoiners wait for the rollout pace; one that leaves again before its release stays REMOVED', async () => {
      const clock = clockNow();
      const b = await boot(backend.name, clock);
      const { server, iot } = b;
      try {
        await iot.send(new CreateThingGroupCommand({ thingGroupName: 'paced' }));
        await things(iot, ['p-a', 'p-b'], 'paced');
        await iot.send(
          new CreateJobCommand({
            jobId: 'pj',
            targetSelection: 'CONTINUOUS',
            targets: [groupArn('paced')],
            document: '{}',
            jobExecutionsRolloutConfig: { maximumPerMinute: 2 },
          }),
        );
        assert.equal((await attempts(server, 'pj')).length, 2, 'the first minute releases both');
        await leave(iot, 'p-a', 'paced');
        await leave(iot, 'p-b', 'paced');
        assert.equal((await server.scheduler.tick()).removed, 2);
        await join_(iot, 'p-a', 'paced');
        await join_(iot, 'p-b', 'paced');
        let r = await server.scheduler.tick();
        assert.deepEqual([r.joined, r.released], [2, 0], "this minute's quota is used");
        assert.deepEqual((await details(iot, 'pj')).removed, 2, 'pending rejoiners still count as REMOVED');
        await leave(iot, 'p-a', 'paced');
        r = await server.scheduler.tick();
        assert.deepEqual([r.joined, r.released, r.removed], [0, 0, 0]);
        clock.advance(MINUTE);
        r = await server.scheduler.tick();
        assert.deepEqual([r.joined, r.released], [0, 1]);
        assert.deepEqual(await attempts(server, 'pj'), [
          ['p-a', 1, 'REMOVED', 1, 0],
          ['p-b', 1, 'REMOVED', 0, 0],
          ['p-b', 2, 'QUEUED', 1, 0],
        ]);
        const job = await server.store.jobs.describeJob('pj');
        assert.equal(job.releasedCount, 3, 'a rejoin counts as released (rollout pacing)');
        assert.equal(job.rolloutComplete, true);
      } finally {
        await b.close();
      }
    });

    test('a retried execution keeps its retryAttempt when it rejoins', async () => {
      const clock = clockNow();
      const b = await boot(backend.name, clock);
      const { server, iot } = b;
      try {
        await iot.send(new CreateThingGroupCommand({ thingGroupName: 'retry' }));
        await things(iot, ['t-1'], 'retry');
        await iot.send(
          new CreateJobCommand({
            jobId: 'rj',
            targetSelection: 'CONTINUOUS',
            targets: [groupArn('retry')],
            document: '{}',
            jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'FAILED', numberOfRetries: 1 }] },
          }),
        );
        await server.services.jobs.updateExecution(ADMIN, 't-1', 'rj', { status: 'FAILED' });
        assert.equal((await server.scheduler.tick()).retried, 1);
        await leave(iot, 't-1', 'retry');
        assert.equal((await server.scheduler.tick()).removed, 1);
        await join_(iot, 't-1', 'retry');
        assert.equal((await server.scheduler.tick()).released, 1);
        await server.services.jobs.updateExecution(ADMIN, 't-1', 'rj', { status: 'FAILED' });
        assert.equal((await server.scheduler.tick()).retried, 0, 'the one retry allowed was used');
        assert.deepEqual(await attempts(server, 'rj'), [
          ['t-1', 1, 'FAILED', 0, 0],
          ['t-1', 2, 'REMOVED', 0, 1],
          ['t-1', 3, 'FAILED', 1, 1],
        ]);
      } finally {
        await b.close();
      }
    });

    test('AssociateTargetsWithJob brings a REMOVED thing back by name', async () => {
      const clock = clockNow();
      const b = await boot(backend.name, clock);
      const { server, iot } = b;
      try {
        await iot.send(new CreateThingGroupCommand({ thingGroupName: 'named' }));
        await things(iot, ['n-1'], 'named');
        await iot.send(
          new CreateJobCommand({
            jobId: 'nj',
            targetSelection: 'CONTINUOUS',
            targets: [groupArn('named')],
            document: '{}',
          }),
        );
        await leave(iot, 'n-1', 'named');
        assert.equal((await server.scheduler.tick()).removed, 1);
        await iot.send(new AssociateTargetsWithJobCommand({ jobId: 'nj', targets: [thingArn('n-1')] }));
        const r = await server.scheduler.tick();
        assert.deepEqual([r.joined, r.released], [1, 1]);
        assert.deepEqual(await attempts(server, 'nj'), [
          ['n-1', 1, 'REMOVED', 0, 0],
          ['n-1', 2, 'QUEUED', 1, 0],
        ]);
      } finally {
        await b.close();
      }
    });

    test('SNAPSHOT jobs never re-add: leaving and rejoining the group changes nothing', async () => {
      const clock = clockNow();
      const b = await boot(backend.name, clock);
      const { server, iot } = b;
      try {
        await iot.send(new CreateThingGroupCommand({ thingGroupName: 'snap' }));
        await things(iot, ['s-1', 's-2'], 'snap');
        await iot.send(new CreateJobCommand({ jobId: 'sj', targets: [groupArn('snap')], document: '{}' }));
        await server.services.jobs.startNext(ADMIN, 's-1', {});
        await leave(iot, 's-1', 'snap');
        let r = await server.scheduler.tick();
        assert.deepEqual([r.joined, r.removed, r.released], [0, 0, 0]);
        await join_(iot, 's-1', 'snap');
        await things(iot, ['s-3'], 'snap');
        r = await server.scheduler.tick();
        assert.deepEqual([r.joined, r.removed, r.released], [0, 0, 0]);
        assert.deepEqual(await attempts(server, 'sj'), [
          ['s-1', 1, 'IN_PROGRESS', 1, 0],
          ['s-2', 1, 'QUEUED', 1, 0],
        ]);
      } finally {
        await b.close();
      }
    });
  });
}
