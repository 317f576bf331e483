import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  AddThingToThingGroupCommand,
  CreateDynamicThingGroupCommand,
  CreateJobCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  DescribeJobCommand,
  IoTClient,
  RemoveThingFromThingGroupCommand,
  UpdateThingCommand,
} from '@aws-sdk/client-iot';
import { ManualClock } from '@otter/core';
import { type RunningServer, startServer } from '../main.js';
import { BACKENDS, freshPostgresDatabase, TEST_DATABASE_URL } from '../testing/test-server.js';
import { ADMIN } from './job-engine.js';

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const MINUTE = 60_000;
const thingArn = (n: string) => `arn:aws:iot:${REGION}:${ACCOUNT}:thing/${n}`;
const groupArn = (n: string) => `arn:aws:iot:${REGION}:${ACCOUNT}:thinggroup/${n}`;
/** `yyyy-MM-ddTHH:mm` (UTC), the schedulingConfig time format. */
const scheduleTime = (t: number) => new Date(t).toISOString().slice(0, 16);

interface Storage {
  dataDir: string;
  databaseUrl?: string;
  drop(): Promise<void>;
}

async function storage(backend: string): Promise<Storage> {
  const dataDir = mkdtempSync(join(tmpdir(), 'otter-sched-'));
  const pg = backend === 'postgres' ? await freshPostgresDatabase(TEST_DATABASE_URL!) : undefined;
  return {
    dataDir,
    ...(pg ? { databaseUrl: pg.url } : {}),
    drop: async () => {
      await pg?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A real server on `storage` whose clock the test moves; the scheduler timer is off (tests call tick). */
async function boot(store: Storage, clock: ManualClock): Promise<{ server: RunningServer; iot: IoTClient }> {
  const server = await startServer({
    env: {},
    logger: false,
    clock,
    overrides: {
      port: 0,
      mqttPort: -1,
      mqttWsPort: -1,
      deviceTlsPort: -1,
      dataDir: store.dataDir,
      accessKeyId: 'AKIAOTTERTEST0000001',
      secretAccessKey: 'otter-test-secret-key',
      // The SDK signs with the real time; the server's clock is moved by hours.
      maxSkewSeconds: 10 ** 8,
      schedulerIntervalMs: 0,
      ...(store.databaseUrl ? { databaseUrl: store.databaseUrl } : {}),
    },
  });
  const iot = new IoTClient({
    endpoint: server.url,
    region: REGION,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    maxAttempts: 1,
  });
  return { server, iot };
}

async function things(iot: IoTClient, names: string[], group?: string): Promise<void> {
  for (const thingName of names) {
    await iot.send(new CreateThingCommand({ thingName }));
    if (group) await iot.send(new AddThingToThingGroupCommand({ thingGroupName: group, thingName }));
  }
}

const range = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);

async function executions(server: RunningServer, jobId: string) {
  return server.store.db.all<{
    thing_name: string;
    execution_number: number;
    status: string;
    version_number: number;
    retry_attempt: number;
  }>(
    `SELECT thing_name, execution_number, status, version_number, retry_attempt FROM job_executions
     WHERE job_id = ? ORDER BY thing_name, execution_number`,
    [jobId],
  );
}

const countBy = (rows: { status: string }[]) => {
  const out: Record<string, number> = {};
  for (const r of rows) out[r.status] = (out[r.status] ?? 0) + 1;
  return out;
};

/** A ManualClock near the real time, on a minute boundary. */
const clockNow = () => new ManualClock(Math.floor(Date.now() / MINUTE) * MINUTE);

for (const backend of BACKENDS) {
  describe(`job scheduler (${backend.name})`, { skip: backend.skip }, () => {
    test('pacing: maximumPerMinute releases per pacing minute, then the job completes', async () => {
      const store = await storage(backend.name);
      const clock = clockNow();
      const { server, iot } = await boot(store, clock);
      try {
        await iot.send(new CreateThingGroupCommand({ thingGroupName: 'fleet' }));
        await things(iot, range('p', 25), 'fleet');
        await iot.send(
          new CreateJobCommand({
            jobId: 'paced',
            targets: [groupArn('fleet')],
            document: '{"op":"x"}',
            jobExecutionsRolloutConfig: { maximumPerMinute: 10 },
          }),
        );
        assert.equal((await executions(server, 'paced')).length, 10);
        clock.advance(30_000);
        assert.equal((await server.scheduler.tick()).released, 0, 'nothing before the next minute');
        clock.advance(30_000);
        assert.equal((await server.scheduler.tick()).released, 10);
        assert.equal((await server.scheduler.tick()).released, 0, 'quota used for this minute');
        clock.advance(MINUTE);
        assert.equal((await server.scheduler.tick()).released, 5);
        const rows = await executions(server, 'paced');
        assert.equal(rows.length, 25);
        assert.equal(new Set(rows.map((r) => r.thing_name)).size, 25);
        const job = await server.store.jobs.describeJob('paced');
        assert.equal(job.rolloutComplete, true);
        assert.equal(job.nextDueAt, undefined);
        for (const r of rows)
          await server.services.jobs.updateExecution(ADMIN, r.thing_name, 'paced', { status: 'SUCCEEDED' });
        await server.scheduler.tick();
        const d = await iot.send(new DescribeJobCommand({ jobId: 'paced' }));
        assert.equal(d.job?.status, 'COMPLETED');
        assert.equal(d.job?.jobProcessDetails?.numberOfSucceededThings, 25);
      } finally {
        await server.close();
        await store.drop();
      }
    });

    test('exponential rate grows with things notified', async () => {
      const store = await storage(backend.name);
      const clock = clockNow();
      const { server, iot } = await boot(store, clock);
      try {
        await iot.send(new CreateThingGroupCommand({ thingGroupName: 'exp' }));
        await things(iot, range('e', 30), 'exp');
        await iot.send(
          new CreateJobCommand({
            jobId: 'exp',
            targets: [groupArn('exp')],
            document: '{}',
            jobExecutionsRolloutConfig: {
              exponentialRate: {
                baseRatePerMinute: 2,
                incrementFactor: 2,
                rateIncreaseCriteria: { numberOfNotifiedThings: 2 },
              },
            },
          }),
        );
        const released = [(await executions(server, 'exp')).length];
        for (let i = 0; i < 3; i++) {
          clock.advance(MINUTE);
          released.push((await server.scheduler.tick()).released);
        }
        // base 2; ×2 per 2 notified: 2 → (2 notified) 4 → (6 notified) 2·2^3 = 16 → rest (8).
        assert.deepEqual(released, [2, 4, 16, 8]);
      } finally {
        await server.close();
        await store.drop();
      }
    });

    test('a job created outside its maintenance window waits for the window', async () => {
      const store = await storage(backend.name);
      const clock = clockNow();
      const { server, iot } = await boot(store, clock);
      try {
        await things(iot, range('w', 3));
        const opens = clock.now() + 3 * 60 * MINUTE;
        const o = new Date(opens);
        await iot.send(
          new CreateJobCommand({
            jobId: 'window',
            targets: range('w', 3).map(thingArn),
            document: '{}',
            schedulingConfig: {
              maintenanceWindows: [
                { startTime: `cron(${o.getUTCMinutes()} ${o.getUTCHours()} * * ? *)`, durationInMinutes: 60 },
              ],
            },
          }),
        );
        assert.equal((await executions(server, 'window')).length, 0, 'nothing released outside the window');
        assert.equal((await server.scheduler.tick()).released, 0);
        clock.set(opens);
        assert.equal((await server.scheduler.tick()).released, 3);
        const job = (await iot.send(new DescribeJobCommand({ jobId: 'window' }))).job;
        assert.equal(job?.status, 'IN_PROGRESS');
      } finally {
        await server.close();
        await store.drop();
      }
    });

    test('scheduled start, maintenance window and endTime CANCEL', async () => {
      const store = await storage(backend.name);
      const clock = clockNow();
      const { server, iot } = await boot(store, clock);
      try {
        await things(iot, range('s', 4));
        const start = clock.now() + 40 * MINUTE;
        // A daily 30-minute window opening two hours after the start time.
        const opens = start + 2 * 60 * MINUTE;
        const o = new Date(opens);
        const end = opens + 6 * 60 * MINUTE;
        await iot.send(
          new CreateJobCommand({
            jobId: 'sched',
            targets: range('s', 4).map(thingArn),
            document: '{}',
            schedulingConfig: {
              startTime: scheduleTime(start),
              endTime: scheduleTime(end),
              endBehavior: 'CANCEL',
              maintenanceWindows: [
                {
                  startTime: `cron(${o.getUTCMinutes()} ${o.getUTCHours()} * * ? *)`,
                  durationInMinutes: 30,
                },
              ],
            },
          }),
        );
        const jobStatus = async () => (await iot.send(new DescribeJobCommand({ jobId: 'sched' }))).job;
        assert.equal((await jobStatus())?.status, 'SCHEDULED');
        assert.equal((await server.scheduler.tick()).released, 0);
        clock.set(start);
        assert.equal((await server.scheduler.tick()).released, 0, 'startTime reached, window still closed');
        assert.equal((await server.store.jobs.describeJob('sched')).nextDueAt, opens);
        assert.equal((await jobStatus())?.status, 'SCHEDULED');
        clock.set(opens);
        assert.equal((await server.scheduler.tick()).released, 4);
        assert.equal((await jobStatus())?.status, 'IN_PROGRESS');
        await server.services.jobs.startNext(ADMIN, 's-000', {});
        clock.set(end);
        const r = await server.scheduler.tick();
        assert.equal(r.ended, 1);
        const job = await jobStatus();
        assert.equal(job?.status, 'CANCELED');
        assert.equal(job?.reasonCode, 'END_TIME_REACHED');
        const counts = countBy(await executions(server, 'sched'));
        assert.deepEqual(counts, { IN_PROGRESS: 1, CANCELED: 3 }, 'CANCEL leaves IN_PROGRESS alone');
      } finally {
        await server.close();
        await store.drop();
      }
    });

    test('endTime STOP_ROLLOUT drops what was not released; FORCE_CANCEL cancels IN_PROGRESS', async () => {
      const store = await storage(backend.name);
      const clock = clockNow();
      const { server, iot } = await boot(store, clock);
      try {
        await things(iot, range('t', 6));
        const end = clock.now() + 40 * MINUTE;
        for (const [jobId, endBehavior] of [
          ['stop', 'STOP_ROLLOUT'],
          ['force', 'FORCE_CANCEL'],
        ] as const) {
          await iot.send(
            new CreateJobCommand({
              jobId,
              targets: range('t', 6).map(thingArn),
              document: '{}',
              jobExecutionsRolloutConfig: { maximumPerMinute: 2 },
              schedulingConfig: { endTime: scheduleTime(end), endBehavior },
            }),
          );
          await server.services.jobs.startNext(ADMIN, 't-000', {});
        }
        clock.set(end);
        assert.equal((await server.scheduler.tick()).ended, 2);
        const stop = await server.store.jobs.describeJob('stop');
        assert.equal(stop.rolloutComplete, true);
        assert.equal(stop.status, 'IN_PROGRESS', 'running executions finish first');
        assert.deepEqual(countBy(await executions(server, 'stop')), { IN_PROGRESS: 1, QUEUED: 1 });
        assert.equal((await server.store.jobs.describeJob('force')).status, 'CANCELED');
        assert.deepEqual(countBy(await executions(server, 'force')), { CANCELED: 2 });
      } finally {
        await server.close();
        await store.drop();
      }
    });

    test('timeouts fire once and retries follow jobExecutionsRetryConfig', async () => {
      const store = await storage(backend.name);
      const clock = clockNow();
      const { server, iot } = await boot(store, clock);
      const jobs = server.services.jobs;
      try {
        await things(iot, ['r-1', 'r-2', 'r-3']);
        await iot.send(
          new CreateJobCommand({
            jobId: 'retry',
            targets: ['r-1', 'r-2', 'r-3'].map(thingArn),
            document: '{}',
            timeoutConfig: { inProgressTimeoutInMinutes: 1 },
            jobExecutionsRetryConfig: {
              criteriaList: [
                { failureType: 'TIMED_OUT', numberOfRetries: 1 },
                { failureType: 'FAILED', numberOfRetries: 2 },
              ],
            },
          }),
        );
        await jobs.startNext(ADMIN, 'r-1', {});
        await jobs.startNext(ADMIN, 'r-2', { stepTimeoutInMinutes: 5 });
        await jobs.updateExecution(ADMIN, 'r-3', 'retry', { status: 'FAILED' });
        assert.equal((await server.store.jobs.describeJob('retry')).status, 'IN_PROGRESS', 'a retry is owed');
        clock.advance(MINUTE - 1);
        let r = await server.scheduler.tick();
        assert.equal(r.timedOut, 0);
        assert.equal(r.retried, 1, 'the FAILED execution is retried at once');
        clock.advance(1);
        r = await server.scheduler.tick();
        assert.equal(r.timedOut, 2);
        assert.equal(r.retried, 2);
        r = await server.scheduler.tick();
        assert.deepEqual([r.timedOut, r.retried], [0, 0], 'nothing fires twice');
        let rows = await executions(server, 'retry');
        assert.deepEqual(
          rows.map((e) => [e.thing_name, e.execution_number, e.status, e.version_number, e.retry_attempt]),
          [
            ['r-1', 1, 'TIMED_OUT', 3, 0],
            ['r-1', 2, 'QUEUED', 1, 1],
            ['r-2', 1, 'TIMED_OUT', 3, 0],
            ['r-2', 2, 'QUEUED', 1, 1],
            ['r-3', 1, 'FAILED', 2, 0],
            ['r-3', 2, 'QUEUED', 1, 1],
          ],
        );
        // Second attempts: TIMED_OUT allows one retry (used), FAILED two.
        for (const t of ['r-1', 'r-2', 'r-3']) await jobs.startNext(ADMIN, t, {});
        await jobs.updateExecution(ADMIN, 'r-3', 'retry', { status: 'FAILED' });
        clock.advance(MINUTE);
        r = await server.scheduler.tick();
        assert.deepEqual([r.timedOut, r.retried], [2, 1]);
        await jobs.startNext(ADMIN, 'r-3', {});
        await jobs.updateExecution(ADMIN, 'r-3', 'retry', { status: 'SUCCEEDED' });
        r = await server.scheduler.tick();
        rows = await executions(server, 'retry');
        assert.equal(rows.length, 7);
        const d = await iot.send(new DescribeJobCommand({ jobId: 'retry' }));
        assert.equal(d.job?.status, 'COMPLETED');
        assert.equal(d.job?.jobProcessDetails?.numberOfTimedOutThings, 2);
        assert.equal(d.job?.jobProcessDetails?.numberOfSucceededThings, 1);
      } finally {
        await server.close();
        await store.drop();
      }
    });

    test('abort criteria cancel the job and its QUEUED executions only', async () => {
      const store = await storage(backend.name);
      const clock = clockNow();
      const { server, iot } = await boot(store, clock);
      const jobs = server.services.jobs;
      try {
        const names = range('a', 10);
        await things(iot, names);
        await iot.send(
          new CreateJobCommand({
            jobId: 'abort',
            targets: names.map(thingArn),
            document: '{}',
            abortConfig: {
              criteriaList: [
                {
                  failureType: 'FAILED',
                  action: 'CANCEL',
                  thresholdPercentage: 50,
                  minNumberOfExecutedThings: 4,
                },
              ],
            },
          }),
        );
        await jobs.updateExecution(ADMIN, 'a-000', 'abort', { status: 'FAILED' });
        await jobs.updateExecution(ADMIN, 'a-001', 'abort', { status: 'FAILED' });
        await jobs.updateExecution(ADMIN, 'a-002', 'abort', { status: 'SUCCEEDED' });
        await jobs.startNext(ADMIN, 'a-003', {});
        assert.equal((await server.scheduler.tick()).aborted, 0, 'only 3 executed, minimum 4');
        await jobs.updateExecution(ADMIN, 'a-004', 'abort', { status: 'SUCCEEDED' });
        assert.equal((await server.scheduler.tick()).aborted, 1, '2 failed of 4 executed reaches 50 %');
        assert.equal((await server.scheduler.tick()).aborted, 0);
        const job = (await iot.send(new DescribeJobCommand({ jobId: 'abort' }))).job;
        assert.equal(job?.status, 'CANCELED');
        assert.equal(job?.reasonCode, 'ABORTED_FAILED');
        assert.deepEqual(countBy(await executions(server, 'abort')), {
          FAILED: 2,
          SUCCEEDED: 2,
          IN_PROGRESS: 1,
          CANCELED: 5,
        });
      } finally {
        await server.close();
        await store.drop();
      }
    });

    test('CONTINUOUS: static, child and dynamic group members join; leavers are REMOVED', async () => {
      const store = await storage(backend.name);
      const clock = clockNow();
      const { server, iot } = await boot(store, clock);
      try {
        await iot.send(new CreateThingGroupCommand({ thingGroupName: 'site' }));
        await iot.send(new CreateThingGroupCommand({ thingGroupName: 'rack', parentGroupName: 'site' }));
        await iot.send(
          new CreateDynamicThingGroupCommand({ thingGroupName: 'beta', queryString: 'attributes.ring:beta' }),
        );
        await things(iot, ['c-1'], 'site');
        await iot.send(
          new CreateJobCommand({
            jobId: 'cont',
            targetSelection: 'CONTINUOUS',
            targets: [groupArn('site'), groupArn('beta')],
            document: '{}',
          }),
        );
        assert.equal((await executions(server, 'cont')).length, 1);
        await things(iot, ['c-2'], 'rack');
        await things(iot, ['c-3']);
        await iot.send(
          new UpdateThingCommand({ thingName: 'c-3', attributePayload: { attributes: { ring: 'beta' } } }),
        );
        let r = await server.scheduler.tick();
        assert.deepEqual([r.joined, r.released], [2, 2]);
        assert.equal((await server.scheduler.tick()).joined, 0, 'joins once');
        await server.services.jobs.startNext(ADMIN, 'c-2', {});
        await iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: 'rack', thingName: 'c-2' }));
        await iot.send(
          new UpdateThingCommand({ thingName: 'c-3', attributePayload: { attributes: { ring: 'ga' } } }),
        );
        r = await server.scheduler.tick();
        assert.equal(r.removed, 2);
        const rows = await executions(server, 'cont');
        assert.deepEqual(
          rows.map((e) => [e.thing_name, e.status, e.version_number]),
          [
            ['c-1', 'QUEUED', 1],
            ['c-2', 'REMOVED', 3],
            ['c-3', 'REMOVED', 2],
          ],
        );
        assert.equal((await server.scheduler.tick()).removed, 0);
        assert.equal((await server.store.jobs.describeJob('cont')).status, 'IN_PROGRESS');
      } finally {
        await server.close();
        await store.drop();
      }
    });

    test('restart: a new server on the same database continues the rollout at its pace', async () => {
      const store = await storage(backend.name);
      const clock = clockNow();
      let { server, iot } = await boot(store, clock);
      try {
        await iot.send(new CreateThingGroupCommand({ thingGroupName: 'fleet' }));
        await things(iot, range('x', 12), 'fleet');
        await iot.send(
          new CreateJobCommand({
            jobId: 'restart',
            targets: [groupArn('fleet')],
            document: '{}',
            jobExecutionsRolloutConfig: { maximumPerMinute: 5 },
            timeoutConfig: { inProgressTimeoutInMinutes: 2 },
          }),
        );
        await server.services.jobs.startNext(ADMIN, 'x-000', {});
        await server.close();
        clock.advance(MINUTE);
        ({ server, iot } = await boot(store, clock));
        assert.equal((await server.scheduler.tick()).released, 5);
        assert.equal((await server.scheduler.tick()).released, 0);
        await server.close();
        clock.advance(MINUTE);
        ({ server, iot } = await boot(store, clock));
        const r = await server.scheduler.tick();
        assert.deepEqual([r.released, r.timedOut], [2, 1], 'the pace and the timer survived');
        assert.equal((await executions(server, 'restart')).length, 12);
      } finally {
        await server.close();
        await store.drop();
      }
    });
  });
}
