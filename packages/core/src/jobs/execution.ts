import { OtterError } from '../errors.js';
import { constraintError, rejectUnknownKeys, requireInt, requireObject } from './validate.js';

/** The job execution statuses, as the iot and iot-jobs-data models spell them. */
export const JOB_EXECUTION_STATUSES = [
  'QUEUED',
  'IN_PROGRESS',
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'REJECTED',
  'REMOVED',
  'CANCELED',
] as const;
export type JobExecutionStatus = (typeof JOB_EXECUTION_STATUSES)[number];

/** Statuses an execution never leaves (AWS "Job execution states": terminal = yes). */
export const TERMINAL_EXECUTION_STATUSES = [
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'REJECTED',
  'REMOVED',
  'CANCELED',
] as const satisfies readonly JobExecutionStatus[];

/** The only statuses UpdateJobExecution accepts from a device (iot-jobs-data UpdateJobExecutionRequest.status). */
export const DEVICE_STATUSES = ['IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED'] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

export const isTerminal = (s: JobExecutionStatus): boolean =>
  (TERMINAL_EXECUTION_STATUSES as readonly string[]).includes(s);

export type StatusDetails = Readonly<Record<string, string>>;

/** One job execution: a job on one thing (one attempt; retries are new executions). */
export interface Execution {
  readonly jobId: string;
  readonly thingName: string;
  readonly executionNumber: number;
  readonly status: JobExecutionStatus;
  readonly statusDetails: StatusDetails;
  readonly versionNumber: number;
  /** Epoch milliseconds, like every time here. */
  readonly queuedAt: number;
  readonly startedAt?: number;
  readonly lastUpdatedAt: number;
  readonly stepTimeoutAt?: number;
  readonly inProgressTimeoutAt?: number;
  /** 0 for the first attempt, n for the n-th retry. */
  readonly retryAttempt: number;
  readonly forceCanceled?: boolean;
}

/** The job's `timeoutConfig`. */
export interface TimeoutConfig {
  readonly inProgressTimeoutInMinutes?: number;
}

/** 1 minute to 7 days: the range of both the in-progress and the step timer (AWS TimeoutConfig doc). */
export const MAX_TIMEOUT_MINUTES = 10080;
const MINUTE = 60_000;
/** iot-jobs-data DetailsKey / DetailsValue patterns; value length from the UpdateJobExecution doc. */
const DETAILS_KEY = /^[a-zA-Z0-9:_-]{1,128}$/;
const DETAILS_VALUE = /^[^\p{C}]+$/u;
const MAX_DETAILS_VALUE_LENGTH = 1024;

/** Validates CreateJob's `timeoutConfig`; `undefined` means no in-progress timer. */
export function validateTimeoutConfig(input: unknown): TimeoutConfig {
  if (input === undefined) return {};
  const obj = requireObject(input, 'timeoutConfig');
  rejectUnknownKeys(obj, ['inProgressTimeoutInMinutes'], 'timeoutConfig');
  if (obj.inProgressTimeoutInMinutes === undefined) return {};
  return {
    inProgressTimeoutInMinutes: requireInt(
      obj.inProgressTimeoutInMinutes,
      'timeoutConfig.inProgressTimeoutInMinutes',
      1,
      MAX_TIMEOUT_MINUTES,
    ),
  };
}

/** A new QUEUED execution at version 1 (what DescribeJobExecution shows before any update). */
export function queueExecution(
  init: { jobId: string; thingName: string; executionNumber: number; retryAttempt?: number },
  now: number,
): Execution {
  return {
    jobId: init.jobId,
    thingName: init.thingName,
    executionNumber: init.executionNumber,
    status: 'QUEUED',
    statusDetails: {},
    versionNumber: 1,
    queuedAt: now,
    lastUpdatedAt: now,
    retryAttempt: init.retryAttempt ?? 0,
  };
}

/** The `JobExecutionState` member of replies and of VersionConflictException. */
export function executionState(exec: Execution): {
  status: JobExecutionStatus;
  statusDetails: Record<string, string>;
  versionNumber: number;
} {
  return { status: exec.status, statusDetails: { ...exec.statusDetails }, versionNumber: exec.versionNumber };
}

/** When the earliest running timer fires, if any. */
export function timerDueAt(exec: Execution): number | undefined {
  const timers = [exec.stepTimeoutAt, exec.inProgressTimeoutAt].filter((t): t is number => t !== undefined);
  return timers.length === 0 ? undefined : Math.min(...timers);
}

/** JobExecution.approximateSecondsBeforeTimedOut: whole seconds left on the earliest timer. */
export function approximateSecondsBeforeTimedOut(exec: Execution, now: number): number | undefined {
  const due = timerDueAt(exec);
  return due === undefined || exec.status !== 'IN_PROGRESS'
    ? undefined
    : Math.max(0, Math.ceil((due - now) / 1000));
}

/** Validates a statusDetails map (iot-jobs-data DetailsMap). */
export function validateStatusDetails(input: unknown, path = 'statusDetails'): StatusDetails {
  const obj = requireObject(input, path);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (!DETAILS_KEY.test(k)) throw constraintError(`${path}`, k, 'have keys matching [a-zA-Z0-9:_-]{1,128}');
    if (typeof v !== 'string' || !DETAILS_VALUE.test(v) || v.length > MAX_DETAILS_VALUE_LENGTH) {
      throw constraintError(`${path}.${k}`, v, 'be 1 to 1024 characters without control characters');
    }
    out[k] = v;
  }
  return out;
}

/**
 * Merge rule: keys in the update replace or add; keys not named are kept; no details → unchanged
 * ("If not specified, the statusDetails are unchanged", UpdateJobExecution doc; AWS merges maps).
 */
const mergeDetails = (prev: StatusDetails, next: StatusDetails | undefined): StatusDetails =>
  next === undefined ? prev : { ...prev, ...next };

function checkVersion(exec: Execution, expectedVersion: unknown): void {
  if (expectedVersion === undefined) return;
  const v = requireInt(expectedVersion, 'expectedVersion', 0);
  if (v !== exec.versionNumber) {
    throw new OtterError(
      'VersionConflictException',
      `expectedVersion ${v} does not match the current version ${exec.versionNumber} of job execution ${exec.jobId} on ${exec.thingName}`,
      { executionState: executionState(exec) },
    );
  }
}

function stepTimeout(v: unknown, allowCancel: boolean): number | undefined {
  if (v === undefined) return undefined;
  if (allowCancel && v === -1) return -1;
  return requireInt(v, 'stepTimeoutInMinutes', 1, MAX_TIMEOUT_MINUTES);
}

/** The fields a terminal execution drops: no timers run on it any more. */
function withoutTimers(exec: Execution): Execution {
  const { stepTimeoutAt: _s, inProgressTimeoutAt: _i, ...rest } = exec;
  return rest;
}

function transition(
  exec: Execution,
  status: JobExecutionStatus,
  details: StatusDetails,
  now: number,
): Execution {
  const next: Execution = {
    ...exec,
    status,
    statusDetails: details,
    versionNumber: exec.versionNumber + 1,
    lastUpdatedAt: now,
  };
  return isTerminal(status) ? withoutTimers(next) : next;
}

function notTerminal(exec: Execution, to: string): void {
  if (isTerminal(exec.status)) {
    throw new OtterError(
      'InvalidStateTransitionException',
      `Job execution ${exec.jobId} on ${exec.thingName} is ${exec.status} (terminal) and cannot become ${to}`,
    );
  }
}

/** QUEUED → IN_PROGRESS: sets startedAt and the job's in-progress timer (which never moves again). */
function start(exec: Execution, timeout: TimeoutConfig, now: number): Execution {
  if (exec.status !== 'QUEUED') return exec;
  const minutes = timeout.inProgressTimeoutInMinutes;
  return {
    ...exec,
    startedAt: now,
    ...(minutes === undefined ? {} : { inProgressTimeoutAt: now + minutes * MINUTE }),
  };
}

function applyStepTimer(exec: Execution, minutes: number | undefined, now: number): Execution {
  if (minutes === undefined || exec.status !== 'IN_PROGRESS') return exec;
  if (minutes === -1) {
    const { stepTimeoutAt: _s, ...rest } = exec;
    return rest;
  }
  return { ...exec, stepTimeoutAt: now + minutes * MINUTE };
}

/** What a device sends to UpdateJobExecution (MQTT `.../update` or HTTP POST). */
export interface DeviceUpdateRequest {
  readonly status: unknown;
  readonly statusDetails?: unknown;
  readonly expectedVersion?: unknown;
  readonly stepTimeoutInMinutes?: unknown;
}

/**
 * UpdateJobExecution. Checks, in order: input shape (InvalidRequestException), expectedVersion
 * (VersionConflictException carrying `executionState`), terminal state and IN_PROGRESS/QUEUED
 * rules (InvalidStateTransitionException). Throws without changing anything; on success returns
 * a new execution whose versionNumber is one higher.
 */
export function deviceUpdate(
  exec: Execution,
  req: DeviceUpdateRequest,
  timeout: TimeoutConfig,
  now: number,
): Execution {
  if (typeof req.status !== 'string' || !(JOB_EXECUTION_STATUSES as readonly string[]).includes(req.status)) {
    throw constraintError(
      'status',
      req.status,
      `satisfy enum value set: [${JOB_EXECUTION_STATUSES.join(', ')}]`,
    );
  }
  if (!(DEVICE_STATUSES as readonly string[]).includes(req.status)) {
    throw new OtterError(
      'InvalidRequestException',
      `A device cannot set status ${req.status}; use one of ${DEVICE_STATUSES.join(', ')}`,
    );
  }
  const status = req.status as DeviceStatus;
  const details = req.statusDetails === undefined ? undefined : validateStatusDetails(req.statusDetails);
  const step = stepTimeout(req.stepTimeoutInMinutes, true);
  checkVersion(exec, req.expectedVersion);
  notTerminal(exec, status);
  const started = status === 'IN_PROGRESS' ? start(exec, timeout, now) : exec;
  const next = transition(started, status, mergeDetails(exec.statusDetails, details), now);
  return applyStepTimer(next, step, now);
}

/**
 * StartNextPendingJobExecution for the execution the store picked: IN_PROGRESS is returned as is
 * (AWS returns the in-progress one unchanged); QUEUED moves to IN_PROGRESS with the details and
 * step timer given (stepTimeoutInMinutes 1..10080, no -1 here: StartNext doc).
 */
export function startNext(
  exec: Execution,
  req: { statusDetails?: unknown; stepTimeoutInMinutes?: unknown },
  timeout: TimeoutConfig,
  now: number,
): Execution {
  const details = req.statusDetails === undefined ? undefined : validateStatusDetails(req.statusDetails);
  const step = stepTimeout(req.stepTimeoutInMinutes, false);
  if (exec.status === 'IN_PROGRESS') return exec;
  if (exec.status !== 'QUEUED') notTerminal(exec, 'IN_PROGRESS');
  const next = transition(
    start(exec, timeout, now),
    'IN_PROGRESS',
    mergeDetails(exec.statusDetails, details),
    now,
  );
  return applyStepTimer(next, step, now);
}

/** IN_PROGRESS past its step or in-progress timer → TIMED_OUT; anything else is returned unchanged. */
export function timeOut(exec: Execution, now: number): Execution {
  const due = timerDueAt(exec);
  if (exec.status !== 'IN_PROGRESS' || due === undefined || now < due) return exec;
  return transition(exec, 'TIMED_OUT', exec.statusDetails, now);
}

/**
 * CancelJobExecution: QUEUED → CANCELED; IN_PROGRESS only with `force` (then forceCanceled);
 * terminal or unforced IN_PROGRESS → InvalidStateTransitionException. expectedVersion and
 * statusDetails as in CancelJobExecutionRequest.
 */
export function cancel(
  exec: Execution,
  req: { force?: boolean; expectedVersion?: unknown; statusDetails?: unknown },
  now: number,
): Execution {
  const details = req.statusDetails === undefined ? undefined : validateStatusDetails(req.statusDetails);
  checkVersion(exec, req.expectedVersion);
  notTerminal(exec, 'CANCELED');
  if (exec.status === 'IN_PROGRESS' && req.force !== true) {
    throw new OtterError(
      'InvalidStateTransitionException',
      `Job execution ${exec.jobId} on ${exec.thingName} is IN_PROGRESS; set force to cancel it`,
    );
  }
  const next = transition(exec, 'CANCELED', mergeDetails(exec.statusDetails, details), now);
  return exec.status === 'IN_PROGRESS' ? { ...next, forceCanceled: true } : next;
}

/**
 * The thing left the target group of a CONTINUOUS job: a QUEUED or IN_PROGRESS execution becomes
 * REMOVED (it is no longer a valid target, AWS "Job execution states"); terminal ones keep their
 * outcome and are returned unchanged (Otter rule: history is not rewritten).
 */
export function remove(exec: Execution, now: number): Execution {
  if (isTerminal(exec.status)) return exec;
  return transition(exec, 'REMOVED', exec.statusDetails, now);
}
