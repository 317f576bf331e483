import type { JobExecutionStatus } from './execution.js';
import { parseScheduleTime, type SchedulingConfig, windowState } from './scheduling.js';

/** JobStatus (iot.json). */
export const JOB_STATUSES = [
  'IN_PROGRESS',
  'CANCELED',
  'COMPLETED',
  'DELETION_IN_PROGRESS',
  'SCHEDULED',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** JobProcessDetails counters (DescribeJob; seed 002 shows them all, zeros included). */
export interface JobProcessDetails {
  numberOfCanceledThings: number;
  numberOfSucceededThings: number;
  numberOfFailedThings: number;
  numberOfRejectedThings: number;
  numberOfQueuedThings: number;
  numberOfInProgressThings: number;
  numberOfRemovedThings: number;
  numberOfTimedOutThings: number;
}

export type StatusCounts = Partial<Record<JobExecutionStatus, number>>;

/** The counters from per-status counts of the job's (latest-attempt) executions. */
export function jobProcessDetails(counts: StatusCounts): JobProcessDetails {
  const n = (s: JobExecutionStatus) => counts[s] ?? 0;
  return {
    numberOfCanceledThings: n('CANCELED'),
    numberOfSucceededThings: n('SUCCEEDED'),
    numberOfFailedThings: n('FAILED'),
    numberOfRejectedThings: n('REJECTED'),
    numberOfQueuedThings: n('QUEUED'),
    numberOfInProgressThings: n('IN_PROGRESS'),
    numberOfRemovedThings: n('REMOVED'),
    numberOfTimedOutThings: n('TIMED_OUT'),
  };
}

export interface JobFacts {
  readonly targetSelection: 'SNAPSHOT' | 'CONTINUOUS';
  /** Set by CancelJob (and by an abort). */
  readonly canceled?: boolean;
  /** Set by DeleteJob while executions are being removed. */
  readonly deleting?: boolean;
  /** All executions for every target have been created (SNAPSHOT fan-out done). */
  readonly rolloutComplete: boolean;
  readonly schedulingConfig?: SchedulingConfig;
  readonly counts: StatusCounts;
}

/**
 * Job status (AWS "Job states"): DELETION_IN_PROGRESS while deleting; CANCELED once canceled;
 * SCHEDULED before startTime and, with maintenance windows, outside a window while executions
 * remain to roll out; COMPLETED when a SNAPSHOT job (or a CONTINUOUS job past its endTime) has
 * rolled out everything and every execution is terminal; otherwise IN_PROGRESS.
 */
export function deriveJobStatus(job: JobFacts, now: number): JobStatus {
  if (job.deleting === true) return 'DELETION_IN_PROGRESS';
  if (job.canceled === true) return 'CANCELED';
  const sched = job.schedulingConfig;
  if (sched?.startTime !== undefined && now < parseScheduleTime(sched.startTime, 'startTime'))
    return 'SCHEDULED';
  const pending = (job.counts.QUEUED ?? 0) + (job.counts.IN_PROGRESS ?? 0);
  const ended = sched?.endTime !== undefined && now >= parseScheduleTime(sched.endTime, 'endTime');
  if (pending === 0 && ((job.targetSelection === 'SNAPSHOT' && job.rolloutComplete) || ended))
    return 'COMPLETED';
  const windowed = (sched?.maintenanceWindows?.length ?? 0) > 0;
  if (windowed && !job.rolloutComplete && !windowState(sched, now).open) return 'SCHEDULED';
  return 'IN_PROGRESS';
}
