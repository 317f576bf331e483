import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deriveJobStatus, jobProcessDetails } from './process-details.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0);

describe('job process details and status', () => {
  it('fills every counter, zeros included (seed 002 shape)', () => {
    assert.deepEqual(jobProcessDetails({ QUEUED: 1 }), {
      numberOfCanceledThings: 0,
      numberOfSucceededThings: 0,
      numberOfFailedThings: 0,
      numberOfRejectedThings: 0,
      numberOfQueuedThings: 1,
      numberOfInProgressThings: 0,
      numberOfRemovedThings: 0,
      numberOfTimedOutThings: 0,
    });
  });
  it('derives the job status', () => {
    const base = {
      targetSelection: 'SNAPSHOT' as const,
      rolloutComplete: true,
      counts: { SUCCEEDED: 2, FAILED: 1 },
    };
    assert.equal(deriveJobStatus(base, NOW), 'COMPLETED');
    assert.equal(deriveJobStatus({ ...base, counts: { SUCCEEDED: 2, IN_PROGRESS: 1 } }, NOW), 'IN_PROGRESS');
    assert.equal(deriveJobStatus({ ...base, rolloutComplete: false }, NOW), 'IN_PROGRESS');
    assert.equal(deriveJobStatus({ ...base, targetSelection: 'CONTINUOUS' }, NOW), 'IN_PROGRESS');
    assert.equal(
      deriveJobStatus(
        { ...base, targetSelection: 'CONTINUOUS', schedulingConfig: { endTime: '2026-01-01T11:00' } },
        NOW,
      ),
      'COMPLETED',
    );
    assert.equal(deriveJobStatus({ ...base, canceled: true }, NOW), 'CANCELED');
    assert.equal(deriveJobStatus({ ...base, canceled: true, deleting: true }, NOW), 'DELETION_IN_PROGRESS');
    assert.equal(
      deriveJobStatus({ ...base, schedulingConfig: { startTime: '2026-01-01T13:00' } }, NOW),
      'SCHEDULED',
    );
    const windowed = {
      ...base,
      rolloutComplete: false,
      counts: {},
      schedulingConfig: { maintenanceWindows: [{ startTime: 'cron(0 22 * * ? *)', durationInMinutes: 60 }] },
    };
    assert.equal(deriveJobStatus(windowed, NOW), 'SCHEDULED');
    assert.equal(deriveJobStatus(windowed, Date.UTC(2026, 0, 1, 22, 5)), 'IN_PROGRESS');
  });
});
