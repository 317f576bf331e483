import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CreateJobCommand, CreateThingGroupCommand, IoTClient } from '@aws-sdk/client-iot';
import { ManualClock } from '@otter/core';
import { createDatabase, RegistryStore } from '../store/index.js';
import { freshPostgresDatabase, TEST_DATABASE_URL } from '../testing/test-server.js';
import { ADMIN, JobEngine } from './job-engine.js';
import type { SchedulerReport } from './job-scheduler.js';

const THINGS = 10_000;
const STARTED = 2_000;
const LEAVERS = 100;
const KEY = { id: 'AKIAOTTERTEST0000001', secret: 'otter-test-secret-key' };

interface Child {
  proc: ChildProcess;
  url: string;
  output: string[];
}

function spawnServer(databaseUrl: string, dataDir: string): Promise<Child> {
  const script = fileURLToPath(new URL('./job-scheduler.process.ts', import.meta.url));
  const proc = fork(script, [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: {
      ...process.env,
      OTTER_DATABASE_URL: databaseUrl,
      OTTER_DATA_DIR: dataDir,
      OTTER_PORT: '0',
      OTTER_MQTT_PORT: 'off',
      OTTER_MQTT_WS_PORT: 'off',
      OTTER_DEVICE_TLS_PORT: 'off',
      OTTER_ACCESS_KEY_ID: KEY.id,
      OTTER_SECRET_ACCESS_KEY: KEY.secret,
      OTTER_SCHEDULER_INTERVAL_MS: '100',
      OTTER_LOG_LEVEL: 'error',
    },
  });
  const output: string[] = [];
  proc.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  proc.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  return new Promise((resolve, reject) => {
    proc.once('message', (m) => resolve({ proc, url: (m as { url: string }).url, output }));
    proc.once('exit', (code) => reject(new Error(`server process exited (${code}): ${output.join('')}`)));
  });
}

function stopServer(child: Child): Promise<SchedulerReport> {
  return new Promise((resolve) => {
    child.proc.once('message', (m) => resolve((m as { totals: SchedulerReport }).totals));
    child.proc.send('stop');
  });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 40_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs `fn` over `items`, `width` at a time. */
async function parallel<T>(items: T[], width: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(fn));
}

test('two server processes on one PostgreSQL: 10,000-thing CONTINUOUS job, one execution per thing, timeouts once', {
  skip: TEST_DATABASE_URL ? false : 'skipped: OTTER_TEST_DATABASE_URL is not set',
  timeout: 120_000,
}, async () => {
  const database = await freshPostgresDatabase(TEST_DATABASE_URL!);
  const dirs = [0, 1, 2].map(() => mkdtempSync(join(tmpdir(), 'otter-mp-')));
  const db = await createDatabase(database.url, dirs[2]!);
  const store = new RegistryStore(db);
  const children: Child[] = [];
  try {
    const names = Array.from({ length: THINGS }, (_, i) => `mp-${String(i).padStart(5, '0')}`);
    let t0 = Date.now();
    await parallel(names, 50, (thingName) => store.things.create({ thingName }, Date.now()));
    const created = Date.now() - t0;
    children.push(...(await Promise.all([0, 1].map((i) => spawnServer(database.url, dirs[i]!)))));
    const iot = new IoTClient({
      endpoint: children[0]!.url,
      region: 'eu-west-1',
      credentials: { accessKeyId: KEY.id, secretAccessKey: KEY.secret },
      maxAttempts: 1,
    });
    await iot.send(new CreateThingGroupCommand({ thingGroupName: 'fleet' }));
    await iot.send(
      new CreateJobCommand({
        jobId: 'continuous',
        targetSelection: 'CONTINUOUS',
        targets: ['arn:aws:iot:eu-west-1:123456789012:thinggroup/fleet'],
        document: '{"op":"update"}',
        timeoutConfig: { inProgressTimeoutInMinutes: 1 },
        jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'TIMED_OUT', numberOfRetries: 1 }] },
      }),
    );

    // Things join the target group while both schedulers run.
    t0 = Date.now();
    await parallel(names, 50, (thingName) => store.thingGroups.addThing('fleet', thingName));
    const added = Date.now() - t0;
    const count = async (sql: string) => Number((await db.get<{ n: number }>(sql))?.n);
    await until(
      'every thing to get an execution',
      async () =>
        (await count("SELECT COUNT(*) AS n FROM job_executions WHERE job_id = 'continuous'")) >= THINGS,
    );
    const allReleased = Date.now() - t0;

    // Devices start executions "two minutes ago": their in-progress timers are due at once.
    const engine = new JobEngine({ store, clock: new ManualClock(Date.now() - 2 * 60_000) });
    await parallel(names.slice(0, STARTED), 40, (t) => engine.startNext(ADMIN, t, {}));
    // Some things leave the group (not started ones): their QUEUED executions become REMOVED.
    await parallel(names.slice(THINGS - LEAVERS), 20, (t) => store.thingGroups.removeThing('fleet', t));
    await until('timeouts, retries and removals', async () => {
      const retries = await count(
        "SELECT COUNT(*) AS n FROM job_executions WHERE job_id = 'continuous' AND execution_number = 2",
      );
      const removed = await count("SELECT COUNT(*) AS n FROM job_executions WHERE status = 'REMOVED'");
      return retries >= STARTED && removed >= LEAVERS;
    });
    await new Promise((r) => setTimeout(r, 500)); // a few more passes on both sides: nothing more may happen
    const totals = await Promise.all(children.map(stopServer));
    const logs = children.map((c) => c.output.join(''));
    children.length = 0;
    for (const log of logs) assert.doesNotMatch(log, /job scheduler/, 'no pass or job failed');

    const rows = await db.all<{
      execution_number: number;
      status: string;
      version_number: number;
      n: number;
    }>(
      `SELECT execution_number, status, version_number, COUNT(*) AS n FROM job_executions
         WHERE job_id = 'continuous' GROUP BY execution_number, status, version_number
         ORDER BY execution_number, status, version_number`,
    );
    const table = rows.map((r) => [
      Number(r.execution_number),
      r.status,
      Number(r.version_number),
      Number(r.n),
    ]);
    assert.deepEqual(table, [
      [1, 'QUEUED', 1, THINGS - STARTED - LEAVERS],
      [1, 'REMOVED', 2, LEAVERS],
      [1, 'TIMED_OUT', 3, STARTED],
      [2, 'QUEUED', 1, STARTED],
    ]);
    assert.equal(
      await count("SELECT COUNT(DISTINCT thing_name) AS n FROM job_executions WHERE job_id = 'continuous'"),
      THINGS,
    );
    const sum = (k: keyof SchedulerReport) => totals.reduce((a, t) => a + t[k], 0);
    assert.equal(sum('joined'), THINGS, 'each thing joined once');
    assert.equal(sum('released'), THINGS, 'each thing released once');
    assert.equal(sum('timedOut'), STARTED, 'each timeout fired once');
    assert.equal(sum('retried'), STARTED, 'each retry created once');
    assert.equal(sum('removed'), LEAVERS);
    const work = (t: SchedulerReport) => t.released + t.timedOut + t.retried + t.removed;
    for (const t of totals) assert.ok(work(t) > 0, `both processes worked: ${JSON.stringify(totals)}`);
    console.log(
      `# ${THINGS} things created in ${created} ms, added to the group in ${added} ms, all released after ${allReleased} ms; per process: ${JSON.stringify(totals)}`,
    );
  } finally {
    for (const c of children) c.proc.kill();
    await db.close();
    await database.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});
