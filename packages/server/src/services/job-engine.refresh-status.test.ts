import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ManualClock } from '@otter/core';
import pg from 'pg';
import { RegistryStore } from '../store/registry-store.js';
import { testDatabases } from '../testing/test-databases.js';
import { JobEngine } from './job-engine.js';

const arn = (r: string) => `arn:aws:iot:us-east-1:123456789012:${r}`;
const URL = process.env.OTTER_TEST_DATABASE_URL;

/**
 * A job in the middle of CancelJob: its executions are CANCELED (so its derived status is
 * COMPLETED) and the job row still says IN_PROGRESS, the moment before CancelJob writes CANCELED.
 */
async function midCancel(store: RegistryStore, engine: JobEngine, clock: ManualClock, jobId: string) {
  await store.things.create({ thingName: `${jobId}-thing` }, clock.now()).catch(() => undefined);
  await engine.createJob({ jobId, targets: [arn(`thing/${jobId}-thing`)], document: '{}' }, arn);
  assert.equal((await store.jobs.describeJob(jobId)).status, 'IN_PROGRESS');
  await store.jobs.cancelExecutionsOfJob(jobId, true, clock.now());
}

const cancel = (store: RegistryStore, jobId: string, now: number) =>
  store.jobs.updateJob(jobId, { status: 'CANCELED', completedAt: now, nextDueAt: undefined }, now);

for (const database of testDatabases('refreshStatus race tests')) {
  describe(`JobEngine.refreshStatus writes only over the status it read (${database.name})`, {
    skip: database.skip,
  }, () => {
    let store: RegistryStore;
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    let engine: JobEngine;
    after(() => store?.close());

    test('setup', async () => {
      store = new RegistryStore(await database.open());
      engine = new JobEngine({ store, clock });
    });

    test('updateJobIfStatus is a compare-and-set on the status', async () => {
      await midCancel(store, engine, clock, 'cas');
      assert.equal(
        await store.jobs.updateJobIfStatus('cas', 'SCHEDULED', { status: 'COMPLETED' }, clock.now()),
        false,
      );
      assert.equal((await store.jobs.describeJob('cas')).status, 'IN_PROGRESS');
      assert.equal(
        await store.jobs.updateJobIfStatus('missing', 'IN_PROGRESS', { status: 'COMPLETED' }, clock.now()),
        false,
      );
      // Without a race the refresh completes the job.
      const job = await engine.refreshStatus('cas');
      assert.equal(job.status, 'COMPLETED');
      assert.equal(job.completedAt, clock.now());
    });

    test('a CANCELED written between the read and the write stands (not overwritten by COMPLETED)', {
      skip: database.name === 'SQLite' ? false : 'the PostgreSQL variant holds a row lock instead',
    }, async () => {
      await midCancel(store, engine, clock, 'race');
      // better-sqlite3 runs each statement when it is called: the refresh has read the job
      // (IN_PROGRESS) by the time it returns its promise; CancelJob's write comes next.
      const refreshing = engine.refreshStatus('race');
      await cancel(store, 'race', clock.now());
      const job = await refreshing;
      assert.equal(job.status, 'CANCELED');
      assert.equal((await store.jobs.describeJob('race')).status, 'CANCELED');
    });

    test('a CANCELED committed while the refresh waits for the row stands', {
      skip: database.name === 'PostgreSQL' ? false : 'PostgreSQL only (row locks)',
    }, async () => {
      await midCancel(store, engine, clock, 'locked');
      // Another process's CancelJob holds the job row; the refresh reads IN_PROGRESS and waits to write.
      const schema = (await store.db.get<{ s: string }>('SELECT current_schema() AS s'))?.s;
      const other = new pg.Client({ connectionString: URL, options: `-c search_path=${schema}` });
      await other.connect();
      try {
        await other.query('BEGIN');
        await other.query("SELECT status FROM jobs WHERE job_id = 'locked' FOR UPDATE");
        const refreshing = engine.refreshStatus('locked');
        const deadline = Date.now() + 10_000;
        for (;;) {
          // Not on `other`: inside its transaction pg_stat_activity is a snapshot.
          const waiting = await store.db.get(
            "SELECT 1 AS one FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE jobs SET%'",
          );
          if (waiting) break;
          assert.ok(Date.now() < deadline, 'the refresh never waited for the row lock');
          await new Promise((r) => setTimeout(r, 20));
        }
        await other.query("UPDATE jobs SET status = 'CANCELED' WHERE job_id = 'locked'");
        await other.query('COMMIT');
        const job = await refreshing;
        assert.equal(job.status, 'CANCELED');
        assert.equal((await store.jobs.describeJob('locked')).status, 'CANCELED');
      } finally {
        await other.end();
      }
    });

    test('an ended job is never moved by a refresh', async () => {
      await midCancel(store, engine, clock, 'ended');
      await cancel(store, 'ended', clock.now());
      await store.db.run("UPDATE jobs SET status = 'COMPLETED' WHERE job_id = 'ended'");
      // Its derived status would be COMPLETED anyway; a CONTINUOUS-looking one must not reopen either.
      assert.equal((await engine.refreshStatus('ended')).status, 'COMPLETED');
    });
  });
}
