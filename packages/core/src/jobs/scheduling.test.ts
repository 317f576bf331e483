import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OtterError } from '../errors.js';
import { parseAwsCron, validateSchedulingConfig, windowState } from './scheduling.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0); // a Thursday
const invalid = (e: unknown) => e instanceof OtterError && e.type === 'InvalidRequestException';

describe('AWS cron', () => {
  it('converts day-of-week numbering (AWS 1 = SUN) and keeps names', () => {
    assert.equal(parseAwsCron('cron(0 22 ? * MON-FRI *)').expression, '0 0 22 ? * MON-FRI');
    assert.equal(parseAwsCron('cron(0 22 ? * 2-6 *)').expression, '0 0 22 ? * 1-5');
    assert.equal(parseAwsCron('cron(0 22 ? * 2#1 *)').expression, '0 0 22 ? * 1#1');
    assert.deepEqual([...(parseAwsCron('cron(0 1 1 * ? 2026-2028/2,2030)').years ?? [])], [2026, 2028, 2030]);
  });
  it('names the bad expression', () => {
    for (const bad of [
      '0 22 * * 1-5',
      'cron(0 22 * * 1-5 *)',
      'cron(0 22 ? * ? *)',
      'cron(0 22 ? * 8 *)',
      'cron(61 22 ? * MON *)',
      'cron(0 22 15W * ? *)',
      'cron(0 22 ? * MON 1969)',
      'cron(0 22 ? * MON)',
    ]) {
      assert.throws(
        () => parseAwsCron(bad),
        (e: unknown) => invalid(e) && (e as Error).message.includes(`'${bad}'`),
        bad,
      );
    }
  });
});

describe('schedulingConfig validation', () => {
  it('accepts a well-formed config', () => {
    const cfg = {
      startTime: '2026-01-01T12:30',
      endTime: '2026-01-02T12:30',
      endBehavior: 'CANCEL',
      maintenanceWindows: [{ startTime: 'cron(0 22 ? * MON-FRI *)', durationInMinutes: 60 }],
    };
    assert.deepEqual(validateSchedulingConfig(cfg, NOW), cfg);
  });
  it('rejects bad times, lead times, durations and behaviors', () => {
    for (const bad of [
      { startTime: '2026-01-01 12:30' },
      { startTime: '2026-02-30T12:30' },
      { startTime: '2026-01-01T12:29' }, // < 30 min ahead
      { startTime: '2027-01-02T12:30' }, // > 1 year
      { startTime: '2026-01-01T13:00', endTime: '2026-01-01T13:29' },
      { endTime: '2028-01-02T12:00' }, // > 2 years
      { endBehavior: 'STOP' },
      { maintenanceWindows: [{ startTime: 'cron(0 22 ? * MON-FRI *)', durationInMinutes: 1431 }] },
      { maintenanceWindows: [{ startTime: 'cron(bad)', durationInMinutes: 30 }] },
      { other: 1 },
    ]) {
      assert.throws(() => validateSchedulingConfig(bad, NOW), invalid, JSON.stringify(bad));
    }
  });
});

describe('windowState', () => {
  const weekdays = { maintenanceWindows: [{ startTime: 'cron(0 22 ? * MON-FRI *)', durationInMinutes: 60 }] };
  it('opens and closes with a maintenance window (UTC)', () => {
    assert.deepEqual(windowState(weekdays, NOW), { open: false, opensAt: Date.UTC(2026, 0, 1, 22) });
    assert.deepEqual(windowState(weekdays, Date.UTC(2026, 0, 1, 22)), {
      open: true,
      closesAt: Date.UTC(2026, 0, 1, 23),
    });
    assert.deepEqual(windowState(weekdays, Date.UTC(2026, 0, 1, 22, 59)), {
      open: true,
      closesAt: Date.UTC(2026, 0, 1, 23),
    });
    // Friday 23:00 → next window is Monday 22:00.
    assert.deepEqual(windowState(weekdays, Date.UTC(2026, 0, 2, 23)), {
      open: false,
      opensAt: Date.UTC(2026, 0, 5, 22),
    });
  });
  it('windows crossing midnight stay open after it', () => {
    const late = { maintenanceWindows: [{ startTime: 'cron(30 23 * * ? *)', durationInMinutes: 90 }] };
    assert.deepEqual(windowState(late, Date.UTC(2026, 0, 2, 0, 30)), {
      open: true,
      closesAt: Date.UTC(2026, 0, 2, 1),
    });
  });
  it('respects startTime, endTime and years', () => {
    const cfg = { startTime: '2026-01-03T00:00', endTime: '2026-01-06T22:30', ...weekdays };
    assert.deepEqual(windowState(cfg, NOW), { open: false, opensAt: Date.UTC(2026, 0, 5, 22) });
    assert.deepEqual(windowState(cfg, Date.UTC(2026, 0, 6, 22, 10)), {
      open: true,
      closesAt: Date.UTC(2026, 0, 6, 22, 30),
    });
    assert.deepEqual(windowState(cfg, Date.UTC(2026, 0, 6, 22, 30)), { open: false });
    assert.deepEqual(windowState({ startTime: '2026-01-03T00:00' }, NOW), {
      open: false,
      opensAt: Date.UTC(2026, 0, 3),
    });
    assert.deepEqual(windowState(undefined, NOW), { open: true });
    const y2028 = { maintenanceWindows: [{ startTime: 'cron(0 0 1 1 ? 2028)', durationInMinutes: 10 }] };
    assert.deepEqual(windowState(y2028, NOW), { open: false, opensAt: Date.UTC(2028, 0, 1) });
    const past = { maintenanceWindows: [{ startTime: 'cron(0 0 1 1 ? 2025)', durationInMinutes: 10 }] };
    assert.deepEqual(windowState(past, NOW), { open: false });
  });
});
