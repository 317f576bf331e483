import { OtterError } from '../errors.js';
import type { Execution } from './execution.js';
import { rejectUnknownKeys, requireDecimal, requireEnum, requireInt, requireObject } from './validate.js';

/** JobExecutionFailureType and AbortAction (iot.json). */
export const ABORT_FAILURE_TYPES = ['FAILED', 'REJECTED', 'TIMED_OUT', 'ALL'] as const;
export type AbortFailureType = (typeof ABORT_FAILURE_TYPES)[number];
export const ABORT_ACTIONS = ['CANCEL'] as const;

export interface AbortCriteria {
  readonly failureType: AbortFailureType;
  readonly action: 'CANCEL';
  readonly thresholdPercentage: number;
  readonly minNumberOfExecutedThings: number;
}
/** The job's `abortConfig`. */
export interface AbortConfig {
  readonly criteriaList: readonly AbortCriteria[];
}

/** Validates `abortConfig`: criteriaList of at least one; 0 < thresholdPercentage ≤ 100 (2 decimals). */
export function validateAbortConfig(input: unknown, path = 'abortConfig'): AbortConfig | undefined {
  if (input === undefined) return undefined;
  const obj = requireObject(input, path);
  rejectUnknownKeys(obj, ['criteriaList'], path);
  if (!Array.isArray(obj.criteriaList) || obj.criteriaList.length === 0) {
    throw new OtterError(
      'InvalidRequestException',
      `${path}.criteriaList must hold at least one abort criteria`,
    );
  }
  const criteriaList = obj.criteriaList.map((c, i): AbortCriteria => {
    const p = `${path}.criteriaList.${i + 1}`;
    const o = requireObject(c, p);
    rejectUnknownKeys(o, ['failureType', 'action', 'thresholdPercentage', 'minNumberOfExecutedThings'], p);
    const thresholdPercentage = requireDecimal(o.thresholdPercentage, `${p}.thresholdPercentage`, 0, 100, 2);
    if (thresholdPercentage === 0) {
      throw new OtterError('InvalidRequestException', `${p}.thresholdPercentage must be greater than 0`);
    }
    return {
      failureType: requireEnum(o.failureType, `${p}.failureType`, ABORT_FAILURE_TYPES),
      action: requireEnum(o.action, `${p}.action`, ABORT_ACTIONS),
      thresholdPercentage,
      minNumberOfExecutedThings: requireInt(o.minNumberOfExecutedThings, `${p}.minNumberOfExecutedThings`, 1),
    };
  });
  return { criteriaList };
}

/** Terminal outcome counts of one job. */
export interface OutcomeCounts {
  readonly succeeded: number;
  readonly failed: number;
  readonly rejected: number;
  readonly timedOut: number;
}

/** Things that ran the job to an outcome: SUCCEEDED, FAILED, REJECTED, TIMED_OUT (not CANCELED/REMOVED). */
export const executedThings = (c: OutcomeCounts): number => c.succeeded + c.failed + c.rejected + c.timedOut;

const failuresOf = (c: OutcomeCounts, t: AbortFailureType): number =>
  t === 'FAILED'
    ? c.failed
    : t === 'REJECTED'
      ? c.rejected
      : t === 'TIMED_OUT'
        ? c.timedOut
        : c.failed + c.rejected + c.timedOut;

/**
 * The first criterion that fires, if any. A criterion is evaluated only once at least
 * minNumberOfExecutedThings things have executed; it fires when failures of its type are at
 * least thresholdPercentage percent of the executed things (AWS AbortCriteria doc: "the minimum
 * percentage of job execution failures that must occur to initiate the job abort").
 */
export function abortCriterionMet(
  config: AbortConfig | undefined,
  counts: OutcomeCounts,
): AbortCriteria | undefined {
  const executed = executedThings(counts);
  return config?.criteriaList.find(
    (c) =>
      executed >= c.minNumberOfExecutedThings &&
      executed > 0 &&
      // Compared in hundredths of a percent, in integers, so 10.1% of 1000 is exactly 101.
      failuresOf(counts, c.failureType) * 10_000 >= Math.round(c.thresholdPercentage * 100) * executed,
  );
}

/** Aborting (action CANCEL) cancels QUEUED executions only; IN_PROGRESS ones run to their end. */
export const cancelledByAbort = (exec: Execution): boolean => exec.status === 'QUEUED';
