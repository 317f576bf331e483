import { OtterError } from '../errors.js';
import { type Execution, queueExecution } from './execution.js';
import { rejectUnknownKeys, requireEnum, requireInt, requireObject } from './validate.js';

/** RetryableFailureType (iot.json). */
export const RETRYABLE_FAILURE_TYPES = ['FAILED', 'TIMED_OUT', 'ALL'] as const;
export type RetryableFailureType = (typeof RETRYABLE_FAILURE_TYPES)[number];

export interface RetryCriteria {
  readonly failureType: RetryableFailureType;
  readonly numberOfRetries: number;
}
/** The job's `jobExecutionsRetryConfig`. */
export interface RetryConfig {
  readonly criteriaList: readonly RetryCriteria[];
}

/** NumberOfRetries max (iot.json) and AWS's cap on retries of one job execution. */
export const MAX_RETRIES = 10;

/** Validates `jobExecutionsRetryConfig`: 1..2 criteria (RetryCriteriaList), distinct types, 0..10 retries each. */
export function validateRetryConfig(input: unknown): RetryConfig | undefined {
  if (input === undefined) return undefined;
  const obj = requireObject(input, 'jobExecutionsRetryConfig');
  rejectUnknownKeys(obj, ['criteriaList'], 'jobExecutionsRetryConfig');
  const list = obj.criteriaList;
  if (!Array.isArray(list) || list.length < 1 || list.length > 2) {
    throw new OtterError(
      'InvalidRequestException',
      'jobExecutionsRetryConfig.criteriaList must hold 1 or 2 retry criteria',
    );
  }
  const criteriaList = list.map((c, i): RetryCriteria => {
    const path = `jobExecutionsRetryConfig.criteriaList.${i + 1}`;
    const o = requireObject(c, path);
    rejectUnknownKeys(o, ['failureType', 'numberOfRetries'], path);
    return {
      failureType: requireEnum(o.failureType, `${path}.failureType`, RETRYABLE_FAILURE_TYPES),
      numberOfRetries: requireInt(o.numberOfRetries, `${path}.numberOfRetries`, 0, MAX_RETRIES),
    };
  });
  const types = criteriaList.map((c) => c.failureType);
  if (new Set(types).size !== types.length) {
    throw new OtterError(
      'InvalidRequestException',
      `jobExecutionsRetryConfig.criteriaList names failureType ${types[0]} twice`,
    );
  }
  return { criteriaList };
}

/**
 * How many retries a failure of this kind allows. A criterion naming the exact type wins over ALL
 * (Otter rule where the AWS docs are silent: the more specific criterion applies).
 */
export function retriesAllowed(config: RetryConfig | undefined, failure: 'FAILED' | 'TIMED_OUT'): number {
  const list = config?.criteriaList ?? [];
  const exact = list.find((c) => c.failureType === failure);
  const all = list.find((c) => c.failureType === 'ALL');
  return Math.min(MAX_RETRIES, (exact ?? all)?.numberOfRetries ?? 0);
}

/**
 * Whether a finished execution gets another attempt: only FAILED and TIMED_OUT are retried (never
 * REJECTED, CANCELED, REMOVED), and only while its retryAttempt (retries so far, all failure types
 * together, at most 10) is below the allowance for the failure that just happened.
 */
export function shouldRetry(exec: Execution, config: RetryConfig | undefined): boolean {
  if (exec.status !== 'FAILED' && exec.status !== 'TIMED_OUT') return false;
  return exec.retryAttempt < retriesAllowed(config, exec.status);
}

/**
 * The next attempt, or undefined when none is due: a fresh QUEUED execution (version 1, empty
 * details) with retryAttempt + 1 and the execution number the store assigns.
 */
export function retry(
  exec: Execution,
  config: RetryConfig | undefined,
  executionNumber: number,
  now: number,
): Execution | undefined {
  if (!shouldRetry(exec, config)) return undefined;
  return queueExecution(
    { jobId: exec.jobId, thingName: exec.thingName, executionNumber, retryAttempt: exec.retryAttempt + 1 },
    now,
  );
}
