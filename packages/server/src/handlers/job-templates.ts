import { invalidRequest, notFound } from '@otter/core';
import type { AwsHandler } from '../aws/aws-plane.js';
import { parameterSpecs } from '../services/job-documents.js';
import { type ConfigInput, type JobEngine, validateConfigs } from '../services/job-engine.js';
import type { RegistryStore } from '../store/index.js';
import { decodeToken, encodeToken, pageSize, seconds } from './paging.js';

const JOB_ARN = /^arn:aws[a-z-]*:iot:[a-z0-9-]*:\d{12}:job\/([a-zA-Z0-9_-]{1,64})$/;

interface CreateJobTemplateInput extends ConfigInput {
  jobTemplateId: string;
  description: string;
  jobArn?: string;
  document?: string;
  documentSource?: string;
  destinationPackageVersions?: string[];
  maintenanceWindows?: unknown[];
  tags?: { Key: string; Value?: string }[];
}

/** Job templates: a document and configs that CreateJob's jobTemplateArn starts from. */
export function jobTemplateHandlers(
  store: RegistryStore,
  engine: JobEngine,
  now: () => number,
): Record<string, AwsHandler> {
  return {
    CreateJobTemplate: async (input: CreateJobTemplateInput, ctx) => {
      const sources = [input.jobArn, input.document, input.documentSource].filter((v) => v !== undefined);
      if (sources.length !== 1)
        throw invalidRequest('Give exactly one of jobArn, document and documentSource');
      let document = input.document;
      let destinations = input.destinationPackageVersions ?? [];
      let configs = validateConfigs(
        {
          ...input,
          ...(input.maintenanceWindows === undefined
            ? {}
            : { schedulingConfig: { maintenanceWindows: input.maintenanceWindows } }),
        },
        now(),
      );
      if (input.jobArn !== undefined) {
        const m = JOB_ARN.exec(input.jobArn);
        if (!m) throw invalidRequest(`Invalid job ARN: ${input.jobArn}`);
        const job = await store.jobs.getJob(m[1]!);
        if (!job) throw notFound(`Job ${m[1]} cannot be found.`);
        document = job.document;
        destinations = input.destinationPackageVersions ?? job.destinationPackageVersions;
        const { schedulingConfig: _s, ...jobConfigs } = job.configs;
        configs = { ...jobConfigs, ...configs };
      }
      if (input.documentSource !== undefined)
        document = await engine.documents.readSource(input.documentSource);
      // Parameters are given by CreateJob; here only the document's shape and package references are checked.
      const parameters = Object.fromEntries(parameterSpecs(document ?? '{}').map((s) => [s.key, 'x']));
      await engine.documents.check(document ?? '{}', destinations, parameters);
      const arn = ctx.arn(`jobtemplate/${input.jobTemplateId}`);
      await store.jobs.createTemplate({
        jobTemplateId: input.jobTemplateId,
        jobTemplateArn: arn,
        description: input.description,
        ...(document === undefined ? {} : { document }),
        ...(input.documentSource === undefined ? {} : { documentSource: input.documentSource }),
        configs,
        destinationPackageVersions: destinations,
        createdAt: now(),
      });
      if (input.tags?.length)
        await store.tags.tag(
          'jobTemplate',
          input.jobTemplateId,
          Object.fromEntries(input.tags.map((t) => [t.Key, t.Value ?? ''])),
        );
      return { jobTemplateArn: arn, jobTemplateId: input.jobTemplateId };
    },
    DescribeJobTemplate: async (input: { jobTemplateId: string }) => {
      const t = await store.jobs.getTemplate(input.jobTemplateId);
      if (!t) throw notFound(`Job template ${input.jobTemplateId} cannot be found.`);
      const { schedulingConfig, ...configs } = t.configs;
      return {
        jobTemplateArn: t.jobTemplateArn,
        jobTemplateId: t.jobTemplateId,
        description: t.description,
        documentSource: t.documentSource,
        document: t.document,
        createdAt: seconds(t.createdAt),
        ...configs,
        maintenanceWindows: schedulingConfig?.maintenanceWindows,
        destinationPackageVersions: t.destinationPackageVersions.length
          ? t.destinationPackageVersions
          : undefined,
      };
    },
    ListJobTemplates: async (input: { maxResults?: number; nextToken?: string }) => {
      const page = await store.jobs.listTemplates({
        after: decodeToken(input.nextToken),
        limit: pageSize(input.maxResults, 100),
      });
      return {
        jobTemplates: page.items.map((t) => ({
          jobTemplateArn: t.jobTemplateArn,
          jobTemplateId: t.jobTemplateId,
          description: t.description,
          createdAt: seconds(t.createdAt),
        })),
        nextToken: encodeToken(page.nextToken),
      };
    },
    DeleteJobTemplate: async (input: { jobTemplateId: string }) => {
      if (!(await store.jobs.deleteTemplate(input.jobTemplateId)))
        throw notFound(`Job template ${input.jobTemplateId} cannot be found.`);
      return {};
    },
  };
}
