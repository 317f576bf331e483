import type { Execution } from '@otter/core';
import type { AwsContext, AwsHandler } from '../aws/aws-plane.js';
import { ADMIN, type Caller, type JobEngine } from '../services/job-engine.js';

/** Data-plane times are epoch seconds (iot-jobs-data QueuedAt, StartedAt, LastUpdatedAt: long). */
const epoch = (ms: number | undefined) => (ms === undefined ? undefined : Math.floor(ms / 1000));

const summary = (e: Execution) => ({
  jobId: e.jobId,
  queuedAt: epoch(e.queuedAt),
  startedAt: epoch(e.startedAt),
  lastUpdatedAt: epoch(e.lastUpdatedAt),
  versionNumber: e.versionNumber,
  executionNumber: e.executionNumber,
});

function deviceExecution(e: Execution, now: number, jobDocument?: string) {
  const due = [e.stepTimeoutAt, e.inProgressTimeoutAt].filter((t): t is number => t !== undefined);
  return {
    jobId: e.jobId,
    thingName: e.thingName,
    status: e.status,
    statusDetails: { ...e.statusDetails },
    queuedAt: epoch(e.queuedAt),
    startedAt: epoch(e.startedAt),
    lastUpdatedAt: epoch(e.lastUpdatedAt),
    approximateSecondsBeforeTimedOut:
      e.status === 'IN_PROGRESS' && due.length
        ? Math.max(0, Math.ceil((Math.min(...due) - now) / 1000))
        : undefined,
    versionNumber: e.versionNumber,
    executionNumber: e.executionNumber,
    jobDocument,
  };
}

/** Requests signed with access keys act as ADMIN; a device on the TLS listener as its own thing. */
const callerOf = (ctx: AwsContext | undefined): Caller =>
  ctx?.device ? { kind: 'thing', thingName: ctx.device.thingName } : ADMIN;

/**
 * The device data plane over HTTP (signing service `iot-jobs-data`), for admins (SigV4) and for
 * devices on the TLS client-certificate listener (device-plane/).
 */
export function jobsDataHandlers(engine: JobEngine, now: () => number): Record<string, AwsHandler> {
  const withDocument = async (e: Execution, include: boolean | undefined) =>
    include ? engine.deviceDocument(await engine.jobOf(e.jobId)) : undefined;
  return {
    GetPendingJobExecutions: async (input: { thingName: string }, ctx) => {
      const { inProgress, queued } = await engine.pending(callerOf(ctx), input.thingName);
      return { inProgressJobs: inProgress.map(summary), queuedJobs: queued.map(summary) };
    },
    StartNextPendingJobExecution: async (
      input: {
        thingName: string;
        statusDetails?: Record<string, string>;
        stepTimeoutInMinutes?: number;
      },
      ctx,
    ) => {
      const started = await engine.startNextWithJob(callerOf(ctx), input.thingName, input);
      if (!started) return {};
      const { execution, job } = started;
      return { execution: deviceExecution(execution, now(), await engine.deviceDocument(job)) };
    },
    DescribeJobExecution: async (
      input: {
        thingName: string;
        jobId: string;
        executionNumber?: number;
        includeJobDocument?: boolean;
      },
      ctx,
    ) => {
      const caller = callerOf(ctx);
      const e =
        input.jobId === '$next'
          ? await engine.next(caller, input.thingName)
          : await engine.describeExecution(caller, input.thingName, input.jobId, input.executionNumber);
      if (!e) return {};
      return { execution: deviceExecution(e, now(), await withDocument(e, input.includeJobDocument)) };
    },
    UpdateJobExecution: async (
      input: {
        thingName: string;
        jobId: string;
        status: string;
        statusDetails?: Record<string, string>;
        expectedVersion?: number;
        stepTimeoutInMinutes?: number;
        executionNumber?: number;
        includeJobExecutionState?: boolean;
        includeJobDocument?: boolean;
      },
      ctx,
    ) => {
      const { execution, job } = await engine.updateExecution(
        callerOf(ctx),
        input.thingName,
        input.jobId,
        input,
      );
      return {
        executionState: input.includeJobExecutionState
          ? {
              status: execution.status,
              statusDetails: { ...execution.statusDetails },
              versionNumber: execution.versionNumber,
            }
          : undefined,
        jobDocument: input.includeJobDocument ? await engine.deviceDocument(job) : undefined,
      };
    },
  };
}
