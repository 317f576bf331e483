import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OtterError } from '../errors.js';
import {
  approximateSecondsBeforeTimedOut,
  cancel,
  deviceUpdate,
  type Execution,
  queueExecution,
  remove,
  startNext,
  timeOut,
  validateTimeoutConfig,
} from './execution.js';
import { retry, shouldRetry, validateRetryConfig } from './retry.js';

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;
const q = (): Execution => queueExecution({ jobId: 'job1', thingName: 'thing1', executionNumber: 1 }, T0);
const errType = (type: string) => (e: unknown) => e instanceof OtterError && e.type === type;

describe('deviceUpdate', () => {
  it('QUEUED → IN_PROGRESS sets startedAt, the in-progress timer and bumps the version', () => {
    const e = deviceUpdate(
      q(),
      { status: 'IN_PROGRESS', statusDetails: { step: 'download' } },
      { inProgressTimeoutInMinutes: 10 },
      T0 + 1000,
    );
    assert.equal(e.status, 'IN_PROGRESS');
    assert.equal(e.versionNumber, 2);
    assert.equal(e.startedAt, T0 + 1000);
    assert.equal(e.inProgressTimeoutAt, T0 + 1000 + 10 * MIN);
    assert.deepEqual(e.statusDetails, { step: 'download' });
  });
  it('merges statusDetails and keeps them when not given', () => {
    let e = deviceUpdate(q(), { status: 'IN_PROGRESS', statusDetails: { a: '1', b: '2' } }, {}, T0);
    e = deviceUpdate(e, { status: 'IN_PROGRESS', statusDetails: { b: '3' } }, {}, T0);
    assert.deepEqual(e.statusDetails, { a: '1', b: '3' });
    e = deviceUpdate(e, { status: 'SUCCEEDED' }, {}, T0);
    assert.deepEqual(e.statusDetails, { a: '1', b: '3' });
    assert.equal(e.versionNumber, 4);
  });
  it('the in-progress timer does not move on later IN_PROGRESS updates; the step timer does and -1 clears it', () => {
    let e = deviceUpdate(
      q(),
      { status: 'IN_PROGRESS', stepTimeoutInMinutes: 5 },
      { inProgressTimeoutInMinutes: 60 },
      T0,
    );
    assert.equal(e.stepTimeoutAt, T0 + 5 * MIN);
    e = deviceUpdate(
      e,
      { status: 'IN_PROGRESS', stepTimeoutInMinutes: 7 },
      { inProgressTimeoutInMinutes: 60 },
      T0 + MIN,
    );
    assert.equal(e.stepTimeoutAt, T0 + 8 * MIN);
    assert.equal(e.inProgressTimeoutAt, T0 + 60 * MIN);
    assert.equal(approximateSecondsBeforeTimedOut(e, T0 + MIN), 7 * 60);
    e = deviceUpdate(e, { status: 'IN_PROGRESS', stepTimeoutInMinutes: -1 }, {}, T0 + 2 * MIN);
    assert.equal(e.stepTimeoutAt, undefined);
    assert.equal(e.inProgressTimeoutAt, T0 + 60 * MIN);
  });
  it('QUEUED may go straight to SUCCEEDED, FAILED or REJECTED; terminal drops timers', () => {
    for (const s of ['SUCCEEDED', 'FAILED', 'REJECTED'] as const) {
      const e = deviceUpdate(q(), { status: s }, {}, T0);
      assert.equal(e.status, s);
      assert.equal(e.startedAt, undefined);
    }
    const running = deviceUpdate(
      q(),
      { status: 'IN_PROGRESS', stepTimeoutInMinutes: 3 },
      { inProgressTimeoutInMinutes: 9 },
      T0,
    );
    const done = deviceUpdate(running, { status: 'SUCCEEDED' }, {}, T0);
    assert.equal(done.stepTimeoutAt, undefined);
    assert.equal(done.inProgressTimeoutAt, undefined);
  });
  it('terminal states never change', () => {
    const done = deviceUpdate(q(), { status: 'SUCCEEDED' }, {}, T0);
    for (const s of ['IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED']) {
      assert.throws(
        () => deviceUpdate(done, { status: s }, {}, T0),
        errType('InvalidStateTransitionException'),
      );
    }
  });
  it('devices may not set QUEUED, CANCELED, TIMED_OUT, REMOVED; unknown statuses are invalid', () => {
    for (const s of ['QUEUED', 'CANCELED', 'TIMED_OUT', 'REMOVED', 'SUCCESS', 42, undefined]) {
      assert.throws(() => deviceUpdate(q(), { status: s }, {}, T0), errType('InvalidRequestException'));
    }
  });
  it('a stale expectedVersion is a VersionConflictException carrying the current state', () => {
    const e = deviceUpdate(q(), { status: 'IN_PROGRESS', statusDetails: { x: 'y' } }, {}, T0);
    assert.throws(
      () => deviceUpdate(e, { status: 'SUCCEEDED', expectedVersion: 1 }, {}, T0),
      (err: unknown) =>
        err instanceof OtterError &&
        err.type === 'VersionConflictException' &&
        JSON.stringify(err.fields.executionState) ===
          JSON.stringify({ status: 'IN_PROGRESS', statusDetails: { x: 'y' }, versionNumber: 2 }),
    );
    assert.equal(deviceUpdate(e, { status: 'SUCCEEDED', expectedVersion: 2 }, {}, T0).versionNumber, 3);
  });
  it('rejects bad statusDetails and step timeouts', () => {
    const bad = [
      { status: 'IN_PROGRESS', statusDetails: { 'bad key': 'v' } },
      { status: 'IN_PROGRESS', statusDetails: { k: '' } },
      { status: 'IN_PROGRESS', statusDetails: { k: 'a\u0000b' } },
      { status: 'IN_PROGRESS', statusDetails: { k: 'x'.repeat(1025) } },
      { status: 'IN_PROGRESS', statusDetails: { k: 1 } },
      { status: 'IN_PROGRESS', statusDetails: [] },
      { status: 'IN_PROGRESS', stepTimeoutInMinutes: 0 },
      { status: 'IN_PROGRESS', stepTimeoutInMinutes: 10081 },
      { status: 'IN_PROGRESS', stepTimeoutInMinutes: 1.5 },
      { status: 'IN_PROGRESS', expectedVersion: 'one' },
    ];
    for (const req of bad)
      assert.throws(
        () => deviceUpdate(q(), req, {}, T0),
        errType('InvalidRequestException'),
        JSON.stringify(req),
      );
  });
});

describe('startNext, timeOut, cancel, remove', () => {
  it('startNext starts a QUEUED execution and returns an IN_PROGRESS one unchanged', () => {
    const e = startNext(
      q(),
      { statusDetails: { a: 'b' }, stepTimeoutInMinutes: 2 },
      { inProgressTimeoutInMinutes: 5 },
      T0,
    );
    assert.equal(e.status, 'IN_PROGRESS');
    assert.equal(e.stepTimeoutAt, T0 + 2 * MIN);
    assert.equal(e.inProgressTimeoutAt, T0 + 5 * MIN);
    assert.equal(startNext(e, {}, {}, T0 + MIN), e);
    assert.throws(
      () => startNext(q(), { stepTimeoutInMinutes: -1 }, {}, T0),
      errType('InvalidRequestException'),
    );
  });
  it('times out IN_PROGRESS at the earliest timer; QUEUED never times out', () => {
    const e = startNext(q(), { stepTimeoutInMinutes: 2 }, { inProgressTimeoutInMinutes: 5 }, T0);
    assert.equal(timeOut(e, T0 + 2 * MIN - 1), e);
    const t = timeOut(e, T0 + 2 * MIN);
    assert.equal(t.status, 'TIMED_OUT');
    assert.equal(t.versionNumber, e.versionNumber + 1);
    assert.equal(timeOut(q(), T0 + 1e12).status, 'QUEUED');
    assert.equal(timeOut(t, T0 + 1e12), t);
  });
  it('cancel: QUEUED yes, IN_PROGRESS only with force, terminal never', () => {
    assert.equal(cancel(q(), {}, T0).status, 'CANCELED');
    const running = startNext(q(), {}, {}, T0);
    assert.throws(() => cancel(running, {}, T0), errType('InvalidStateTransitionException'));
    const forced = cancel(running, { force: true }, T0);
    assert.equal(forced.status, 'CANCELED');
    assert.equal(forced.forceCanceled, true);
    assert.throws(() => cancel(forced, { force: true }, T0), errType('InvalidStateTransitionException'));
    assert.throws(() => cancel(q(), { expectedVersion: 7 }, T0), errType('VersionConflictException'));
  });
  it('remove: non-terminal → REMOVED, terminal unchanged', () => {
    assert.equal(remove(q(), T0).status, 'REMOVED');
    assert.equal(remove(startNext(q(), {}, {}, T0), T0).status, 'REMOVED');
    const done = deviceUpdate(q(), { status: 'FAILED' }, {}, T0);
    assert.equal(remove(done, T0), done);
  });
  it('validates timeoutConfig', () => {
    assert.deepEqual(validateTimeoutConfig({ inProgressTimeoutInMinutes: 10080 }), {
      inProgressTimeoutInMinutes: 10080,
    });
    assert.deepEqual(validateTimeoutConfig({}), {});
    for (const bad of [
      { inProgressTimeoutInMinutes: 0 },
      { inProgressTimeoutInMinutes: 10081 },
      { other: 1 },
      5,
    ]) {
      assert.throws(() => validateTimeoutConfig(bad), errType('InvalidRequestException'));
    }
  });
});

describe('retry', () => {
  const failed = (attempt: number, status: 'FAILED' | 'TIMED_OUT' | 'REJECTED' = 'FAILED') =>
    deviceUpdate(
      queueExecution({ jobId: 'j', thingName: 't', executionNumber: attempt + 1, retryAttempt: attempt }, T0),
      { status: status === 'TIMED_OUT' ? 'IN_PROGRESS' : status },
      {},
      T0,
    );
  it('retries FAILED while attempts remain, queuing a fresh execution', () => {
    const cfg = validateRetryConfig({ criteriaList: [{ failureType: 'FAILED', numberOfRetries: 2 }] });
    const next = retry(failed(0), cfg, 2, T0 + 1);
    assert.equal(next?.status, 'QUEUED');
    assert.equal(next?.retryAttempt, 1);
    assert.equal(next?.versionNumber, 1);
    assert.equal(next?.executionNumber, 2);
    assert.equal(shouldRetry(failed(1), cfg), true);
    assert.equal(shouldRetry(failed(2), cfg), false);
  });
  it('never retries REJECTED; TIMED_OUT only when configured; the exact type wins over ALL', () => {
    const cfg = validateRetryConfig({
      criteriaList: [
        { failureType: 'ALL', numberOfRetries: 5 },
        { failureType: 'TIMED_OUT', numberOfRetries: 1 },
      ],
    });
    assert.equal(shouldRetry(failed(0, 'REJECTED'), cfg), false);
    const timedOut = timeOut(
      startNext(
        queueExecution({ jobId: 'j', thingName: 't', executionNumber: 1, retryAttempt: 1 }, T0),
        { stepTimeoutInMinutes: 1 },
        {},
        T0,
      ),
      T0 + MIN,
    );
    assert.equal(timedOut.status, 'TIMED_OUT');
    assert.equal(shouldRetry(timedOut, cfg), false);
    assert.equal(shouldRetry(failed(4), cfg), true);
    assert.equal(shouldRetry(failed(0), undefined), false);
  });
  it('validates jobExecutionsRetryConfig', () => {
    for (const bad of [
      { criteriaList: [] },
      { criteriaList: [{ failureType: 'FAILED', numberOfRetries: 11 }] },
      { criteriaList: [{ failureType: 'REJECTED', numberOfRetries: 1 }] },
      {
        criteriaList: [
          { failureType: 'FAILED', numberOfRetries: 1 },
          { failureType: 'FAILED', numberOfRetries: 2 },
        ],
      },
      {
        criteriaList: [
          { failureType: 'FAILED', numberOfRetries: 1 },
          { failureType: 'ALL', numberOfRetries: 1 },
          { failureType: 'TIMED_OUT', numberOfRetries: 1 },
        ],
      },
    ]) {
      assert.throws(() => validateRetryConfig(bad), errType('InvalidRequestException'), JSON.stringify(bad));
    }
  });
});
