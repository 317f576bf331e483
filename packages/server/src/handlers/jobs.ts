import { type Execution, jobProcessDetails } from '@otter/core';
import type { AwsContext, AwsHandler } from '../aws/aws-plane.js';
import { ADMIN, type CreateJobInput, type JobEngine } from '../services/job-engine.js';
import type { RegistryStore } from '../store/index.js';
import type { JobRecord } from '../store/job-store.js';
import { decodeToken, encodeToken, pageSize, seconds } from './paging.js';

const thingArn = (ctx: AwsContext, name: string) => ctx.arn(`thing/${name}`);

/** JobExecution of the control plane (times as dates; statusDetails wrapped in detailsMap). */
export function controlExecution(e: Execution, ctx: AwsContext, now: number) {
  const due = [e.stepTimeoutAt, e.inProgressTimeoutAt].filter((t): t is number => t !== undefined);
  return {
    jobId: e.jobId,
    status: e.status,
    forceCanceled: e.forceCanceled ?? false,
    statusDetails: { detailsMap: { ...e.statusDetails } },
    thingArn: thingArn(ctx, e.thingName),
    queuedAt: seconds(e.queuedAt),
    startedAt: seconds(e.startedAt),
    lastUpdatedAt: seconds(e.lastUpdatedAt),
    executionNumber: e.executionNumber,
    versionNumber: e.versionNumber,
    approximateSecondsBeforeTimedOut:
      e.status === 'IN_PROGRESS' && due.length
        ? Math.max(0, Math.ceil((Math.min(...due) - now) / 1000))
        : undefined,
  };
}

const executionSummary = (e: Execution) => ({
  status: e.status,
  queuedAt: seconds(e.queuedAt),
  startedAt: seconds(e.startedAt),
  lastUpdatedAt: seconds(e.lastUpdatedAt),
  executionNumber: e.executionNumber,
  retryAttempt: e.retryAttempt,
});

function jobShape(job: JobRecord, status: string, counts: Partial<Record<string, number>>) {
  return {
    jobArn: job.jobArn,
    jobId: job.jobId,
    targetSelection: job.targetSelection,
    status,
    forceCanceled: job.forceCanceled,
    reasonCode: job.reasonCode,
    comment: job.comment,
    targets: job.targets,
    description: job.description,
    ...job.configs,
    createdAt: seconds(job.createdAt),
    lastUpdatedAt: seconds(job.updatedAt),
    completedAt: seconds(job.completedAt),
    jobProcessDetails: jobProcessDetails(counts),
    documentParameters: job.documentParameters,
    isConcurrent: false,
    destinationPackageVersions: job.destinationPackageVersions.length
      ? job.destinationPackageVersions
      : undefined,
    jobTemplateArn: job.jobTemplateArn,
  };
}

/** The AWS IoT Jobs control plane (signing service `iot`). Thin: the engine does the work. */
export function jobHandlers(
  store: RegistryStore,
  engine: JobEngine,
  now: () => number,
): Record<string, AwsHandler> {
  return {
    CreateJob: async (input: CreateJobInput, ctx) => {
      const job = await engine.createJob(input, ctx.arn);
      return { jobArn: job.jobArn, jobId: job.jobId, description: job.description };
    },
    DescribeJob: async (input: { jobId: string }) => {
      const { job, counts, status } = await engine.describeJob(input.jobId);
      return { documentSource: job.documentSource, job: jobShape(job, status, counts) };
    },
    ListJobs: async (input: {
      status?: string;
      targetSelection?: string;
      thingGroupName?: string;
      thingGroupId?: string;
      maxResults?: number;
      nextToken?: string;
    }) => {
      const page = await store.jobs.listJobs({
        ...(input.status === undefined ? {} : { status: input.status }),
        ...(input.targetSelection === undefined ? {} : { targetSelection: input.targetSelection }),
        ...(input.thingGroupName === undefined ? {} : { thingGroupName: input.thingGroupName }),
        after: decodeToken(input.nextToken),
        limit: pageSize(input.maxResults, 100),
      });
      return {
        jobs: page.items.map((j) => ({
          jobArn: j.jobArn,
          jobId: j.jobId,
          targetSelection: j.targetSelection,
          status: j.status,
          isConcurrent: false,
          createdAt: seconds(j.createdAt),
          lastUpdatedAt: seconds(j.updatedAt),
          completedAt: seconds(j.completedAt),
        })),
        nextToken: encodeToken(page.nextToken),
      };
    },
    UpdateJob: async (input: { jobId: string; description?: string } & Record<string, unknown>) => {
      const { jobId, namespaceId: _n, ...rest } = input;
      await engine.updateJob(jobId, rest);
      return {};
    },
    CancelJob: async (input: { jobId: string; force?: boolean; reasonCode?: string; comment?: string }) => {
      const job = await engine.cancelJob(input.jobId, input);
      return { jobArn: job.jobArn, jobId: job.jobId, description: job.description };
    },
    DeleteJob: async (input: { jobId: string; force?: boolean }) => {
      await engine.deleteJob(input.jobId, input.force === true);
      return {};
    },
    AssociateTargetsWithJob: async (input: { jobId: string; targets: string[]; comment?: string }) => {
      const job = await engine.associateTargets(input.jobId, input.targets, input.comment);
      return { jobArn: job.jobArn, jobId: job.jobId, description: job.description };
    },
    GetJobDocument: async (input: { jobId: string; beforeSubstitution?: boolean }) => ({
      document: await engine.getJobDocument(input.jobId, input.beforeSubstitution === true),
    }),
    DescribeJobExecution: async (
      input: { jobId: string; thingName: string; executionNumber?: number },
      ctx,
    ) => {
      const e = await engine.describeExecution(ADMIN, input.thingName, input.jobId, input.executionNumber);
      return { execution: controlExecution(e, ctx, now()) };
    },
    ListJobExecutionsForJob: async (
      input: { jobId: string; status?: string; maxResults?: number; nextToken?: string },
      ctx,
    ) => {
      await store.jobs.describeJob(input.jobId);
      const page = await store.jobs.listExecutionsForJob(input.jobId, {
        ...(input.status === undefined ? {} : { status: input.status }),
        after: decodeToken(input.nextToken),
        limit: pageSize(input.maxResults, 100),
      });
      return {
        executionSummaries: page.items.map((e) => ({
          thingArn: thingArn(ctx, e.thingName),
          jobExecutionSummary: executionSummary(e),
        })),
        nextToken: encodeToken(page.nextToken),
      };
    },
    ListJobExecutionsForThing: async (input: {
      thingName: string;
      status?: string;
      jobId?: string;
      maxResults?: number;
      nextToken?: string;
    }) => {
      await store.things.describe(input.thingName);
      const page = await store.jobs.listExecutionsForThing(input.thingName, {
        ...(input.status === undefined ? {} : { status: input.status }),
        ...(input.jobId === undefined ? {} : { jobId: input.jobId }),
        after: decodeToken(input.nextToken),
        limit: pageSize(input.maxResults, 100),
      });
      return {
        executionSummaries: page.items.map((e) => ({
          jobId: e.jobId,
          jobExecutionSummary: executionSummary(e),
        })),
        nextToken: encodeToken(page.nextToken),
      };
    },
    CancelJobExecution: async (input: {
      jobId: string;
      thingName: string;
      force?: boolean;
      expectedVersion?: number;
      statusDetails?: Record<string, string>;
    }) => {
      await engine.cancelExecution(input.thingName, input.jobId, input);
      await engine.refreshStatus(input.jobId);
      return {};
    },
    DeleteJobExecution: async (input: {
      jobId: string;
      thingName: string;
      executionNumber: number;
      force?: boolean;
    }) => {
      await engine.deleteExecution(input.thingName, input.jobId, input.executionNumber, input.force === true);
      return {};
    },
  };
}
