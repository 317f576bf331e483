import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OtterError } from '../errors.js';
import {
  currentRatePerMinute,
  type RolloutConfig,
  rolloutAllowance,
  validateRolloutConfig,
} from './rollout.js';

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;
const invalid = (e: unknown) => e instanceof OtterError && e.type === 'InvalidRequestException';

/** Runs the scheduler loop minute by minute; `succeed` turns notified things into successes. */
function simulate(config: RolloutConfig, minutes: number, succeed = (_notified: number) => 0) {
  let notified = 0;
  const perMinute: number[] = [];
  for (let m = 0; m < minutes; m++) {
    const now = T0 + m * MIN + 1000;
    let released = 0;
    // Two passes inside one minute: the second must get nothing more.
    for (let pass = 0; pass < 2; pass++) {
      const d = rolloutAllowance(config, T0, now + pass * 10_000, {
        notified,
        succeeded: succeed(notified),
        releasedThisMinute: released,
      });
      assert.equal(d.nextReleaseAt, T0 + (m + 1) * MIN);
      released += d.releasable;
      notified += d.releasable;
    }
    perMinute.push(released);
  }
  return perMinute;
}

describe('rollout pacing', () => {
  it('a constant rate releases maximumPerMinute each minute', () => {
    assert.deepEqual(simulate(validateRolloutConfig({ maximumPerMinute: 7 }), 4), [7, 7, 7, 7]);
  });
  it('no config means 1000 per minute', () => {
    assert.deepEqual(simulate(validateRolloutConfig(undefined), 2), [1000, 1000]);
  });
  it('exponential: multiplies by the factor each time numberOfNotifiedThings more are notified, capped by maximumPerMinute', () => {
    const cfg = validateRolloutConfig({
      maximumPerMinute: 300,
      exponentialRate: {
        baseRatePerMinute: 50,
        incrementFactor: 2,
        rateIncreaseCriteria: { numberOfNotifiedThings: 100 },
      },
    });
    // 0 → 50 → 100 (notified 100: ×2) → 200 (notified 200: ×4) → 300 cap (notified 400: ×16 capped)...
    assert.deepEqual(simulate(cfg, 5), [50, 100, 200, 300, 300]);
  });
  it('exponential on succeeded things, with a fractional factor rounded down', () => {
    const cfg = validateRolloutConfig({
      exponentialRate: {
        baseRatePerMinute: 10,
        incrementFactor: 1.5,
        rateIncreaseCriteria: { numberOfSucceededThings: 10 },
      },
    });
    assert.equal(currentRatePerMinute(cfg, { notified: 1000, succeeded: 9 }), 10);
    assert.equal(currentRatePerMinute(cfg, { notified: 0, succeeded: 10 }), 15);
    assert.equal(currentRatePerMinute(cfg, { notified: 0, succeeded: 20 }), 22);
    assert.equal(currentRatePerMinute(cfg, { notified: 0, succeeded: 10_000 }), 1000);
    // Half of the notified things succeed at once.
    assert.deepEqual(
      simulate(cfg, 3, (n) => Math.floor(n / 2)),
      [10, 15, 22],
    );
  });
  it('nothing is released before the start', () => {
    const d = rolloutAllowance({}, T0, T0 - 5, { notified: 0, succeeded: 0, releasedThisMinute: 0 });
    assert.deepEqual(d, { ratePerMinute: 1000, releasable: 0, nextReleaseAt: T0 });
  });
  it('validates the config with ValidationException-style messages', () => {
    const bad = [
      { maximumPerMinute: 0 },
      { maximumPerMinute: 1001 },
      { maximumPerMinute: 2.5 },
      {
        exponentialRate: {
          baseRatePerMinute: 0,
          incrementFactor: 2,
          rateIncreaseCriteria: { numberOfNotifiedThings: 1 },
        },
      },
      {
        exponentialRate: {
          baseRatePerMinute: 1,
          incrementFactor: 1.05,
          rateIncreaseCriteria: { numberOfNotifiedThings: 1 },
        },
      },
      {
        exponentialRate: {
          baseRatePerMinute: 1,
          incrementFactor: 1.55,
          rateIncreaseCriteria: { numberOfNotifiedThings: 1 },
        },
      },
      {
        exponentialRate: {
          baseRatePerMinute: 1,
          incrementFactor: 5.1,
          rateIncreaseCriteria: { numberOfNotifiedThings: 1 },
        },
      },
      { exponentialRate: { baseRatePerMinute: 1, incrementFactor: 2, rateIncreaseCriteria: {} } },
      {
        exponentialRate: {
          baseRatePerMinute: 1,
          incrementFactor: 2,
          rateIncreaseCriteria: { numberOfSucceededThings: 0 },
        },
      },
      { exponentialRate: { baseRatePerMinute: 1, incrementFactor: 2 } },
      { maximumPerMinute: 5, extra: true },
    ];
    for (const b of bad) assert.throws(() => validateRolloutConfig(b), invalid, JSON.stringify(b));
    assert.throws(() => validateRolloutConfig({ maximumPerMinute: 0 }), {
      message:
        "1 validation error detected: Value '0' at 'jobExecutionsRolloutConfig.maximumPerMinute' failed to satisfy constraint: Member must have value greater than or equal to 1",
    });
    assert.deepEqual(
      validateRolloutConfig({
        exponentialRate: {
          baseRatePerMinute: 1,
          incrementFactor: 1.1,
          rateIncreaseCriteria: { numberOfNotifiedThings: 1, numberOfSucceededThings: 1 },
        },
      }),
      {
        exponentialRate: {
          baseRatePerMinute: 1,
          incrementFactor: 1.1,
          rateIncreaseCriteria: { numberOfNotifiedThings: 1, numberOfSucceededThings: 1 },
        },
      },
    );
  });
});
