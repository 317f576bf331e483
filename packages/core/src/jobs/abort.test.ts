import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OtterError } from '../errors.js';
import { abortCriterionMet, cancelledByAbort, validateAbortConfig } from './abort.js';
import { queueExecution, startNext } from './execution.js';

const invalid = (e: unknown) => e instanceof OtterError && e.type === 'InvalidRequestException';
const counts = (succeeded: number, failed: number, rejected = 0, timedOut = 0) => ({
  succeeded,
  failed,
  rejected,
  timedOut,
});

describe('abort', () => {
  const cfg = validateAbortConfig({
    criteriaList: [
      { failureType: 'FAILED', action: 'CANCEL', thresholdPercentage: 10.1, minNumberOfExecutedThings: 1000 },
    ],
  });
  it('waits for minNumberOfExecutedThings, then fires at the threshold percentage of executed things', () => {
    assert.equal(abortCriterionMet(cfg, counts(0, 999)), undefined);
    assert.equal(abortCriterionMet(cfg, counts(900, 100)), undefined); // 10.0 %
    assert.ok(abortCriterionMet(cfg, counts(899, 101))); // exactly 10.1 %
  });
  it('ALL counts failed, rejected and timed-out; canceled things are not executed', () => {
    const all = validateAbortConfig({
      criteriaList: [
        { failureType: 'ALL', action: 'CANCEL', thresholdPercentage: 50, minNumberOfExecutedThings: 4 },
      ],
    });
    assert.ok(abortCriterionMet(all, counts(2, 0, 1, 1)));
    assert.equal(abortCriterionMet(all, counts(3, 0, 1, 0)), undefined);
    const rej = validateAbortConfig({
      criteriaList: [
        { failureType: 'REJECTED', action: 'CANCEL', thresholdPercentage: 100, minNumberOfExecutedThings: 1 },
      ],
    });
    assert.ok(abortCriterionMet(rej, counts(0, 0, 1)));
    assert.equal(abortCriterionMet(rej, counts(0, 1, 1)), undefined);
  });
  it('cancels QUEUED executions only', () => {
    const q = queueExecution({ jobId: 'j', thingName: 't', executionNumber: 1 }, 0);
    assert.equal(cancelledByAbort(q), true);
    assert.equal(cancelledByAbort(startNext(q, {}, {}, 0)), false);
  });
  it('validates abortConfig', () => {
    const ok = {
      failureType: 'FAILED',
      action: 'CANCEL',
      thresholdPercentage: 10,
      minNumberOfExecutedThings: 1,
    };
    for (const bad of [
      {},
      { criteriaList: [] },
      { criteriaList: [{ ...ok, failureType: 'CANCELED' }] },
      { criteriaList: [{ ...ok, action: 'STOP' }] },
      { criteriaList: [{ ...ok, thresholdPercentage: 0 }] },
      { criteriaList: [{ ...ok, thresholdPercentage: 100.01 }] },
      { criteriaList: [{ ...ok, thresholdPercentage: 10.999 }] },
      { criteriaList: [{ ...ok, minNumberOfExecutedThings: 0 }] },
    ]) {
      assert.throws(() => validateAbortConfig(bad), invalid, JSON.stringify(bad));
    }
    assert.equal(
      validateAbortConfig({ criteriaList: [{ ...ok, thresholdPercentage: 10.99 }] })?.criteriaList[0]
        ?.thresholdPercentage,
      10.99,
    );
  });
});
