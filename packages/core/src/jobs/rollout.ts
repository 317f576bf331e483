import { OtterError } from '../errors.js';
import { rejectUnknownKeys, requireDecimal, requireInt, requireObject } from './validate.js';

export interface RateIncreaseCriteria {
  readonly numberOfNotifiedThings?: number;
  readonly numberOfSucceededThings?: number;
}
export interface ExponentialRolloutRate {
  readonly baseRatePerMinute: number;
  readonly incrementFactor: number;
  readonly rateIncreaseCriteria: RateIncreaseCriteria;
}
/** The job's `jobExecutionsRolloutConfig`. */
export interface RolloutConfig {
  readonly maximumPerMinute?: number;
  readonly exponentialRate?: ExponentialRolloutRate;
}

/**
 * Upper bound of maximumPerMinute and baseRatePerMinute (RolloutRatePerMinute in iot.json; the
 * OTA-update and CloudFormation docs give 1..1000 for maximumPerMinute too). Also the rate used
 * when a job has no rollout config: AWS notifies "as fast as possible", which Otter caps here.
 */
export const MAX_PER_MINUTE = 1000;
const MINUTE = 60_000;

/** Validates `jobExecutionsRolloutConfig`; `{}` and undefined mean "no rollout limit". */
export function validateRolloutConfig(input: unknown, path = 'jobExecutionsRolloutConfig'): RolloutConfig {
  if (input === undefined) return {};
  const obj = requireObject(input, path);
  rejectUnknownKeys(obj, ['maximumPerMinute', 'exponentialRate'], path);
  const out: { maximumPerMinute?: number; exponentialRate?: ExponentialRolloutRate } = {};
  if (obj.maximumPerMinute !== undefined) {
    out.maximumPerMinute = requireInt(obj.maximumPerMinute, `${path}.maximumPerMinute`, 1, MAX_PER_MINUTE);
  }
  if (obj.exponentialRate !== undefined) out.exponentialRate = validateExponential(obj.exponentialRate, path);
  return out;
}

function validateExponential(input: unknown, parent: string): ExponentialRolloutRate {
  const path = `${parent}.exponentialRate`;
  const obj = requireObject(input, path);
  rejectUnknownKeys(obj, ['baseRatePerMinute', 'incrementFactor', 'rateIncreaseCriteria'], path);
  for (const k of ['baseRatePerMinute', 'incrementFactor', 'rateIncreaseCriteria']) {
    if (obj[k] === undefined) throw new OtterError('InvalidRequestException', `${path}.${k} is required`);
  }
  const cPath = `${path}.rateIncreaseCriteria`;
  const c = requireObject(obj.rateIncreaseCriteria, cPath);
  rejectUnknownKeys(c, ['numberOfNotifiedThings', 'numberOfSucceededThings'], cPath);
  const criteria: { numberOfNotifiedThings?: number; numberOfSucceededThings?: number } = {};
  if (c.numberOfNotifiedThings !== undefined) {
    criteria.numberOfNotifiedThings = requireInt(
      c.numberOfNotifiedThings,
      `${cPath}.numberOfNotifiedThings`,
      1,
    );
  }
  if (c.numberOfSucceededThings !== undefined) {
    criteria.numberOfSucceededThings = requireInt(
      c.numberOfSucceededThings,
      `${cPath}.numberOfSucceededThings`,
      1,
    );
  }
  // At least one; both are allowed (AWS "How job configurations work" example sets both, 1,000 each).
  if (criteria.numberOfNotifiedThings === undefined && criteria.numberOfSucceededThings === undefined) {
    throw new OtterError(
      'InvalidRequestException',
      `${cPath} must set numberOfNotifiedThings or numberOfSucceededThings`,
    );
  }
  return {
    baseRatePerMinute: requireInt(obj.baseRatePerMinute, `${path}.baseRatePerMinute`, 1, MAX_PER_MINUTE),
    incrementFactor: requireDecimal(obj.incrementFactor, `${path}.incrementFactor`, 1.1, 5, 1),
    rateIncreaseCriteria: criteria,
  };
}

/** Counts the pacing depends on, all for this job. */
export interface RolloutProgress {
  /** Executions released (things notified) since the job started. */
  readonly notified: number;
  /** Executions that reached SUCCEEDED. */
  readonly succeeded: number;
  /** Executions released in the current pacing minute (see `pacingMinute`). */
  readonly releasedThisMinute: number;
}

/**
 * How many times the exponential rate has been multiplied: once per full `numberOfNotifiedThings`
 * notified or per full `numberOfSucceededThings` succeeded, whichever count is further along (AWS
 * example: base 50, factor 2, both criteria 1,000 → 50/min until 1,000 notified or succeeded,
 * then 100/min until 2,000, ...).
 */
export function rateIncreases(
  rate: ExponentialRolloutRate,
  progress: Pick<RolloutProgress, 'notified' | 'succeeded'>,
): number {
  const { numberOfNotifiedThings: n, numberOfSucceededThings: s } = rate.rateIncreaseCriteria;
  const byNotified = n === undefined ? 0 : Math.floor(progress.notified / n);
  const bySucceeded = s === undefined ? 0 : Math.floor(progress.succeeded / s);
  return Math.max(byNotified, bySucceeded);
}

/** Executions per minute allowed now: constant, or exponential capped by maximumPerMinute (else 1000). */
export function currentRatePerMinute(
  config: RolloutConfig,
  progress: Pick<RolloutProgress, 'notified' | 'succeeded'>,
): number {
  const cap = config.maximumPerMinute ?? MAX_PER_MINUTE;
  const exp = config.exponentialRate;
  if (exp === undefined) return cap;
  const k = rateIncreases(exp, progress);
  // factor^k overflows to Infinity for large k, which the cap absorbs.
  return Math.min(cap, Math.floor(exp.baseRatePerMinute * exp.incrementFactor ** k));
}

/** Start of the pacing minute `now` falls in: minutes are counted from the job's rollout start. */
export function pacingMinute(startedAt: number, now: number): { start: number; end: number } {
  const index = Math.max(0, Math.floor((now - startedAt) / MINUTE));
  const start = startedAt + index * MINUTE;
  return { start, end: start + MINUTE };
}

export interface RolloutDecision {
  /** Executions per minute in force. */
  readonly ratePerMinute: number;
  /** How many more executions may be released right now. */
  readonly releasable: number;
  /** When to look again once `releasable` have been released: the next pacing minute. */
  readonly nextReleaseAt: number;
}

/** The pacing step the scheduler runs: release `releasable`, then come back at `nextReleaseAt`. */
export function rolloutAllowance(
  config: RolloutConfig,
  startedAt: number,
  now: number,
  progress: RolloutProgress,
): RolloutDecision {
  const ratePerMinute = currentRatePerMinute(config, progress);
  const minute = pacingMinute(startedAt, now);
  const releasable = now < startedAt ? 0 : Math.max(0, ratePerMinute - progress.releasedThisMinute);
  return { ratePerMinute, releasable, nextReleaseAt: now < startedAt ? startedAt : minute.end };
}
