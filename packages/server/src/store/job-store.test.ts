import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ManualClock } from '@otter/core';
import { JobEngine } from '../services/job-engine.js';
import { JobScheduler } from '../services/job-scheduler.js';
import { freshPostgresDatabase, TEST_DATABASE_URL } from '../testing/test-server.js';
import { migrate } from './migrations.js';
import { openPostgresDatabase } from './postgres/postgres-database.js';
import { RegistryStore } from './registry-store.js';
import type { SqlDatabase } from './sql/sql-database.js';
import { openSqliteDatabase } from './sqlite/sqlite-database.js';

const dir = mkdtempSync(join(tmpdir(), 'otter-jobs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Targets in the scale test; OTTER_JOBS_SCALE=100000 measures the 100,000-thing case. */
const SCALE = Number(process.env.OTTER_JOBS_SCALE ?? 10_000);
const arn = (r: string) => `arn:aws:iot:us-east-1:123456789012:${r}`;

/** Seeds `n` things in group `big` with bulk SQL (fixture data; the job path under test is real). */
async function seedGroup(db: SqlDatabase, n: number): Promise<void> {
  await db.run(
    "INSERT INTO thing_groups (name, id, attributes, version, created_at) VALUES ('big', 'g1', '{}', 1, 0)",
  );
  for (let i = 0; i < n; i += 500) {
    const names = Array.from(
      { length: Math.min(500, n - i) },
      (_, k) => `t${String(i + k).padStart(7, '0')}`,
    );
    await db.run(
      `INSERT INTO things (thing_name, thing_id, attributes, version, created_at, updated_at) VALUES ${names
        .map(() => "(?, ?, '{}', 1, 0, 0)")
        .join(', ')}`,
      names.flatMap((x) => [x, x]),
    );
    await db.run(
      `INSERT INTO thing_group_members (group_name, thing_name) VALUES ${names.map(() => "('big', ?)").join(', ')}`,
      names,
    );
  }
}

const backends: {
  name: string;
  skip: string | false;
  open(): Promise<{ db: SqlDatabase; drop(): Promise<void> }>;
}[] = [
  {
    name: 'SQLite',
    skip: false,
    open: async () => ({ db: openSqliteDatabase(join(dir, `jobs-${Date.now()}.db`)), drop: async () => {} }),
  },
  {
    name: 'PostgreSQL',
    skip: TEST_DATABASE_URL ? false : 'skipped: OTTER_TEST_DATABASE_URL is not set',
    open: async () => {
      const fresh = await freshPostgresDatabase(TEST_DATABASE_URL!);
      return { db: openPostgresDatabase({ connectionString: fresh.url }), drop: fresh.drop };
    },
  },
];

for (const backend of backends) {
  describe(`job store (${backend.name})`, { skip: backend.skip }, () => {
    test(`a ${SCALE}-target SNAPSHOT job creates every execution at once; pacing releases the first minute`, async () => {
      const { db, drop } = await backend.open();
      try {
        await migrate(db);
        const store = new RegistryStore(db);
        const clock = new ManualClock(Date.UTC(2026, 0, 1));
        const engine = new JobEngine({ store, clock });
        const scheduler = new JobScheduler({ store, engine, clock, intervalMs: 0 });
        await seedGroup(db, SCALE);
        const started = performance.now();
        await engine.createJob({ jobId: 'big', targets: [arn('thinggroup/big')], document: '{}' }, arn);
        const ms = performance.now() - started;
        console.log(`# ${backend.name}: CreateJob with ${SCALE} targets took ${ms.toFixed(0)} ms`);
        const counts = await store.jobs.statusCounts('big');
        assert.equal(counts.QUEUED, SCALE);
        assert.ok(ms < 30_000, `took ${ms} ms`);
        // The device check-in path: one thing's pending executions.
        const pending = await store.jobs.pendingExecutions('t0000042');
        assert.deepEqual(
          pending.map((e) => [e.jobId, e.status, e.versionNumber]),
          [['big', 'QUEUED', 1]],
        );

        await engine.createJob(
          {
            jobId: 'paced',
            targets: [arn('thinggroup/big'), arn('thing/t0000001')],
            document: '{}',
            jobExecutionsRolloutConfig: { maximumPerMinute: 10 },
          },
          arn,
        );
        const paced = await store.jobs.describeJob('paced');
        assert.equal((await store.jobs.statusCounts('paced')).QUEUED, 10);
        assert.equal(paced.rolloutComplete, false);
        assert.equal(paced.releasedThisMinute, 10);
        assert.equal(paced.nextDueAt, clock.now() + 60_000);
        // The scheduler's release step, next minute.
        clock.advance(60_000);
        assert.equal((await scheduler.tick()).released, 10);
        const after = await store.jobs.describeJob('paced');
        assert.equal(after.releasedCount, 20);
        assert.equal(after.releasedThisMinute, 10);

        // DeleteJobExecution: terminal only, unless forced (also over HTTP once the codec decodes long labels).
        await assert.rejects(engine.deleteExecution('t0000000', 'paced', 1, false), {
          type: 'InvalidStateTransitionException',
        });
        await engine.deleteExecution('t0000000', 'paced', 1, true);
        assert.equal(await store.jobs.getExecution('paced', 't0000000'), undefined);

        // Step timers are data: the timeout poll finds and expires them.
        await engine.startNext({ kind: 'thing', thingName: 't0000042' }, 't0000042', {
          stepTimeoutInMinutes: 1,
        });
        await assert.rejects(engine.pending({ kind: 'thing', thingName: 'other' }, 't0000042'), {
          type: 'AccessDeniedException',
        });
        clock.advance(61_000);
        assert.equal((await scheduler.tick()).timedOut, 1);
        assert.equal((await store.jobs.getExecution('big', 't0000042'))?.status, 'TIMED_OUT');
      } finally {
        await db.close();
        await drop();
      }
    });
  });
}
