import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { OtterError } from '../errors.js';
import {
  cancel,
  deviceUpdate,
  type Execution,
  isTerminal,
  queueExecution,
  remove,
  startNext,
  timeOut,
} from './execution.js';

const T0 = Date.UTC(2026, 0, 1);
type Event = (e: Execution, now: number) => Execution;

const status = fc.constantFrom(
  'QUEUED',
  'IN_PROGRESS',
  'SUCCEEDED',
  'FAILED',
  'REJECTED',
  'TIMED_OUT',
  'CANCELED',
  'REMOVED',
  'bogus',
);
const details = fc.option(
  fc.dictionary(fc.constantFrom('a', 'b', 'bad key'), fc.constantFrom('x', 'y', ''), { maxKeys: 2 }),
  { nil: undefined },
);
const step = fc.option(fc.constantFrom(-1, 0, 1, 5, 10080, 10081), { nil: undefined });
const version = fc.option(fc.integer({ min: 0, max: 8 }), { nil: undefined });

const event: fc.Arbitrary<{ name: string; run: Event }> = fc.oneof(
  fc.record({ s: status, d: details, st: step, v: version }).map(({ s, d, st, v }) => ({
    name: `update ${s}`,
    run: (e: Execution, now: number) =>
      deviceUpdate(
        e,
        { status: s, statusDetails: d, stepTimeoutInMinutes: st, expectedVersion: v },
        { inProgressTimeoutInMinutes: 3 },
        now,
      ),
  })),
  fc.record({ d: details, st: step }).map(({ d, st }) => ({
    name: 'startNext',
    run: (e: Execution, now: number) =>
      startNext(e, { statusDetails: d, stepTimeoutInMinutes: st }, { inProgressTimeoutInMinutes: 3 }, now),
  })),
  fc.constant({ name: 'timeOut', run: (e: Execution, now: number) => timeOut(e, now) }),
  fc.record({ force: fc.boolean(), v: version }).map(({ force, v }) => ({
    name: `cancel force=${force}`,
    run: (e: Execution, now: number) => cancel(e, { force, expectedVersion: v }, now),
  })),
  fc.constant({ name: 'remove', run: (e: Execution, now: number) => remove(e, now) }),
);

describe('execution state machine (property)', () => {
  it('never leaves a terminal state, bumps the version by exactly one per change, and rejections change nothing', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(event, fc.integer({ min: 0, max: 5 * 60_000 })), { maxLength: 25 }),
        (events) => {
          let exec = queueExecution({ jobId: 'j', thingName: 't', executionNumber: 1 }, T0);
          let now = T0;
          for (const [ev, dt] of events) {
            now += dt;
            const before = structuredClone(exec);
            let next: Execution;
            try {
              next = ev.run(exec, now);
            } catch (err) {
              assert.ok(err instanceof OtterError, `${ev.name} threw a non-typed error`);
              assert.deepEqual(exec, before, `${ev.name} changed the execution while rejecting it`);
              continue;
            }
            assert.deepEqual(exec, before, `${ev.name} mutated its input`);
            if (next === exec) continue;
            assert.equal(next.versionNumber, exec.versionNumber + 1, `${ev.name} version step`);
            if (isTerminal(exec.status))
              assert.fail(`${ev.name} changed terminal ${exec.status} to ${next.status}`);
            if (isTerminal(next.status)) {
              assert.equal(next.stepTimeoutAt, undefined);
              assert.equal(next.inProgressTimeoutAt, undefined);
            }
            exec = next;
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
