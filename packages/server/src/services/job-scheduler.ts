import {
  type AbortConfig,
  abortCriterionMet,
  type Clock,
  isOtterError,
  pacingMinute,
  parseScheduleTime,
  type RetryConfig,
  type RolloutConfig,
  remove,
  retry,
  rolloutAllowance,
  type SchedulingConfig,
  timeOut,
  windowState,
} from '@otter/core';
import { type ClaimedJob, JobClaims } from '../store/job-claims.js';
import type { JobConfigs } from '../store/job-store.js';
import type { RegistryStore } from '../store/registry-store.js';
import { type JobEngine, parseTargets } from './job-engine.js';

/** What one pass did (and, summed, what a scheduler did since it was made). */
export interface SchedulerReport {
  /** Pending targets released as QUEUED executions (pacing, scheduled start, CONTINUOUS joiners). */
  released: number;
  /** IN_PROGRESS executions timed out (step or in-progress timer). */
  timedOut: number;
  /** Retry attempts created for FAILED / TIMED_OUT executions. */
  retried: number;
  /** Jobs canceled by their abort criteria. */
  aborted: number;
  /** Things that joined (or, REMOVED before, rejoined) a CONTINUOUS job's targets (now pending targets). */
  joined: number;
  /** Executions REMOVED because their thing left a CONTINUOUS job's targets. */
  removed: number;
  /** Jobs whose endTime was applied (STOP_ROLLOUT, CANCEL, FORCE_CANCEL). */
  ended: number;
  /** Jobs that became COMPLETED. */
  completed: number;
}

const emptyReport = (): SchedulerReport => ({
  released: 0,
  timedOut: 0,
  retried: 0,
  aborted: 0,
  joined: 0,
  removed: 0,
  ended: 0,
  completed: 0,
});

export interface JobSchedulerOptions {
  store: RegistryStore;
  engine: JobEngine;
  clock: Clock;
  /** Milliseconds between passes (±20 % jitter); 0 never starts the timer (tests call `tick`). */
  intervalMs: number;
  /** Rows per batch: executions released, timed out, retried or removed per job and statement. */
  batchSize?: number;
  log?: { error(obj: object, msg: string): void };
}

/** Reason code of a job canceled by its abort criteria (Otter: AWS documents none). */
export const ABORT_REASON = (failureType: string) => `ABORTED_${failureType}`;
/** Reason code of a job canceled at its endTime by endBehavior CANCEL / FORCE_CANCEL. */
export const END_TIME_REASON = 'END_TIME_REACHED';
/** How many batches of timeouts one pass takes at most, so a pass stays short. */
const MAX_TIMEOUT_BATCHES = 20;

const hasRollout = (c: JobConfigs) => {
  const r = c.jobExecutionsRolloutConfig;
  return r !== undefined && (r.maximumPerMinute !== undefined || r.exponentialRate !== undefined);
};
const earliest = (...ts: (number | undefined)[]): number | null => {
  const defined = ts.filter((t): t is number => t !== undefined);
  return defined.length === 0 ? null : Math.min(...defined);
};

/**
 * The jobs scheduler: rollout pacing and scheduled starts, endTime, timeouts, retries, aborts,
 * CONTINUOUS membership and completion. It keeps nothing in memory that matters: every timer is a
 * column (`jobs.next_due_at`, `job_executions.due_at`) and every pass claims its rows in the
 * database (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so any number of server processes may run it
 * and a restarted one continues where the last left off.
 */
export class JobScheduler {
  /** Everything done by this scheduler's passes so far. */
  readonly totals: SchedulerReport = emptyReport();
  readonly #claims: JobClaims;
  readonly #engine: JobEngine;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #batch: number;
  readonly #log: JobSchedulerOptions['log'];
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = false;

  constructor(opts: JobSchedulerOptions) {
    this.#claims = new JobClaims(opts.store.db);
    this.#engine = opts.engine;
    this.#clock = opts.clock;
    this.#intervalMs = opts.intervalMs;
    this.#batch = opts.batchSize ?? 500;
    this.#log = opts.log;
  }

  /** Runs passes every `intervalMs` (with jitter, never two at once) until `stop()`. */
  start(): void {
    if (this.#intervalMs <= 0 || this.#timer !== undefined || this.#stopped) return;
    const schedule = () => {
      const delay = this.#intervalMs * (0.8 + Math.random() * 0.4);
      this.#timer = setTimeout(() => {
        this.#running = this.tick()
          .catch((error: unknown) => this.#log?.error({ err: error }, 'job scheduler pass failed'))
          .finally(() => {
            this.#running = undefined;
            if (!this.#stopped) schedule();
          });
      }, delay);
      this.#timer.unref();
    };
    schedule();
  }

  /** Stops the timer and waits for a running pass to finish. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** One pass over everything due at `now`. */
  async tick(now: number = this.#clock.now()): Promise<SchedulerReport> {
    const report = emptyReport();
    const things = new Set<string>();
    const touched = new Set<string>();

    // Timeouts first, so a timed-out execution can be retried in this same pass.
    for (let i = 0; i < MAX_TIMEOUT_BATCHES; i++) {
      const expired = await this.#claims.expireDue(now, this.#batch, timeOut);
      for (const e of expired) {
        things.add(e.thingName);
        touched.add(e.jobId);
      }
      report.timedOut += expired.length;
      if (expired.length < this.#batch) break;
    }

    // Aborts, retries and CONTINUOUS membership: one claimed transaction per active job.
    const active: string[] = [];
    for (let after = ''; ; ) {
      const page = await this.#claims.activeJobs(after, this.#batch);
      for (const job of page) {
        active.push(job.jobId);
        await this.#guard(job.jobId, () =>
          this.#claims.withJob(job.jobId, 'active', (c) => this.#jobPass(c, now, report, things)),
        );
      }
      if (page.length < this.#batch) break;
      after = page[page.length - 1]!.jobId;
    }

    // Pacing, scheduled starts, maintenance windows and endTime: jobs whose timer is due.
    for (const jobId of await this.#claims.dueJobIds(now, this.#batch)) {
      touched.add(jobId);
      await this.#guard(jobId, () =>
        this.#claims.withJob(jobId, { due: now }, (c) => this.#release(c, now, report, things)),
      );
    }

    // Completion (SNAPSHOT fully rolled out and all terminal; CONTINUOUS past endTime) and SCHEDULED ↔ IN_PROGRESS.
    for (const jobId of new Set([...active, ...touched])) {
      await this.#guard(jobId, async () => {
        const before = await this.#engine.jobOf(jobId);
        if (before.status === 'CANCELED' || before.status === 'COMPLETED') return;
        const after = await this.#engine.refreshStatus(jobId);
        if (after.status === 'COMPLETED') report.completed++;
      });
    }

    await this.#engine.scheduledChanges([...things]);
    for (const k of Object.keys(report) as (keyof SchedulerReport)[]) this.totals[k] += report[k];
    return report;
  }

  /** One job's trouble (say, deleted meanwhile) is logged and does not stop the pass for the others. */
  async #guard(jobId: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (error) {
      if (isOtterError(error) && error.type === 'ResourceNotFoundException') return;
      this.#log?.error({ err: error, jobId }, 'job scheduler: job skipped this pass');
    }
  }

  async #jobPass(c: ClaimedJob, now: number, report: SchedulerReport, things: Set<string>): Promise<void> {
    const { job } = c;
    const abort = job.configs.abortConfig as AbortConfig | undefined;
    if (abort !== undefined && job.status === 'IN_PROGRESS') {
      const n = await c.counts();
      const hit = abortCriterionMet(abort, {
        succeeded: n.SUCCEEDED ?? 0,
        failed: n.FAILED ?? 0,
        rejected: n.REJECTED ?? 0,
        timedOut: n.TIMED_OUT ?? 0,
      });
      if (hit) {
        const comment = `Abort criteria met: ${hit.failureType} executions reached ${hit.thresholdPercentage}% of at least ${hit.minNumberOfExecutedThings} executed things`;
        for (const t of await c.cancel(false, now, ABORT_REASON(hit.failureType), comment)) things.add(t);
        report.aborted++;
        return;
      }
    }
    if (job.status === 'IN_PROGRESS') {
      const config = job.configs.jobExecutionsRetryConfig as RetryConfig | undefined;
      for (const failed of await c.retryCandidates(this.#batch)) {
        const next = retry(failed, config, failed.executionNumber + 1, now);
        if (next && (await c.insertAttempt(next))) {
          report.retried++;
          things.add(next.thingName);
        }
      }
    }
    if (job.targetSelection === 'CONTINUOUS') {
      const targets = parseTargets(job.targets);
      const end = (job.configs.schedulingConfig as SchedulingConfig | undefined)?.endTime;
      // Past endTime nothing more rolls out; things that leave are still REMOVED.
      if (end === undefined || now < parseScheduleTime(end, 'endTime'))
        report.joined += await c.addJoiners(targets, now);
      for (const exec of await c.leavers(targets.things, this.#batch)) {
        const next = remove(exec, now);
        if (next !== exec && (await c.save(next, exec))) {
          report.removed++;
          things.add(exec.thingName);
        }
      }
    }
  }

  /** The job's timer is due: apply endTime, wait for the window, or release the pacing quota. */
  async #release(c: ClaimedJob, now: number, report: SchedulerReport, things: Set<string>): Promise<void> {
    const { job } = c;
    if (job.status !== 'IN_PROGRESS' && job.status !== 'SCHEDULED') return c.setNextDue(null);
    const sched = job.configs.schedulingConfig as SchedulingConfig | undefined;
    const end = sched?.endTime === undefined ? undefined : parseScheduleTime(sched.endTime, 'endTime');
    if (end !== undefined && now >= end) {
      const behavior = sched?.endBehavior ?? 'STOP_ROLLOUT';
      if (behavior === 'STOP_ROLLOUT') await c.stopRollout(now);
      else {
        const comment = `endTime ${sched?.endTime} reached (endBehavior ${behavior})`;
        for (const t of await c.cancel(behavior === 'FORCE_CANCEL', now, END_TIME_REASON, comment))
          things.add(t);
      }
      report.ended++;
      return;
    }
    const window = windowState(sched, now);
    if (!window.open) return c.setNextDue(earliest(window.opensAt, end));
    await c.startRollout(now);
    const startedAt = job.rolloutStartedAt ?? now;
    const minute = pacingMinute(startedAt, now);
    let limit = this.#batch;
    let nextRelease = now;
    if (hasRollout(job.configs)) {
      const n = await c.counts();
      const allowance = rolloutAllowance(
        job.configs.jobExecutionsRolloutConfig as RolloutConfig,
        startedAt,
        now,
        {
          notified: job.releasedCount,
          succeeded: n.SUCCEEDED ?? 0,
          releasedThisMinute: job.minuteStartedAt === minute.start ? job.releasedThisMinute : 0,
        },
      );
      limit = Math.min(allowance.releasable, this.#batch);
      nextRelease = allowance.releasable > this.#batch ? now : allowance.nextReleaseAt;
    }
    const released = await c.release(limit, now, minute.start);
    for (const t of released) things.add(t);
    report.released += released.length;
    const more = await c.hasPendingTargets();
    await c.setNextDue(more ? earliest(nextRelease, window.closesAt, end) : earliest(end));
  }
}
