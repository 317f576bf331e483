import type { Execution, StatusCounts } from '@otter/core';
import {
  type ExecutionRow,
  insertTargets,
  type JobRecord,
  type JobRow,
  JobStore,
  type JobTargetNames,
  marks,
  NEW_EXECUTION_COLUMNS,
  PENDING,
  releasePendingIn,
  retryOwed,
  rowToExecution,
  rowToJob,
} from './job-store.js';
import type { SqlDatabase, SqlExecutor } from './sql/sql-database.js';

/**
 * Row claims for the scheduler. On PostgreSQL the claimed rows are locked with
 * `FOR UPDATE SKIP LOCKED` for the length of the claiming transaction, so several processes never
 * act on the same job or execution at once; on SQLite (one process) the database serialises
 * transactions and the clause is not needed. Unique keys stay the last guard against duplicates.
 */
const skipLocked = (db: SqlExecutor) => (db.kind === 'postgres' ? ' FOR UPDATE SKIP LOCKED' : '');

/** Statuses in which the scheduler still has work on a job. */
const ACTIVE = "('IN_PROGRESS', 'SCHEDULED')";

/** The things of a job's current target set: things named plus members of its groups and their child groups. */
const desiredThings = (namedThings: number) => `WITH RECURSIVE sub(name) AS (
    SELECT group_name FROM job_target_groups WHERE job_id = ?
    UNION SELECT g.name FROM thing_groups g JOIN sub ON g.parent_name = sub.name),
  desired(n) AS (
    SELECT m.thing_name FROM thing_group_members m WHERE m.group_name IN (SELECT name FROM sub)
    ${namedThings > 0 ? `UNION SELECT thing_name FROM things WHERE thing_name IN (${marks(namedThings)})` : ''})`;

/** What the scheduler may do inside one claimed job's transaction. */
export class ClaimedJob {
  constructor(
    readonly tx: SqlExecutor,
    readonly job: JobRecord,
    private readonly jobs: JobStore,
  ) {}

  /** Per-status counts of the job's latest attempts. */
  async counts(): Promise<StatusCounts> {
    const rows = await this.tx.all<{ status: string; n: number }>(
      'SELECT status, COUNT(*) AS n FROM job_executions WHERE job_id = ? AND latest = 1 GROUP BY status',
      [this.job.jobId],
    );
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)])) as StatusCounts;
  }

  /** Marks the rollout started (a scheduled job reaching its start); a no-op once started. */
  async startRollout(now: number): Promise<void> {
    await this.tx.run(
      'UPDATE jobs SET rollout_started_at = COALESCE(rollout_started_at, ?), updated_at = ? WHERE job_id = ?',
      [now, now, this.job.jobId],
    );
  }

  /** Releases up to `limit` pending targets as QUEUED executions (names in order); returns the things released. */
  async release(limit: number, now: number, minuteStart: number): Promise<string[]> {
    if (limit <= 0) {
      await releasePendingIn(this.tx, this.job.jobId, 0, now, minuteStart);
      return [];
    }
    const names = await this.tx.all<{ thing_name: string }>(
      'SELECT thing_name FROM job_pending_targets WHERE job_id = ? ORDER BY thing_name LIMIT ?',
      [this.job.jobId, limit],
    );
    const { taken, rejoined } = await this.#releaseRejoiners(limit, now);
    // The rejoiners' pending entries are gone, so the next `limit - taken` names are the rest of `names`.
    await releasePendingIn(this.tx, this.job.jobId, limit - taken, now, minuteStart);
    if (rejoined > 0)
      await this.tx.run(
        `UPDATE jobs SET released_count = released_count + ?, released_this_minute = released_this_minute + ?
         WHERE job_id = ?`,
        [rejoined, rejoined, this.job.jobId],
      );
    return names.map((r) => r.thing_name);
  }

  /**
   * Among the first `limit` pending targets, things whose latest execution is REMOVED (they left a
   * CONTINUOUS job's targets and came back) get a new QUEUED attempt: the next execution number,
   * the same retryAttempt (a rejoin is not a retry), and it becomes the thing's latest; the REMOVED
   * attempt stays as history. Their pending entries are dropped. Returns how many pending entries
   * were taken and how many attempts were created.
   */
  async #releaseRejoiners(limit: number, now: number): Promise<{ taken: number; rejoined: number }> {
    if (this.job.targetSelection !== 'CONTINUOUS') return { taken: 0, rejoined: 0 };
    const id = this.job.jobId;
    const rows = await this.tx.all<{ thing_name: string; execution_number: number; retry_attempt: number }>(
      `SELECT thing_name, execution_number, retry_attempt FROM job_executions
       WHERE job_id = ? AND status = 'REMOVED' AND latest = 1 AND thing_name IN
         (SELECT thing_name FROM job_pending_targets WHERE job_id = ? ORDER BY thing_name LIMIT ?)`,
      [id, id, limit],
    );
    let rejoined = 0;
    for (const r of rows) {
      const inserted = await this.insertAttempt({
        jobId: id,
        thingName: r.thing_name,
        executionNumber: Number(r.execution_number) + 1,
        status: 'QUEUED',
        statusDetails: {},
        versionNumber: 1,
        queuedAt: now,
        lastUpdatedAt: now,
        retryAttempt: Number(r.retry_attempt),
      });
      if (inserted) rejoined++;
      await this.tx.run('DELETE FROM job_pending_targets WHERE job_id = ? AND thing_name = ?', [
        id,
        r.thing_name,
      ]);
    }
    return { taken: rows.length, rejoined };
  }

  async hasPendingTargets(): Promise<boolean> {
    const row = await this.tx.get('SELECT 1 AS x FROM job_pending_targets WHERE job_id = ? LIMIT 1', [
      this.job.jobId,
    ]);
    return row !== undefined;
  }

  /** When the scheduler must look at this job next; null: only when something changes it. */
  async setNextDue(at: number | null): Promise<void> {
    await this.tx.run('UPDATE jobs SET next_due_at = ? WHERE job_id = ?', [at, this.job.jobId]);
  }

  /** endBehavior STOP_ROLLOUT: targets not yet released never will be. */
  async stopRollout(now: number): Promise<void> {
    await this.tx.run('DELETE FROM job_pending_targets WHERE job_id = ?', [this.job.jobId]);
    await this.tx.run(
      'UPDATE jobs SET rollout_complete = 1, next_due_at = NULL, updated_at = ? WHERE job_id = ?',
      [now, this.job.jobId],
    );
  }

  /**
   * Cancels the job as CancelJob does (QUEUED executions, IN_PROGRESS too with `force`, pending
   * targets dropped) with a reason code and comment. Returns the things whose executions changed.
   */
  async cancel(force: boolean, now: number, reasonCode: string, comment: string): Promise<string[]> {
    const id = this.job.jobId;
    const statuses = force ? PENDING : "('QUEUED')";
    const things = await this.tx.all<{ thing_name: string }>(
      `SELECT thing_name FROM job_executions WHERE job_id = ? AND status IN ${statuses}`,
      [id],
    );
    await this.tx.run('DELETE FROM job_pending_targets WHERE job_id = ?', [id]);
    await this.tx.run(
      `UPDATE job_executions SET status = 'CANCELED', version_number = version_number + 1, last_updated_at = ?,
         step_timeout_at = NULL, in_progress_timeout_at = NULL, due_at = NULL,
         force_canceled = CASE WHEN status = 'IN_PROGRESS' THEN 1 ELSE force_canceled END
       WHERE job_id = ? AND status IN ${statuses}`,
      [now, id],
    );
    await this.tx.run(
      `UPDATE jobs SET status = 'CANCELED', force_canceled = ?, rollout_complete = 1, completed_at = ?,
         next_due_at = NULL, reason_code = ?, comment = ?, updated_at = ? WHERE job_id = ?`,
      [force ? 1 : 0, now, reasonCode, comment, now, id],
    );
    return things.map((r) => r.thing_name);
  }

  /** Latest FAILED / TIMED_OUT attempts still owed a retry under the job's retry config (core's rule). */
  async retryCandidates(limit: number): Promise<Execution[]> {
    const owed = retryOwed(this.job.configs.jobExecutionsRetryConfig);
    if (!owed) return [];
    const rows = await this.tx.all<ExecutionRow>(
      `SELECT * FROM job_executions WHERE job_id = ? AND ${owed.sql} ORDER BY thing_name LIMIT ?`,
      [this.job.jobId, ...owed.params, limit],
    );
    return rows.map(rowToExecution);
  }

  /**
   * Inserts a new attempt (a retry, or a rejoining thing's) and makes it the thing's latest. The
   * primary key (job, thing, execution number) refuses a second insert of the same attempt; returns
   * whether this one was new.
   */
  async insertAttempt(exec: Execution): Promise<boolean> {
    const { changes } = await this.tx.run(
      `INSERT INTO job_executions (${NEW_EXECUTION_COLUMNS})
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 1) ON CONFLICT DO NOTHING`,
      [
        exec.jobId,
        exec.thingName,
        exec.executionNumber,
        exec.status,
        JSON.stringify(exec.statusDetails),
        exec.versionNumber,
        exec.queuedAt,
        exec.lastUpdatedAt,
        exec.retryAttempt,
      ],
    );
    if (changes === 0) return false;
    await this.tx.run(
      'UPDATE job_executions SET latest = 0 WHERE job_id = ? AND thing_name = ? AND execution_number < ?',
      [exec.jobId, exec.thingName, exec.executionNumber],
    );
    return true;
  }

  /**
   * CONTINUOUS membership, joiners: things in the target set with neither an execution nor a
   * pending entry, and things back in it whose latest execution is REMOVED (rejoiners: `release`
   * gives them a new attempt), become pending targets (released by pacing). Returns how many joined.
   */
  async addJoiners(targets: JobTargetNames, now: number): Promise<number> {
    const id = this.job.jobId;
    let added = await insertTargets(this.tx, 'job_pending_targets', id, targets, now, true);
    // An index probe first: most jobs have no REMOVED execution, and then the target set is not recomputed.
    if (
      await this.tx.get("SELECT 1 AS x FROM job_executions WHERE job_id = ? AND status = 'REMOVED' LIMIT 1", [
        id,
      ])
    ) {
      const rejoiners = await this.tx.run(
        `${desiredThings(targets.things.length)}
         INSERT INTO job_pending_targets (job_id, thing_name)
         SELECT ?, e.thing_name FROM job_executions e
         WHERE e.job_id = ? AND e.status = 'REMOVED' AND e.latest = 1 AND e.thing_name IN (SELECT n FROM desired)
         ON CONFLICT DO NOTHING`,
        [id, ...targets.things, id, id],
      );
      added += rejoiners.changes;
    }
    if (added > 0) {
      await this.tx.run(
        `UPDATE jobs SET rollout_complete = 0, updated_at = ?,
           next_due_at = CASE WHEN next_due_at IS NULL OR next_due_at > ? THEN ? ELSE next_due_at END
         WHERE job_id = ?`,
        [now, now, now, id],
      );
    }
    return added;
  }

  /**
   * CONTINUOUS membership, leavers: pending targets no longer in the target set are dropped, and
   * their QUEUED / IN_PROGRESS executions (at most `limit`) are returned for core's `remove`.
   */
  async leavers(namedThings: string[], limit: number): Promise<Execution[]> {
    const id = this.job.jobId;
    await this.tx.run(
      `${desiredThings(namedThings.length)}
       DELETE FROM job_pending_targets WHERE job_id = ? AND thing_name NOT IN (SELECT n FROM desired)`,
      [id, ...namedThings, id],
    );
    const left = await this.tx.get('SELECT 1 AS x FROM job_pending_targets WHERE job_id = ? LIMIT 1', [id]);
    if (!left) await this.tx.run('UPDATE jobs SET rollout_complete = 1 WHERE job_id = ?', [id]);
    const rows = await this.tx.all<ExecutionRow>(
      `${desiredThings(namedThings.length)}
       SELECT * FROM job_executions WHERE job_id = ? AND status IN ${PENDING}
         AND thing_name NOT IN (SELECT n FROM desired) ORDER BY thing_name LIMIT ?`,
      [id, ...namedThings, id, limit],
    );
    return rows.map(rowToExecution);
  }

  /** Writes a changed execution if still at `previous` (the execution read, or its version number). */
  async save(next: Execution, previous: Execution | number): Promise<boolean> {
    return this.jobs.saveExecution(next, previous, this.tx);
  }
}

/** The scheduler's claims on jobs and executions. */
export class JobClaims {
  readonly #jobs: JobStore;

  constructor(private readonly db: SqlDatabase) {
    this.#jobs = new JobStore(db);
  }

  /** Jobs the scheduler still works on (IN_PROGRESS or SCHEDULED), by id after `after`. */
  async activeJobs(after: string, limit: number): Promise<JobRecord[]> {
    const rows = await this.db.all<JobRow>(
      `SELECT * FROM jobs WHERE status IN ${ACTIVE} AND job_id > ? ORDER BY job_id LIMIT ?`,
      [after, limit],
    );
    return rows.map(rowToJob);
  }

  /** Ids of jobs whose timer is due (pacing minute, start, window, endTime). */
  async dueJobIds(now: number, limit: number): Promise<string[]> {
    const rows = await this.db.all<{ job_id: string }>(
      'SELECT job_id FROM jobs WHERE next_due_at IS NOT NULL AND next_due_at <= ? ORDER BY next_due_at LIMIT ?',
      [now, limit],
    );
    return rows.map((r) => r.job_id);
  }

  /**
   * Runs `fn` on the job in one transaction with the job row claimed, provided it still matches
   * (`due`: its timer is due at `now`; `active`: IN_PROGRESS or SCHEDULED). Returns undefined
   * when another process holds it or it no longer matches.
   */
  async withJob<T>(
    jobId: string,
    when: { due: number } | 'active',
    fn: (claimed: ClaimedJob) => Promise<T>,
  ): Promise<T | undefined> {
    return this.db.transaction(async (tx) => {
      const filter =
        when === 'active' ? `status IN ${ACTIVE}` : 'next_due_at IS NOT NULL AND next_due_at <= ?';
      const row = await tx.get<JobRow>(
        `SELECT * FROM jobs WHERE job_id = ? AND ${filter}${skipLocked(tx)}`,
        when === 'active' ? [jobId] : [jobId, when.due],
      );
      return row ? fn(new ClaimedJob(tx, rowToJob(row), this.#jobs)) : undefined;
    });
  }

  /**
   * Applies `change` (core's timeOut) to up to `limit` executions whose timer is due, claimed in
   * one transaction; an execution another process holds is skipped, and the version check means a
   * timeout never fires twice. Returns the executions changed.
   */
  async expireDue(
    now: number,
    limit: number,
    change: (e: Execution, now: number) => Execution,
  ): Promise<Execution[]> {
    return this.db.transaction(async (tx) => {
      const rows = await tx.all<ExecutionRow>(
        `SELECT * FROM job_executions WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?${skipLocked(tx)}`,
        [now, limit],
      );
      const changed: Execution[] = [];
      for (const exec of rows.map(rowToExecution)) {
        const next = change(exec, now);
        if (next === exec) {
          // A stale timer on an execution core will not time out: drop it so it is not polled again.
          await tx.run(
            'UPDATE job_executions SET due_at = NULL WHERE job_id = ? AND thing_name = ? AND execution_number = ?',
            [exec.jobId, exec.thingName, exec.executionNumber],
          );
          continue;
        }
        if (await this.#jobs.saveExecution(next, exec, tx)) changed.push(next);
      }
      return changed;
    });
  }
}
