import {
  alreadyExists,
  type Execution,
  type JobExecutionStatus,
  type JobStatus,
  notFound,
  OtterError,
  type RetryConfig,
  retriesAllowed,
  type StatusCounts,
  timerDueAt,
} from '@otter/core';
import { type Page, type PageRequest, parseJson, toPage } from './records.js';
import { type SqlDatabase, type SqlExecutor, UniqueViolation } from './sql/sql-database.js';

/** The job configurations, stored as the AWS members spell them (validated by core before). */
export interface JobConfigs {
  jobExecutionsRolloutConfig?: Record<string, unknown>;
  abortConfig?: Record<string, unknown>;
  jobExecutionsRetryConfig?: Record<string, unknown>;
  timeoutConfig?: Record<string, unknown>;
  schedulingConfig?: Record<string, unknown>;
  presignedUrlConfig?: Record<string, unknown>;
}

export type TargetSelection = 'SNAPSHOT' | 'CONTINUOUS';

export interface JobRecord {
  jobId: string;
  jobArn: string;
  status: JobStatus;
  targetSelection: TargetSelection;
  targets: string[];
  document?: string;
  documentSource?: string;
  documentParameters?: Record<string, string>;
  jobTemplateArn?: string;
  description?: string;
  comment?: string;
  reasonCode?: string;
  configs: JobConfigs;
  destinationPackageVersions: string[];
  forceCanceled: boolean;
  /** When pacing minutes are counted from; absent until the rollout starts (scheduled jobs). */
  rolloutStartedAt?: number;
  /** Every target has an execution (nothing left in job_pending_targets). */
  rolloutComplete: boolean;
  /** Executions released since the rollout started (things notified). */
  releasedCount: number;
  minuteStartedAt?: number;
  releasedThisMinute: number;
  createdAt: number;
  updatedAt: number;
  completedAt?: number;
  /** When the scheduler must look at this job next (pacing, start/end time); absent: never. */
  nextDueAt?: number;
}

/** The job columns UpdateJob, CancelJob and the scheduler change; `undefined` clears an optional one. */
export type JobPatch = {
  [K in
    | 'status'
    | 'description'
    | 'comment'
    | 'reasonCode'
    | 'configs'
    | 'forceCanceled'
    | 'completedAt'
    | 'nextDueAt']?: JobRecord[K] | undefined;
};

export type NewJob = Omit<JobRecord, 'rolloutComplete' | 'releasedCount' | 'releasedThisMinute'>;

export interface JobTemplateRecord {
  jobTemplateId: string;
  jobTemplateArn: string;
  description: string;
  document?: string;
  documentSource?: string;
  configs: JobConfigs;
  destinationPackageVersions: string[];
  createdAt: number;
}

/** Which things a job targets: thing names and thing group names (each group with its descendants). */
export interface JobTargetNames {
  things: string[];
  groups: string[];
}

/** How CreateJob releases executions: all now, or at most `limit` now and the rest left pending. */
export type InitialRelease = { kind: 'all' } | { kind: 'some'; limit: number };

export interface JobRow {
  job_id: string;
  job_arn: string;
  status: string;
  target_selection: string;
  targets: string;
  document: string | null;
  document_source: string | null;
  document_parameters: string | null;
  job_template_arn: string | null;
  description: string | null;
  comment: string | null;
  reason_code: string | null;
  configs: string;
  destination_package_versions: string;
  force_canceled: number;
  rollout_started_at: number | null;
  rollout_complete: number;
  released_count: number;
  minute_started_at: number | null;
  released_this_minute: number;
  created_at: number;
  updated_at: number;
  completed_at: number | null;
  next_due_at: number | null;
}

export interface ExecutionRow {
  job_id: string;
  thing_name: string;
  execution_number: number;
  status: string;
  status_details: string;
  version_number: number;
  queued_at: number;
  started_at: number | null;
  last_updated_at: number;
  step_timeout_at: number | null;
  in_progress_timeout_at: number | null;
  retry_attempt: number;
  force_canceled: number;
}

interface TemplateRow {
  job_template_id: string;
  job_template_arn: string;
  description: string;
  document: string | null;
  document_source: string | null;
  configs: string;
  destination_package_versions: string;
  created_at: number;
}

const EXECUTION_COLUMNS = [
  'job_id',
  'thing_name',
  'execution_number',
  'status',
  'status_details',
  'version_number',
  'queued_at',
  'started_at',
  'last_updated_at',
  'step_timeout_at',
  'in_progress_timeout_at',
  'retry_attempt',
  'force_canceled',
] as const satisfies readonly (keyof ExecutionRow)[];

/** An execution's columns as `e_<column>`, beside a job's own columns in one row (`e` joined to `j`). */
type PrefixedExecutionRow = { [K in keyof ExecutionRow as `e_${K}`]: ExecutionRow[K] | null };
const PREFIXED_EXECUTION_COLUMNS = EXECUTION_COLUMNS.map((c) => `e.${c} AS e_${c}`).join(', ');

/** The execution of a joined row; undefined when the LEFT JOIN found none. */
function prefixedExecution(r: PrefixedExecutionRow): Execution | undefined {
  if (r.e_job_id === null) return undefined;
  return rowToExecution({
    job_id: r.e_job_id,
    thing_name: r.e_thing_name!,
    execution_number: r.e_execution_number!,
    status: r.e_status!,
    status_details: r.e_status_details!,
    version_number: r.e_version_number!,
    queued_at: r.e_queued_at!,
    started_at: r.e_started_at,
    last_updated_at: r.e_last_updated_at!,
    step_timeout_at: r.e_step_timeout_at,
    in_progress_timeout_at: r.e_in_progress_timeout_at,
    retry_attempt: r.e_retry_attempt!,
    force_canceled: r.e_force_canceled!,
  });
}

const opt = <K extends string, V>(key: K, v: V | null): { [P in K]?: V } =>
  (v === null ? {} : { [key]: v }) as { [P in K]?: V };
const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

export function rowToJob(r: JobRow): JobRecord {
  return {
    jobId: r.job_id,
    jobArn: r.job_arn,
    status: r.status as JobStatus,
    targetSelection: r.target_selection as TargetSelection,
    targets: parseJson<string[]>(r.targets),
    ...opt('document', r.document),
    ...opt('documentSource', r.document_source),
    ...opt(
      'documentParameters',
      r.document_parameters === null ? null : parseJson<Record<string, string>>(r.document_parameters),
    ),
    ...opt('jobTemplateArn', r.job_template_arn),
    ...opt('description', r.description),
    ...opt('comment', r.comment),
    ...opt('reasonCode', r.reason_code),
    configs: parseJson<JobConfigs>(r.configs),
    destinationPackageVersions: parseJson<string[]>(r.destination_package_versions),
    forceCanceled: Number(r.force_canceled) === 1,
    ...opt('rolloutStartedAt', num(r.rollout_started_at)),
    rolloutComplete: Number(r.rollout_complete) === 1,
    releasedCount: Number(r.released_count),
    ...opt('minuteStartedAt', num(r.minute_started_at)),
    releasedThisMinute: Number(r.released_this_minute),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    ...opt('completedAt', num(r.completed_at)),
    ...opt('nextDueAt', num(r.next_due_at)),
  };
}

export function rowToExecution(r: ExecutionRow): Execution {
  return {
    jobId: r.job_id,
    thingName: r.thing_name,
    executionNumber: Number(r.execution_number),
    status: r.status as JobExecutionStatus,
    statusDetails: parseJson<Record<string, string>>(r.status_details),
    versionNumber: Number(r.version_number),
    queuedAt: Number(r.queued_at),
    ...opt('startedAt', num(r.started_at)),
    lastUpdatedAt: Number(r.last_updated_at),
    ...opt('stepTimeoutAt', num(r.step_timeout_at)),
    ...opt('inProgressTimeoutAt', num(r.in_progress_timeout_at)),
    retryAttempt: Number(r.retry_attempt),
    ...(Number(r.force_canceled) === 1 ? { forceCanceled: true } : {}),
  };
}

function rowToTemplate(r: TemplateRow): JobTemplateRecord {
  return {
    jobTemplateId: r.job_template_id,
    jobTemplateArn: r.job_template_arn,
    description: r.description,
    ...opt('document', r.document),
    ...opt('documentSource', r.document_source),
    configs: parseJson<JobConfigs>(r.configs),
    destinationPackageVersions: parseJson<string[]>(r.destination_package_versions),
    createdAt: Number(r.created_at),
  };
}

export const jobNotFound = (jobId: string) => notFound(`Job ${jobId} cannot be found.`);
export const executionNotFound = (jobId: string, thingName: string) =>
  notFound(`Job execution of job ${jobId} on thing ${thingName} cannot be found.`);

/**
 * Core's `shouldRetry` as a SQL condition on job_executions: the thing's latest attempt is FAILED or
 * TIMED_OUT and its retryAttempt is below the allowance for that failure. Undefined: no retries.
 */
export function retryOwed(config: unknown): { sql: string; params: number[] } | undefined {
  const c = config as RetryConfig | undefined;
  const failed = retriesAllowed(c, 'FAILED');
  const timedOut = retriesAllowed(c, 'TIMED_OUT');
  if (failed === 0 && timedOut === 0) return undefined;
  return {
    sql: "latest = 1 AND ((status = 'FAILED' AND retry_attempt < ?) OR (status = 'TIMED_OUT' AND retry_attempt < ?))",
    params: [failed, timedOut],
  };
}

/** Rows per multi-row statement: far below SQLite's and PostgreSQL's parameter limits. */
const CHUNK = 500;
const chunks = <T>(items: readonly T[]): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
};
/**
 * A LIMIT written into the statement text instead of bound: SQLite runs the check-in query about
 * twice as fast with a literal LIMIT than with `LIMIT ?` (measured: 25 µs against 49 µs), and
 * callers use one fixed limit, so the statement stays one cached text.
 */
const literalLimit = (limit: number): number => {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`Bad LIMIT ${limit}`);
  return limit;
};

export const marks = (n: number) => Array.from({ length: n }, () => '?').join(', ');

/** Groups with all their descendants, as `sub(name)`. */
const subtree = (n: number) => `WITH RECURSIVE sub(name) AS (
  SELECT name FROM thing_groups WHERE name IN (${marks(n)})
  UNION SELECT g.name FROM thing_groups g JOIN sub ON g.parent_name = sub.name)`;

/** Columns and values of a new QUEUED first-attempt execution selected from a `thing_name` source. */
export const NEW_EXECUTION_COLUMNS =
  'job_id, thing_name, execution_number, status, status_details, version_number, queued_at, last_updated_at, retry_attempt, force_canceled, latest';
const newExecutionValues = (thing: string) => `?, ${thing}, 1, 'QUEUED', '{}', 1, ?, ?, 0, 0, 1`;

export const PENDING = "('QUEUED', 'IN_PROGRESS')";

// Hot statements as constants: the adapters look statements up by their text, which a template
// literal would rebuild (and hash again) on every call.
const JOB_WITH_LATEST_EXECUTION = `SELECT j.*, ${PREFIXED_EXECUTION_COLUMNS} FROM jobs j
  LEFT JOIN job_executions e ON e.job_id = j.job_id AND e.thing_name = ?
  WHERE j.job_id = ? ORDER BY e.execution_number DESC LIMIT 1`;
const JOB_WITH_EXECUTION = `SELECT j.*, ${PREFIXED_EXECUTION_COLUMNS} FROM jobs j
  LEFT JOIN job_executions e ON e.job_id = j.job_id AND e.thing_name = ? AND e.execution_number = ?
  WHERE j.job_id = ?`;
const NEXT_PENDING_WITH_JOB = `SELECT t.thing_name AS owner, j.*, ${PREFIXED_EXECUTION_COLUMNS} FROM things t
  LEFT JOIN job_executions e ON e.thing_name = t.thing_name AND e.status IN ${PENDING}
  LEFT JOIN jobs j ON j.job_id = e.job_id
  WHERE t.thing_name = ?
  ORDER BY CASE WHEN e.status = 'IN_PROGRESS' THEN 0 ELSE 1 END, e.queued_at, e.job_id LIMIT 1`;
/** saveExecution's statement, by [writeStatus][writeDue]. */
const SAVE_EXECUTION = [false, true].map((status) =>
  [false, true].map(
    (due) => `UPDATE job_executions SET ${status ? 'status = ?, ' : ''}status_details = ?, version_number = ?,
  started_at = ?, last_updated_at = ?, step_timeout_at = ?, in_progress_timeout_at = ?, ${due ? 'due_at = ?, ' : ''}force_canceled = ?
  WHERE job_id = ? AND thing_name = ? AND execution_number = ? AND version_number = ?`,
  ),
);

/** The SET list (and its parameters) of a job patch; `updated_at` always. */
function patchColumns(patch: JobPatch, now: number): { sets: string[]; params: unknown[] } {
  const sets = ['updated_at = ?'];
  const params: unknown[] = [now];
  const put = (column: string, value: unknown) => {
    sets.push(`${column} = ?`);
    params.push(value);
  };
  if ('status' in patch) put('status', patch.status);
  if ('description' in patch) put('description', patch.description ?? null);
  if ('comment' in patch) put('comment', patch.comment ?? null);
  if ('reasonCode' in patch) put('reason_code', patch.reasonCode ?? null);
  if ('configs' in patch) put('configs', JSON.stringify(patch.configs));
  if ('forceCanceled' in patch) put('force_canceled', patch.forceCanceled ? 1 : 0);
  if ('completedAt' in patch) put('completed_at', patch.completedAt ?? null);
  if ('nextDueAt' in patch) put('next_due_at', patch.nextDueAt ?? null);
  return { sets, params };
}

/** Jobs, their targets, executions and job templates. */
export class JobStore {
  constructor(private readonly db: SqlDatabase) {}

  /** Thing and group names among `targets` that do not exist. */
  async missingTargets(targets: JobTargetNames): Promise<string[]> {
    const missing: string[] = [];
    for (const [table, column, names] of [
      ['things', 'thing_name', targets.things],
      ['thing_groups', 'name', targets.groups],
    ] as const) {
      for (const part of chunks([...new Set(names)])) {
        const rows = await this.db.all<{ n: string }>(
          `SELECT ${column} AS n FROM ${table} WHERE ${column} IN (${marks(part.length)})`,
          part,
        );
        const found = new Set(rows.map((r) => r.n));
        missing.push(...part.filter((n) => !found.has(n)));
      }
    }
    return missing;
  }

  /**
   * Stores a job and resolves its targets in one transaction: the things named and the members of
   * the groups named (with their child groups) at this moment. `release` all creates every execution
   * QUEUED now; `some` creates at most `limit` and leaves the rest in job_pending_targets.
   * Returns how many executions were created.
   */
  async createJob(
    job: NewJob,
    targets: JobTargetNames,
    release: InitialRelease,
    now: number,
  ): Promise<number> {
    try {
      return await this.db.transaction(async (tx) => {
        await tx.run(
          `INSERT INTO jobs (job_id, job_arn, status, target_selection, targets, document, document_source,
             document_parameters, job_template_arn, description, comment, reason_code, configs,
             destination_package_versions, force_canceled, rollout_started_at, rollout_complete, released_count,
             minute_started_at, released_this_minute, created_at, updated_at, completed_at, next_due_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, 0, 0, ?, 0, ?, ?, NULL, ?)`,
          [
            job.jobId,
            job.jobArn,
            job.status,
            job.targetSelection,
            JSON.stringify(job.targets),
            job.document ?? null,
            job.documentSource ?? null,
            job.documentParameters === undefined ? null : JSON.stringify(job.documentParameters),
            job.jobTemplateArn ?? null,
            job.description ?? null,
            job.comment ?? null,
            job.reasonCode ?? null,
            JSON.stringify(job.configs),
            JSON.stringify(job.destinationPackageVersions),
            job.rolloutStartedAt ?? null,
            job.rolloutStartedAt ?? null,
            job.createdAt,
            job.updatedAt,
            job.nextDueAt ?? null,
          ],
        );
        for (const part of chunks([...new Set(targets.groups)])) {
          await tx.run(
            `INSERT INTO job_target_groups (job_id, group_name) SELECT ?, name FROM thing_groups
             WHERE name IN (${marks(part.length)}) ON CONFLICT DO NOTHING`,
            [job.jobId, ...part],
          );
        }
        if (release.kind === 'all') {
          const created = await insertTargets(tx, 'job_executions', job.jobId, targets, now);
          await tx.run(
            'UPDATE jobs SET rollout_complete = 1, released_count = ?, released_this_minute = ? WHERE job_id = ?',
            [created, created, job.jobId],
          );
          return created;
        }
        await insertTargets(tx, 'job_pending_targets', job.jobId, targets, now);
        return releasePendingIn(tx, job.jobId, release.limit, now, job.rolloutStartedAt ?? now);
      });
    } catch (error) {
      if (error instanceof UniqueViolation)
        throw alreadyExists(`Job ${job.jobId} already exists.`, job.jobId, job.jobArn);
      throw error;
    }
  }

  /**
   * Adds targets to an existing job (AssociateTargetsWithJob): new things get a QUEUED execution now
   * (or join the pending targets when the job still has some); things already targeted are skipped.
   */
  async addTargets(
    jobId: string,
    targetArns: string[],
    targets: JobTargetNames,
    now: number,
  ): Promise<number> {
    return this.db.transaction(async (tx) => {
      const job = await requireJob(tx, jobId);
      const all = [...new Set([...job.targets, ...targetArns])];
      await tx.run('UPDATE jobs SET targets = ?, updated_at = ? WHERE job_id = ?', [
        JSON.stringify(all),
        now,
        jobId,
      ]);
      for (const part of chunks([...new Set(targets.groups)])) {
        await tx.run(
          `INSERT INTO job_target_groups (job_id, group_name) SELECT ?, name FROM thing_groups
           WHERE name IN (${marks(part.length)}) ON CONFLICT DO NOTHING`,
          [jobId, ...part],
        );
      }
      if (!job.rolloutComplete) return insertTargets(tx, 'job_pending_targets', jobId, targets, now, true);
      const created = await insertTargets(tx, 'job_executions', jobId, targets, now, true);
      await tx.run('UPDATE jobs SET released_count = released_count + ? WHERE job_id = ?', [created, jobId]);
      return created;
    });
  }

  async getJob(jobId: string, db: SqlExecutor = this.db): Promise<JobRecord | undefined> {
    const row = await db.get<JobRow>('SELECT * FROM jobs WHERE job_id = ?', [jobId]);
    return row && rowToJob(row);
  }

  async describeJob(jobId: string): Promise<JobRecord> {
    return requireJob(this.db, jobId);
  }

  async listJobs(
    request: PageRequest & { status?: string; targetSelection?: string; thingGroupName?: string },
  ): Promise<Page<JobRecord>> {
    const where = ['j.job_id > ?'];
    const params: unknown[] = [request.after ?? ''];
    if (request.status !== undefined) {
      where.push('j.status = ?');
      params.push(request.status);
    }
    if (request.targetSelection !== undefined) {
      where.push('j.target_selection = ?');
      params.push(request.targetSelection);
    }
    if (request.thingGroupName !== undefined) {
      where.push('j.job_id IN (SELECT job_id FROM job_target_groups WHERE group_name = ?)');
      params.push(request.thingGroupName);
    }
    const rows = await this.db.all<JobRow>(
      `SELECT j.* FROM jobs j WHERE ${where.join(' AND ')} ORDER BY j.job_id LIMIT ?`,
      [...params, request.limit + 1],
    );
    return toPage(rows.map(rowToJob), request.limit, (j) => j.jobId);
  }

  /** Sets the given columns of a job (names are the record's; only the ones listed are accepted). */
  async updateJob(jobId: string, patch: JobPatch, now: number, db: SqlExecutor = this.db): Promise<void> {
    const { sets, params } = patchColumns(patch, now);
    const { changes } = await db.run(`UPDATE jobs SET ${sets.join(', ')} WHERE job_id = ?`, [
      ...params,
      jobId,
    ]);
    if (changes === 0) throw jobNotFound(jobId);
  }

  /**
   * Compare-and-set: applies `patch` only while the job's status is still `expected`, in one
   * statement. False when another writer moved the status on (e.g. CancelJob) or the job is gone.
   */
  async updateJobIfStatus(
    jobId: string,
    expected: JobStatus,
    patch: JobPatch,
    now: number,
  ): Promise<boolean> {
    const { sets, params } = patchColumns(patch, now);
    const { changes } = await this.db.run(
      `UPDATE jobs SET ${sets.join(', ')} WHERE job_id = ? AND status = ?`,
      [...params, jobId, expected],
    );
    return changes > 0;
  }

  /**
   * CancelJob's effect on executions, in one statement each: QUEUED → CANCELED, and with `force`
   * IN_PROGRESS → CANCELED (forceCanceled); pending targets are dropped. Returns how many changed.
   */
  async cancelExecutionsOfJob(jobId: string, force: boolean, now: number): Promise<number> {
    return this.db.transaction(async (tx) => {
      await tx.run('DELETE FROM job_pending_targets WHERE job_id = ?', [jobId]);
      await tx.run('UPDATE jobs SET rollout_complete = 1 WHERE job_id = ?', [jobId]);
      const statuses = force ? PENDING : "('QUEUED')";
      const { changes } = await tx.run(
        `UPDATE job_executions SET status = 'CANCELED', version_number = version_number + 1, last_updated_at = ?,
           step_timeout_at = NULL, in_progress_timeout_at = NULL, due_at = NULL,
           force_canceled = CASE WHEN status = 'IN_PROGRESS' THEN 1 ELSE force_canceled END
         WHERE job_id = ? AND status IN ${statuses}`,
        [now, jobId],
      );
      return changes;
    });
  }

  /** Deletes a job with its executions, targets and tags. */
  async deleteJob(jobId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run('DELETE FROM job_executions WHERE job_id = ?', [jobId]);
      await tx.run('DELETE FROM job_pending_targets WHERE job_id = ?', [jobId]);
      await tx.run('DELETE FROM job_target_groups WHERE job_id = ?', [jobId]);
      await tx.run("DELETE FROM tags WHERE resource_type = 'job' AND resource_name = ?", [jobId]);
      const { changes } = await tx.run('DELETE FROM jobs WHERE job_id = ?', [jobId]);
      if (changes === 0) throw jobNotFound(jobId);
    });
  }

  /** Per-status counts of the job's latest attempts (DescribeJob's jobProcessDetails). */
  async statusCounts(jobId: string): Promise<StatusCounts> {
    const rows = await this.db.all<{ status: string; n: number }>(
      'SELECT status, COUNT(*) AS n FROM job_executions WHERE job_id = ? AND latest = 1 GROUP BY status',
      [jobId],
    );
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)])) as StatusCounts;
  }

  /**
   * Whether the job has a QUEUED or IN_PROGRESS execution, or a FAILED / TIMED_OUT latest attempt
   * that the scheduler still owes a retry (so the job does not complete before it; cheap: index probes).
   */
  async hasPendingExecutions(jobId: string): Promise<boolean> {
    const row = await this.db.get(
      `SELECT 1 AS x FROM job_executions WHERE job_id = ? AND status IN ${PENDING} LIMIT 1`,
      [jobId],
    );
    if (row !== undefined) return true;
    const job = await this.db.get<{ configs: string; status: string }>(
      'SELECT configs, status FROM jobs WHERE job_id = ?',
      [jobId],
    );
    if (!job || job.status === 'CANCELED') return false;
    const owed = retryOwed(parseJson<JobConfigs>(job.configs).jobExecutionsRetryConfig);
    if (!owed) return false;
    const retry = await this.db.get(
      `SELECT 1 AS x FROM job_executions WHERE job_id = ? AND ${owed.sql} LIMIT 1`,
      [jobId, ...owed.params],
    );
    return retry !== undefined;
  }

  /** An execution: the given number, else the thing's latest attempt. */
  async getExecution(
    jobId: string,
    thingName: string,
    executionNumber?: number,
    db: SqlExecutor = this.db,
  ): Promise<Execution | undefined> {
    const row =
      executionNumber === undefined
        ? await db.get<ExecutionRow>(
            `SELECT * FROM job_executions WHERE job_id = ? AND thing_name = ?
             ORDER BY execution_number DESC LIMIT 1`,
            [jobId, thingName],
          )
        : await db.get<ExecutionRow>(
            'SELECT * FROM job_executions WHERE job_id = ? AND thing_name = ? AND execution_number = ?',
            [jobId, thingName, executionNumber],
          );
    return row && rowToExecution(row);
  }

  /**
   * A job and one execution of it on `thingName` (the given number, else the latest attempt) in one
   * statement, for the device paths that need both (UpdateJobExecution): one index probe of `jobs`
   * and one of `job_executions` instead of two statements. Throws ResourceNotFound when the job does
   * not exist; `execution` is undefined when the thing has no such execution.
   */
  async jobWithExecution(
    jobId: string,
    thingName: string,
    executionNumber?: number,
  ): Promise<{ job: JobRecord; execution: Execution | undefined }> {
    const row =
      executionNumber === undefined
        ? await this.db.get<JobRow & PrefixedExecutionRow>(JOB_WITH_LATEST_EXECUTION, [thingName, jobId])
        : await this.db.get<JobRow & PrefixedExecutionRow>(JOB_WITH_EXECUTION, [
            thingName,
            executionNumber,
            jobId,
          ]);
    if (!row) throw jobNotFound(jobId);
    return { job: rowToJob(row), execution: prefixedExecution(row) };
  }

  /**
   * StartNextPendingJobExecution's read in one statement: the execution `$next` names (the oldest
   * IN_PROGRESS, else the oldest QUEUED, in pendingExecutions' order) with its job. Undefined when
   * there is no such thing; `{}` when the thing has nothing pending.
   */
  async nextPendingWithJob(
    thingName: string,
  ): Promise<{ execution?: Execution; job?: JobRecord } | undefined> {
    const row = await this.db.get<JobRow & PrefixedExecutionRow & { owner: string }>(NEXT_PENDING_WITH_JOB, [
      thingName,
    ]);
    if (!row) return undefined;
    const execution = prefixedExecution(row);
    if (!execution) return {};
    // The job row goes with its executions (DeleteJob removes both in one transaction).
    if (row.job_id === null) throw jobNotFound(execution.jobId);
    return { execution, job: rowToJob(row) };
  }

  /**
   * The thing's QUEUED and IN_PROGRESS executions, oldest queued first (the device check-in path;
   * served by the partial index job_executions_pending_order).
   */
  async pendingExecutions(thingName: string, limit = 1000): Promise<Execution[]> {
    const rows = await this.db.all<ExecutionRow>(
      `SELECT * FROM job_executions WHERE thing_name = ? AND status IN ${PENDING}
       ORDER BY queued_at, job_id LIMIT ${literalLimit(limit)}`,
      [thingName],
    );
    return rows.map(rowToExecution);
  }

  /**
   * The device check-in in one query: the pending executions of each of `thingNames` (as
   * pendingExecutions orders them), keyed by thing; a name that is not a thing has no entry. The
   * LEFT JOIN answers "does the thing exist" from the same index probe as its executions.
   */
  async pendingExecutionsOf(thingNames: readonly string[], limit = 1000): Promise<Map<string, Execution[]>> {
    const out = new Map<string, Execution[]>();
    const unique = [...new Set(thingNames)];
    for (const part of chunks(unique)) {
      const rows = await this.db.all<ExecutionRow & { owner: string }>(
        `SELECT t.thing_name AS owner, e.* FROM things t LEFT JOIN job_executions e
           ON e.thing_name = t.thing_name AND e.status IN ${PENDING}
         WHERE t.thing_name IN (${marks(part.length)}) ORDER BY t.thing_name, e.queued_at, e.job_id`,
        part,
      );
      for (const row of rows) {
        let list = out.get(row.owner);
        if (!list) {
          list = [];
          out.set(row.owner, list);
        }
        if (row.job_id !== null && list.length < limit) list.push(rowToExecution(row));
      }
    }
    return out;
  }

  /** pendingExecutionsOf for one thing; undefined when there is no such thing. */
  async pendingExecutionsOfThing(thingName: string, limit = 1000): Promise<Execution[] | undefined> {
    const rows = await this.db.all<ExecutionRow & { owner: string }>(
      `SELECT t.thing_name AS owner, e.* FROM things t LEFT JOIN job_executions e
         ON e.thing_name = t.thing_name AND e.status IN ${PENDING}
       WHERE t.thing_name = ? ORDER BY e.queued_at, e.job_id LIMIT ${literalLimit(limit)}`,
      [thingName],
    );
    if (rows.length === 0) return undefined;
    return rows[0]!.job_id === null ? [] : rows.map(rowToExecution);
  }

  /** Names of the things whose latest execution of the job is in `status`, in name order after `after`. */
  async jobThingNames(
    jobId: string,
    status: string,
    after: string | undefined,
    limit: number,
  ): Promise<string[]> {
    const rows = await this.db.all<{ thing_name: string }>(
      `SELECT thing_name FROM job_executions WHERE job_id = ? AND status = ? AND latest = 1 AND thing_name > ?
       ORDER BY thing_name LIMIT ?`,
      [jobId, status, after ?? '', limit],
    );
    return rows.map((r) => r.thing_name);
  }

  async listExecutionsForJob(
    jobId: string,
    request: PageRequest & { status?: string },
  ): Promise<Page<Execution>> {
    const status = request.status === undefined ? '' : 'AND status = ?';
    const rows = await this.db.all<ExecutionRow>(
      `SELECT * FROM job_executions WHERE job_id = ? ${status} AND latest = 1 AND thing_name > ?
       ORDER BY thing_name LIMIT ?`,
      [
        jobId,
        ...(request.status === undefined ? [] : [request.status]),
        request.after ?? '',
        request.limit + 1,
      ],
    );
    return toPage(rows.map(rowToExecution), request.limit, (e) => e.thingName);
  }

  async listExecutionsForThing(
    thingName: string,
    request: PageRequest & { status?: string; jobId?: string },
  ): Promise<Page<Execution>> {
    const where = ['thing_name = ?', 'job_id > ?'];
    const params: unknown[] = [thingName, request.after ?? ''];
    if (request.status !== undefined) {
      where.push('status = ?');
      params.push(request.status);
    }
    if (request.jobId !== undefined) {
      where.push('job_id = ?');
      params.push(request.jobId);
    }
    const rows = await this.db.all<ExecutionRow>(
      `SELECT * FROM job_executions WHERE ${where.join(' AND ')} AND latest = 1 ORDER BY job_id LIMIT ?`,
      [...params, request.limit + 1],
    );
    return toPage(rows.map(rowToExecution), request.limit, (e) => e.jobId);
  }

  /**
   * Writes `next` if the stored execution is still at `previous` (its version number; optimistic:
   * safe across processes). Returns false when another writer got there first.
   *
   * Given the execution `next` was computed from, the indexed columns that did not change are left
   * out of the SET list: a progress report (IN_PROGRESS → IN_PROGRESS, no timer) then touches no
   * index at all (SQLite rewrites the entries of every index on a column named in SET, even to the
   * same value: ~100 → ~45 µs on the bench database; PostgreSQL compares the values anyway). Every
   * writer of `status` bumps the version, so at that version the stored status is `previous.status`;
   * `due_at` is skipped only when both timers are absent (a stale timer is cleared without a bump).
   */
  async saveExecution(
    next: Execution,
    previous: Execution | number,
    db: SqlExecutor = this.db,
  ): Promise<boolean> {
    const before = typeof previous === 'number' ? undefined : previous;
    const due = timerDueAt(next) ?? null;
    const writeStatus = before === undefined || before.status !== next.status;
    const writeDue = before === undefined || due !== null || timerDueAt(before) !== undefined;
    const params: unknown[] = writeStatus ? [next.status] : [];
    params.push(
      JSON.stringify(next.statusDetails),
      next.versionNumber,
      next.startedAt ?? null,
      next.lastUpdatedAt,
      next.stepTimeoutAt ?? null,
      next.inProgressTimeoutAt ?? null,
    );
    if (writeDue) params.push(due);
    params.push(
      next.forceCanceled ? 1 : 0,
      next.jobId,
      next.thingName,
      next.executionNumber,
      before === undefined ? (previous as number) : before.versionNumber,
    );
    const { changes } = await db.run(SAVE_EXECUTION[Number(writeStatus)]![Number(writeDue)]!, params);
    return changes === 1;
  }

  async deleteExecution(jobId: string, thingName: string, executionNumber: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const { changes } = await tx.run(
        'DELETE FROM job_executions WHERE job_id = ? AND thing_name = ? AND execution_number = ?',
        [jobId, thingName, executionNumber],
      );
      // The newest remaining attempt (if any) is the thing's latest again.
      await tx.run(
        `UPDATE job_executions SET latest = 1 WHERE job_id = ? AND thing_name = ? AND execution_number =
           (SELECT MAX(execution_number) FROM job_executions WHERE job_id = ? AND thing_name = ?)`,
        [jobId, thingName, jobId, thingName],
      );
      return changes === 1;
    });
  }

  async createTemplate(t: JobTemplateRecord): Promise<void> {
    try {
      await this.db.run(
        `INSERT INTO job_templates (job_template_id, job_template_arn, description, document, document_source,
           configs, destination_package_versions, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          t.jobTemplateId,
          t.jobTemplateArn,
          t.description,
          t.document ?? null,
          t.documentSource ?? null,
          JSON.stringify(t.configs),
          JSON.stringify(t.destinationPackageVersions),
          t.createdAt,
        ],
      );
    } catch (error) {
      if (error instanceof UniqueViolation)
        throw new OtterError('ConflictException', `Job template ${t.jobTemplateId} already exists.`);
      throw error;
    }
  }

  async getTemplate(id: string): Promise<JobTemplateRecord | undefined> {
    const row = await this.db.get<TemplateRow>('SELECT * FROM job_templates WHERE job_template_id = ?', [id]);
    return row && rowToTemplate(row);
  }

  async listTemplates(request: PageRequest): Promise<Page<JobTemplateRecord>> {
    const rows = await this.db.all<TemplateRow>(
      'SELECT * FROM job_templates WHERE job_template_id > ? ORDER BY job_template_id LIMIT ?',
      [request.after ?? '', request.limit + 1],
    );
    return toPage(rows.map(rowToTemplate), request.limit, (t) => t.jobTemplateId);
  }

  async deleteTemplate(id: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await tx.run("DELETE FROM tags WHERE resource_type = 'jobTemplate' AND resource_name = ?", [id]);
      const { changes } = await tx.run('DELETE FROM job_templates WHERE job_template_id = ?', [id]);
      return changes === 1;
    });
  }
}

async function requireJob(db: SqlExecutor, jobId: string): Promise<JobRecord> {
  const row = await db.get<JobRow>('SELECT * FROM jobs WHERE job_id = ?', [jobId]);
  if (!row) throw jobNotFound(jobId);
  return rowToJob(row);
}

/**
 * Set-based insert of the targets into `job_executions` (a QUEUED first attempt each) or
 * `job_pending_targets`: one INSERT … SELECT per chunk of thing names and one for all groups, so a
 * million-thing group costs one statement. With `skipExisting`, things that already have an
 * execution or a pending entry for the job are left alone. Returns the rows inserted.
 */
export async function insertTargets(
  tx: SqlExecutor,
  table: 'job_executions' | 'job_pending_targets',
  jobId: string,
  targets: JobTargetNames,
  now: number,
  skipExisting = false,
): Promise<number> {
  const columns = table === 'job_executions' ? NEW_EXECUTION_COLUMNS : 'job_id, thing_name';
  const values = (thing: string) => (table === 'job_executions' ? newExecutionValues(thing) : `?, ${thing}`);
  const lead = table === 'job_executions' ? [jobId, now, now] : [jobId];
  const notYet = skipExisting
    ? ` AND NOT EXISTS (SELECT 1 FROM job_executions e WHERE e.job_id = ? AND e.thing_name = src.n)
        AND NOT EXISTS (SELECT 1 FROM job_pending_targets p WHERE p.job_id = ? AND p.thing_name = src.n)`
    : '';
  const notYetParams = skipExisting ? [jobId, jobId] : [];
  let inserted = 0;
  for (const part of chunks([...new Set(targets.things)])) {
    const { changes } = await tx.run(
      `INSERT INTO ${table} (${columns}) SELECT ${values('src.n')} FROM (SELECT thing_name AS n FROM things
         WHERE thing_name IN (${marks(part.length)})) src WHERE 1 = 1${notYet} ON CONFLICT DO NOTHING`,
      [...lead, ...part, ...notYetParams],
    );
    inserted += changes;
  }
  const groups = [...new Set(targets.groups)];
  if (groups.length > 0) {
    const { changes } = await tx.run(
      `${subtree(groups.length)}
       INSERT INTO ${table} (${columns}) SELECT ${values('src.n')} FROM (SELECT DISTINCT m.thing_name AS n
         FROM thing_group_members m WHERE m.group_name IN (SELECT name FROM sub)) src WHERE 1 = 1${notYet}
       ON CONFLICT DO NOTHING`,
      [...groups, ...lead, ...notYetParams],
    );
    inserted += changes;
  }
  return inserted;
}

/**
 * Moves up to `limit` pending targets (name order) to QUEUED executions and updates the job's
 * counters; `released_this_minute` restarts when `minuteStart` is a new pacing minute.
 */
export async function releasePendingIn(
  tx: SqlExecutor,
  jobId: string,
  limit: number,
  now: number,
  minuteStart: number,
): Promise<number> {
  let released = 0;
  if (limit > 0) {
    const { changes } = await tx.run(
      `INSERT INTO job_executions (${NEW_EXECUTION_COLUMNS})
       SELECT ${newExecutionValues('p.thing_name')} FROM job_pending_targets p WHERE p.job_id = ?
       ORDER BY p.thing_name LIMIT ? ON CONFLICT DO NOTHING`,
      [jobId, now, now, jobId, limit],
    );
    released = changes;
    await tx.run(
      `DELETE FROM job_pending_targets WHERE job_id = ? AND thing_name IN
         (SELECT thing_name FROM job_pending_targets WHERE job_id = ? ORDER BY thing_name LIMIT ?)`,
      [jobId, jobId, limit],
    );
  }
  const left = await tx.get('SELECT 1 AS x FROM job_pending_targets WHERE job_id = ? LIMIT 1', [jobId]);
  await tx.run(
    `UPDATE jobs SET released_count = released_count + ?, rollout_complete = ?,
       released_this_minute = CASE WHEN minute_started_at = ? THEN released_this_minute ELSE 0 END + ?,
       minute_started_at = ? WHERE job_id = ?`,
    [released, left ? 0 : 1, minuteStart, released, minuteStart, jobId],
  );
  return released;
}
