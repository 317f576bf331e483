import {
  type Clock,
  cancel,
  deriveJobStatus,
  deviceUpdate,
  type Execution,
  invalidRequest,
  isOtterError,
  isTerminal,
  type JobStatus,
  notFound,
  OtterError,
  parseScheduleTime,
  rolloutAllowance,
  type SchedulingConfig,
  startNext,
  type TimeoutConfig,
  validateAbortConfig,
  validateRetryConfig,
  validateRolloutConfig,
  validateSchedulingConfig,
  validateTimeoutConfig,
  windowState,
} from '@otter/core';
import type { ArtifactService } from '../artifacts/artifact-service.js';
import {
  executionNotFound,
  type JobConfigs,
  type JobRecord,
  type JobTargetNames,
} from '../store/job-store.js';
import type { RegistryStore } from '../store/registry-store.js';
import { thingNotFound } from '../store/thing-store.js';
import { JobDocuments } from './job-documents.js';
import { PACKAGE_SHADOW } from './package-shadow.js';

/**
 * Who is asking. The HTTP data plane signed with access keys is `admin`; a device on the TLS or
 * MQTT listener is `{ kind: 'thing' }` and may touch only its own executions.
 */
export type Caller = { kind: 'admin' } | { kind: 'thing'; thingName: string };
export const ADMIN: Caller = { kind: 'admin' };

/**
 * Hears which things' pending executions changed (released, started, finished, canceled, removed,
 * retried), so the MQTT side can push `notify` / `notify-next`. Called after the change is stored.
 */
export interface JobNotifier {
  executionsChanged(thingNames: readonly string[]): Promise<void>;
}

export interface JobEngineOptions {
  store: RegistryStore;
  clock: Clock;
  /** Reads documentSource artifacts and presigns `${aws:iot:s3-presigned-url:…}`; absent: both refused. */
  artifacts?: ArtifactService | undefined;
  /** Applies a shadow update as UpdateThingShadow does (so fleet search and dynamic groups follow). */
  updateShadow?: ((thingName: string, shadowName: string, payload: Buffer) => Promise<void>) | undefined;
  notifier?: JobNotifier | undefined;
}

export interface CreateJobInput {
  jobId: string;
  targets: string[];
  document?: string;
  documentSource?: string;
  description?: string;
  targetSelection?: 'SNAPSHOT' | 'CONTINUOUS';
  jobExecutionsRolloutConfig?: unknown;
  abortConfig?: unknown;
  jobExecutionsRetryConfig?: unknown;
  timeoutConfig?: unknown;
  schedulingConfig?: unknown;
  presignedUrlConfig?: { expiresInSec?: number; roleArn?: string };
  destinationPackageVersions?: string[];
  documentParameters?: Record<string, string>;
  jobTemplateArn?: string;
  tags?: { Key: string; Value?: string }[];
  namespaceId?: string;
}

export type ConfigInput = Pick<
  CreateJobInput,
  | 'jobExecutionsRolloutConfig'
  | 'abortConfig'
  | 'jobExecutionsRetryConfig'
  | 'timeoutConfig'
  | 'schedulingConfig'
  | 'presignedUrlConfig'
>;

const TARGET_ARN = /^arn:aws[a-z-]*:iot:[a-z0-9-]*:\d{12}:(thing|thinggroup)\/([a-zA-Z0-9:_-]{1,128})$/;
const TEMPLATE_ARN = /^arn:aws[a-z-]*:iot:[a-z0-9-]*:\d{12}:jobtemplate\/([a-zA-Z0-9_-]{1,64})$/;
const MINUTE = 60_000;
/** AssociateTargetsWithJob: "The total number of targets associated with a job must not exceed 100" (AWS API doc). */
export const MAX_JOB_TARGETS = 100;
/** How often an optimistic execution update is retried when another writer changed it first. */
const MAX_ATTEMPTS = 20;

/** Thing and thing group names from target ARNs; InvalidRequestException for anything else. */
export function parseTargets(arns: readonly string[]): JobTargetNames {
  const out: JobTargetNames = { things: [], groups: [] };
  for (const arn of arns) {
    const m = TARGET_ARN.exec(arn);
    if (!m) throw invalidRequest(`Invalid job target ${arn}: use a thing or thing group ARN`);
    (m[1] === 'thing' ? out.things : out.groups).push(m[2]!);
  }
  return out;
}

/**
 * Validates the configs CreateJob, CreateJobTemplate and UpdateJob accept, with core's rules.
 * Returns them in their stored (AWS member) form; absent members stay absent.
 */
export function validateConfigs(input: ConfigInput, now: number): JobConfigs {
  const out: JobConfigs = {};
  const put = (key: keyof JobConfigs, v: object | undefined) => {
    if (v !== undefined) out[key] = v as Record<string, unknown>;
  };
  if (input.jobExecutionsRolloutConfig !== undefined)
    put('jobExecutionsRolloutConfig', validateRolloutConfig(input.jobExecutionsRolloutConfig));
  put('abortConfig', validateAbortConfig(input.abortConfig));
  put('jobExecutionsRetryConfig', validateRetryConfig(input.jobExecutionsRetryConfig));
  if (input.timeoutConfig !== undefined) put('timeoutConfig', validateTimeoutConfig(input.timeoutConfig));
  put('schedulingConfig', validateSchedulingConfig(input.schedulingConfig, now));
  const presign = input.presignedUrlConfig;
  if (presign !== undefined) {
    const s = presign.expiresInSec;
    if (s !== undefined && (!Number.isInteger(s) || s < 60 || s > 3600))
      throw invalidRequest(`presignedUrlConfig.expiresInSec must be an integer from 60 to 3600, not ${s}`);
    put('presignedUrlConfig', presign);
  }
  return out;
}

const hasRollout = (c: JobConfigs) => {
  const r = c.jobExecutionsRolloutConfig;
  return r !== undefined && (r.maximumPerMinute !== undefined || r.exponentialRate !== undefined);
};

/**
 * The jobs engine: everything the control plane, the HTTP and MQTT device planes and the scheduler
 * do to jobs and executions. Knows nothing of HTTP or MQTT; the domain rules live in @otter/core.
 */
export class JobEngine {
  readonly documents: JobDocuments;
  readonly #store: RegistryStore;
  readonly #clock: Clock;
  readonly #updateShadow: JobEngineOptions['updateShadow'];
  readonly #notifier: JobNotifier | undefined;
  readonly #background = new Set<Promise<void>>();

  constructor(opts: JobEngineOptions) {
    this.#notifier = opts.notifier;
    this.#store = opts.store;
    this.#clock = opts.clock;
    this.#updateShadow = opts.updateShadow;
    this.documents = new JobDocuments(opts.store, opts.artifacts);
  }

  /**
   * CreateJob. Everything is checked before anything is written; SNAPSHOT targets are resolved now
   * (things named, plus the current members of the groups named and of their child groups).
   * Without a rollout config every execution is created QUEUED at once; with one, the first
   * minute's quota; with a future startTime, none (the scheduler releases them).
   */
  async createJob(input: CreateJobInput, arn: (resource: string) => string): Promise<JobRecord> {
    const now = this.#clock.now();
    const jobs = this.#store.jobs;
    let template: Awaited<ReturnType<typeof jobs.getTemplate>>;
    if (input.jobTemplateArn !== undefined) {
      const m = TEMPLATE_ARN.exec(input.jobTemplateArn);
      if (!m) throw invalidRequest(`Invalid job template ARN: ${input.jobTemplateArn}`);
      template = await jobs.getTemplate(m[1]!);
      if (!template) throw notFound(`Job template ${m[1]} cannot be found.`);
    }
    if (input.document !== undefined && input.documentSource !== undefined)
      throw invalidRequest('Give either document or documentSource, not both');
    const documentSource =
      input.document === undefined ? (input.documentSource ?? template?.documentSource) : undefined;
    const document =
      input.document ??
      (documentSource !== undefined ? await this.documents.readSource(documentSource) : template?.document);
    if (document === undefined)
      throw invalidRequest('A job needs a document, a documentSource or a jobTemplateArn');
    const destinations = input.destinationPackageVersions ?? template?.destinationPackageVersions ?? [];
    const parameters = await this.documents.check(document, destinations, input.documentParameters);
    const configs = { ...template?.configs, ...validateConfigs(input, now) };
    const targetSelection = input.targetSelection ?? 'SNAPSHOT';
    const targets = parseTargets(input.targets);
    const missing = await jobs.missingTargets(targets);
    if (missing.length > 0) throw notFound(`Job targets do not exist: ${missing.slice(0, 20).join(', ')}`);
    if (await jobs.getJob(input.jobId))
      throw new OtterError('ResourceAlreadyExistsException', `Job ${input.jobId} already exists.`, {
        resourceId: input.jobId,
        resourceArn: arn(`job/${input.jobId}`),
      });

    const sched = configs.schedulingConfig as SchedulingConfig | undefined;
    const startAt =
      sched?.startTime === undefined ? undefined : parseScheduleTime(sched.startTime, 'startTime');
    const scheduled = startAt !== undefined && startAt > now;
    // Outside every maintenance window nothing is released now: the scheduler opens the window.
    const window = scheduled ? undefined : windowState(sched, now);
    const closed = window !== undefined && !window.open;
    const paced = hasRollout(configs);
    const limit =
      scheduled || closed
        ? 0
        : paced
          ? rolloutAllowance(configs.jobExecutionsRolloutConfig ?? {}, now, now, {
              notified: 0,
              succeeded: 0,
              releasedThisMinute: 0,
            }).releasable
          : Number.POSITIVE_INFINITY;
    const nextDueAt = scheduled ? startAt : closed ? window.opensAt : paced ? now + MINUTE : undefined;
    await jobs.createJob(
      {
        jobId: input.jobId,
        jobArn: arn(`job/${input.jobId}`),
        status: scheduled || closed ? 'SCHEDULED' : 'IN_PROGRESS',
        targetSelection,
        targets: input.targets,
        document,
        ...(documentSource === undefined ? {} : { documentSource }),
        ...(parameters === undefined ? {} : { documentParameters: parameters }),
        ...(input.jobTemplateArn === undefined ? {} : { jobTemplateArn: input.jobTemplateArn }),
        ...(input.description === undefined ? {} : { description: input.description }),
        configs,
        destinationPackageVersions: destinations,
        forceCanceled: false,
        ...(scheduled || closed ? {} : { rolloutStartedAt: now }),
        createdAt: now,
        updatedAt: now,
        ...(nextDueAt === undefined ? {} : { nextDueAt }),
      },
      targets,
      scheduled || closed || paced ? { kind: 'some', limit } : { kind: 'all' },
      now,
    );
    if (input.tags?.length) {
      await this.#store.tags.tag(
        'job',
        input.jobId,
        Object.fromEntries(input.tags.map((t) => [t.Key, t.Value ?? ''])),
      );
    }
    await this.#notifyJob(input.jobId, ['QUEUED']);
    return this.refreshStatus(input.jobId);
  }

  /** The job and its per-status execution counts. */
  async describeJob(jobId: string) {
    const job = await this.#store.jobs.describeJob(jobId);
    const counts = await this.#store.jobs.statusCounts(jobId);
    return { job, counts, status: this.#status(job, counts) };
  }

  #status(job: JobRecord, counts: Partial<Record<string, number>>): JobStatus {
    return deriveJobStatus(
      {
        targetSelection: job.targetSelection,
        canceled: job.status === 'CANCELED',
        deleting: job.status === 'DELETION_IN_PROGRESS',
        rolloutComplete: job.rolloutComplete,
        ...(job.configs.schedulingConfig
          ? { schedulingConfig: job.configs.schedulingConfig as unknown as SchedulingConfig }
          : {}),
        counts,
      },
      this.#clock.now(),
    );
  }

  /**
   * Recomputes and stores the job's status (COMPLETED sets completedAt). Cheap: one index probe.
   * The write is a compare-and-set on the status read: when another request or process changed it
   * meanwhile (CancelJob, DeleteJob), theirs stands and the job is returned as it is now.
   */
  async refreshStatus(jobId: string): Promise<JobRecord> {
    const job = await this.#store.jobs.describeJob(jobId);
    const pending = await this.#store.jobs.hasPendingExecutions(jobId);
    const status = this.#status(job, { QUEUED: pending ? 1 : 0 });
    // A job that ended (or is being deleted) stays so; only a running one is moved on.
    const ended =
      job.status === 'COMPLETED' || job.status === 'CANCELED' || job.status === 'DELETION_IN_PROGRESS';
    if (status === job.status || ended) return job;
    const now = this.#clock.now();
    const done = status === 'COMPLETED';
    await this.#store.jobs.updateJobIfStatus(
      jobId,
      job.status,
      { status, ...(done ? { completedAt: now, nextDueAt: undefined } : {}) },
      now,
    );
    return this.#store.jobs.describeJob(jobId);
  }

  /** UpdateJob: only the members given change; each is validated as at CreateJob. */
  async updateJob(jobId: string, input: ConfigInput & { description?: string }): Promise<void> {
    const job = await this.#store.jobs.describeJob(jobId);
    if (job.status === 'DELETION_IN_PROGRESS') throw invalidRequest(`Job ${jobId} is being deleted`);
    if ('schedulingConfig' in input && input.schedulingConfig !== undefined)
      throw invalidRequest('UpdateJob cannot change schedulingConfig');
    const configs = { ...job.configs, ...validateConfigs(input, this.#clock.now()) };
    await this.#store.jobs.updateJob(
      jobId,
      { configs, ...(input.description === undefined ? {} : { description: input.description }) },
      this.#clock.now(),
    );
  }

  /**
   * CancelJob: QUEUED executions become CANCELED, IN_PROGRESS ones too with `force`; pending
   * targets are dropped. A COMPLETED job, or a CANCELED one without `force`, is refused.
   */
  async cancelJob(
    jobId: string,
    input: { force?: boolean; reasonCode?: string; comment?: string },
  ): Promise<JobRecord> {
    const force = input.force === true;
    // The status is written only if it is still the one checked (the scheduler may complete or
    // start the job meanwhile): then the checks run again on the new status.
    for (let attempt = 0; ; attempt++) {
      const job = await this.refreshStatus(jobId);
      if (job.status === 'COMPLETED')
        throw invalidRequest(`Job ${jobId} is COMPLETED and cannot be canceled`);
      if (job.status === 'DELETION_IN_PROGRESS') throw invalidRequest(`Job ${jobId} is being deleted`);
      if (job.status === 'CANCELED' && (!force || job.forceCanceled))
        throw invalidRequest(`Job ${jobId} is already canceled${force ? ' with force' : ''}`);
      const now = this.#clock.now();
      await this.#store.jobs.cancelExecutionsOfJob(jobId, force, now);
      const written = await this.#store.jobs.updateJobIfStatus(
        jobId,
        job.status,
        {
          status: 'CANCELED',
          forceCanceled: force,
          completedAt: now,
          nextDueAt: undefined,
          ...(input.reasonCode === undefined ? {} : { reasonCode: input.reasonCode }),
          ...(input.comment === undefined ? {} : { comment: input.comment }),
        },
        now,
      );
      if (written) break;
      if (attempt >= 4)
        throw invalidRequest(`Job ${jobId} kept changing while it was being canceled; try again`);
    }
    await this.#notifyJob(jobId, ['CANCELED']);
    return this.#store.jobs.describeJob(jobId);
  }

  /** DeleteJob: a job still IN_PROGRESS (or with an IN_PROGRESS execution) needs `force` (AWS). */
  async deleteJob(jobId: string, force: boolean): Promise<void> {
    const job = await this.refreshStatus(jobId);
    if (!force) {
      const inProgress = await this.#store.jobs.listExecutionsForJob(jobId, {
        status: 'IN_PROGRESS',
        limit: 1,
      });
      if (job.status === 'IN_PROGRESS' || job.status === 'SCHEDULED' || inProgress.items.length > 0) {
        throw new OtterError(
          'InvalidStateTransitionException',
          `Job ${jobId} is ${job.status}${inProgress.items.length ? ' with executions IN_PROGRESS' : ''}; set force to delete it`,
        );
      }
    }
    const affected = this.#notifier ? await this.#jobThings(jobId, ['QUEUED', 'IN_PROGRESS']) : [];
    await this.#store.jobs.deleteJob(jobId);
    await this.#notifier?.executionsChanged(affected);
  }

  /** AssociateTargetsWithJob: CONTINUOUS, IN_PROGRESS jobs only, at most 100 targets in all (AWS API doc). */
  async associateTargets(jobId: string, targetArns: string[], comment?: string): Promise<JobRecord> {
    const job = await this.refreshStatus(jobId);
    if (job.targetSelection !== 'CONTINUOUS')
      throw invalidRequest(`Targets can be added only to CONTINUOUS jobs; ${jobId} is SNAPSHOT`);
    if (job.status !== 'IN_PROGRESS') throw invalidRequest(`Job ${jobId} is ${job.status}, not IN_PROGRESS`);
    const targets = parseTargets(targetArns);
    const total = new Set([...job.targets, ...targetArns]).size;
    if (total > MAX_JOB_TARGETS)
      throw new OtterError(
        'LimitExceededException',
        `A job has at most ${MAX_JOB_TARGETS} targets; this would make ${total}`,
      );
    const missing = await this.#store.jobs.missingTargets(targets);
    if (missing.length > 0) throw notFound(`Job targets do not exist: ${missing.slice(0, 20).join(', ')}`);
    const now = this.#clock.now();
    await this.#store.jobs.addTargets(jobId, targetArns, targets, now);
    if (comment !== undefined) await this.#store.jobs.updateJob(jobId, { comment }, now);
    await this.#notifyJob(jobId, ['QUEUED']);
    return this.#store.jobs.describeJob(jobId);
  }

  /** GetJobDocument: the stored document; unless `beforeSubstitution`, with documentParameters filled in. */
  async getJobDocument(jobId: string, beforeSubstitution: boolean): Promise<string> {
    const job = await this.#store.jobs.describeJob(jobId);
    const doc = job.document ?? '{}';
    return beforeSubstitution ? doc : this.documents.withParameters(doc, job.documentParameters);
  }

  /** One execution (control plane): the given number or the latest attempt. */
  async describeExecution(
    caller: Caller,
    thingName: string,
    jobId: string,
    executionNumber?: number,
  ): Promise<Execution> {
    authorize(caller, thingName);
    const exec = await this.#store.jobs.getExecution(jobId, thingName, executionNumber);
    if (!exec) throw executionNotFound(jobId, thingName);
    return exec;
  }

  /** CancelJobExecution (core's cancel rules, optimistic write). */
  async cancelExecution(
    thingName: string,
    jobId: string,
    req: { force?: boolean; expectedVersion?: number; statusDetails?: Record<string, string> },
  ): Promise<Execution> {
    await this.#store.jobs.describeJob(jobId);
    const canceled = await this.#change(ADMIN, thingName, jobId, undefined, (e, now) => cancel(e, req, now));
    await this.#notifier?.executionsChanged([thingName]);
    return canceled;
  }

  /** DeleteJobExecution: terminal executions only, unless `force`. */
  async deleteExecution(
    thingName: string,
    jobId: string,
    executionNumber: number,
    force: boolean,
  ): Promise<void> {
    const exec = await this.#store.jobs.getExecution(jobId, thingName, executionNumber);
    if (!exec) throw executionNotFound(jobId, thingName);
    if (!isTerminal(exec.status) && !force) {
      throw new OtterError(
        'InvalidStateTransitionException',
        `Job execution ${jobId} on ${thingName} is ${exec.status}; only terminal executions can be deleted without force`,
      );
    }
    await this.#store.jobs.deleteExecution(jobId, thingName, executionNumber);
    await this.#notifier?.executionsChanged([thingName]);
    await this.refreshStatus(jobId);
  }

  // ---- device data plane -------------------------------------------------------------------

  /** GetPendingJobExecutions: the thing's IN_PROGRESS and QUEUED executions, oldest first. */
  async pending(
    caller: Caller,
    thingName: string,
  ): Promise<{ inProgress: Execution[]; queued: Execution[] }> {
    authorize(caller, thingName);
    // One query: the LEFT JOIN from things tells an unknown thing from one with nothing pending.
    const all = await this.#store.jobs.pendingExecutionsOfThing(thingName);
    if (all === undefined) throw thingNotFound(thingName);
    return splitPending(all);
  }

  /**
   * The pending executions of many things in one query per 500 (the notifier's batches); things
   * that do not exist (any more) are left out.
   */
  async pendingOfThings(
    thingNames: readonly string[],
  ): Promise<Map<string, { inProgress: Execution[]; queued: Execution[] }>> {
    const out = new Map<string, { inProgress: Execution[]; queued: Execution[] }>();
    for (const [name, all] of await this.#store.jobs.pendingExecutionsOf(thingNames))
      out.set(name, splitPending(all));
    return out;
  }

  /** The execution `$next` names: the oldest IN_PROGRESS, else the oldest QUEUED; undefined when none. */
  async next(caller: Caller, thingName: string): Promise<Execution | undefined> {
    const { inProgress, queued } = await this.pending(caller, thingName);
    return inProgress[0] ?? queued[0];
  }

  /** StartNextPendingJobExecution. Returns undefined when nothing is pending. */
  async startNext(
    caller: Caller,
    thingName: string,
    req: { statusDetails?: unknown; stepTimeoutInMinutes?: unknown },
  ): Promise<Execution | undefined> {
    return (await this.startNextWithJob(caller, thingName, req))?.execution;
  }

  /** startNext, also returning the execution's job (the handlers need its document). */
  async startNextWithJob(
    caller: Caller,
    thingName: string,
    req: { statusDetails?: unknown; stepTimeoutInMinutes?: unknown },
  ): Promise<{ execution: Execution; job: JobRecord } | undefined> {
    authorize(caller, thingName);
    for (let attempt = 1; ; attempt++) {
      // One statement: the execution `$next` names and its job (timeouts, document).
      const found = await this.#store.jobs.nextPendingWithJob(thingName);
      if (found === undefined) throw thingNotFound(thingName);
      const { execution: exec, job } = found;
      if (!exec || !job) return undefined;
      const now = this.#clock.now();
      const next = startNext(exec, req, timeoutOf(job), now);
      if (next === exec) return { execution: exec, job };
      if (await this.#store.jobs.saveExecution(next, exec)) {
        await this.#notifier?.executionsChanged([thingName]);
        return { execution: next, job };
      }
      if (attempt >= MAX_ATTEMPTS)
        throw new OtterError('ThrottlingException', 'Too many concurrent updates; retry');
    }
  }

  /**
   * UpdateJobExecution from a device: core's deviceUpdate on the latest attempt (or the numbered
   * one). A SUCCEEDED execution updates the thing's `$package` shadow when the package
   * configuration enables it; a terminal one may complete the job.
   */
  async updateExecution(
    caller: Caller,
    thingName: string,
    jobId: string,
    req: {
      status: unknown;
      statusDetails?: unknown;
      expectedVersion?: unknown;
      stepTimeoutInMinutes?: unknown;
      executionNumber?: number;
    },
  ): Promise<{ execution: Execution; job: JobRecord }> {
    // One statement reads the job (timeouts, document) and the execution; retries re-read the latter.
    const read = await this.#store.jobs.jobWithExecution(jobId, thingName, req.executionNumber);
    const { job } = read;
    let before: Execution | undefined;
    const execution = await this.#change(
      caller,
      thingName,
      jobId,
      req.executionNumber,
      (e, now) => {
        before = e;
        return deviceUpdate(e, req, timeoutOf(job), now);
      },
      read,
    );
    // Progress reports (IN_PROGRESS → IN_PROGRESS with new statusDetails) change neither the pending
    // list nor which execution is next, so they push nothing (AWS: notify-next is not sent "when the
    // next job's execution details change").
    if (before?.status !== execution.status) await this.#notifier?.executionsChanged([thingName]);
    if (execution.status === 'SUCCEEDED') await this.#recordPackageVersions(thingName, job);
    if (isTerminal(execution.status)) await this.refreshStatus(jobId);
    return { execution, job };
  }

  /** The document a device receives for a job (all substitutions resolved). */
  async deviceDocument(job: JobRecord): Promise<string> {
    const expires = job.configs.presignedUrlConfig?.expiresInSec;
    return this.documents.forDevice(
      job.document ?? '{}',
      job.documentParameters,
      typeof expires === 'number' ? expires : undefined,
    );
  }

  async jobOf(jobId: string): Promise<JobRecord> {
    return this.#store.jobs.describeJob(jobId);
  }

  /**
   * Tells the notifier about every thing with an execution of the job in `statuses`, a page at a
   * time, in the background: CreateJob for a million things answers once the executions are
   * committed, not after a million names were read back. The pages follow the request at once.
   */
  async #notifyJob(jobId: string, statuses: readonly string[]): Promise<void> {
    const notifier = this.#notifier;
    if (!notifier) return;
    const task = this.#eachJobThing(jobId, statuses, (names) => notifier.executionsChanged(names))
      // The notifier logs its own failures; a page read fails only when the store is closing.
      .catch(() => {})
      .finally(() => this.#background.delete(task));
    this.#background.add(task);
  }

  /** Resolves when the notifications queued in the background (CreateJob, CancelJob, …) are handed over. */
  async notificationsQueued(): Promise<void> {
    while (this.#background.size > 0) await Promise.all(this.#background);
  }

  /** Things with an execution of the job in `statuses` (read before a change that removes them). */
  async #jobThings(jobId: string, statuses: readonly string[]): Promise<string[]> {
    const all: string[] = [];
    await this.#eachJobThing(jobId, statuses, async (names) => {
      all.push(...names);
    });
    return all;
  }

  async #eachJobThing(
    jobId: string,
    statuses: readonly string[],
    onPage: (names: string[]) => Promise<void>,
  ): Promise<void> {
    for (const status of statuses) {
      let after: string | undefined;
      do {
        const names = await this.#store.jobs.jobThingNames(jobId, status, after, 1000);
        if (names.length > 0) await onPage(names);
        after = names.length === 1000 ? names[names.length - 1] : undefined;
      } while (after !== undefined);
    }
  }

  /** Applies `change` to an execution with optimistic concurrency (re-reads and retries on a race). */
  async #change(
    caller: Caller,
    thingName: string,
    jobId: string,
    executionNumber: number | undefined,
    change: (e: Execution, now: number) => Execution,
    /** The execution as just read along with its job (undefined: none): the first attempt starts from it. */
    read?: { execution: Execution | undefined },
  ): Promise<Execution> {
    authorize(caller, thingName);
    for (let attempt = 1; ; attempt++) {
      const exec =
        attempt === 1 && read
          ? read.execution
          : await this.#store.jobs.getExecution(jobId, thingName, executionNumber);
      if (!exec) throw executionNotFound(jobId, thingName);
      const next = change(exec, this.#clock.now());
      if (await this.#store.jobs.saveExecution(next, exec)) return next;
      if (attempt >= MAX_ATTEMPTS)
        throw new OtterError('ThrottlingException', 'Too many concurrent updates; retry');
    }
  }

  /** `$package` reported ← the job's destination package versions, when versionUpdateByJobsConfig is enabled. */
  async #recordPackageVersions(thingName: string, job: JobRecord): Promise<void> {
    if (!this.#updateShadow || job.destinationPackageVersions.length === 0) return;
    const config = await this.#store.settings.get<{ enabled?: boolean }>('packageConfiguration');
    if (config?.enabled !== true) return;
    const reported: Record<string, { version: string }> = {};
    for (const arn of job.destinationPackageVersions) {
      const m = /package\/([^/]+)\/version\/([^/]+)$/.exec(arn);
      if (m) reported[m[1]!] = { version: m[2]! };
    }
    try {
      await this.#updateShadow(
        thingName,
        PACKAGE_SHADOW,
        Buffer.from(JSON.stringify({ state: { reported } })),
      );
    } catch (error) {
      // The execution outcome stands even if the catalog changed since the job was created.
      if (!isOtterError(error)) throw error;
    }
  }

  /** The scheduler's changes (released, timed out, retried, removed, canceled) reach the notifier too. */
  async scheduledChanges(thingNames: readonly string[]): Promise<void> {
    for (let i = 0; i < thingNames.length; i += 1000)
      await this.#notifier?.executionsChanged(thingNames.slice(i, i + 1000));
  }
}

const splitPending = (all: Execution[]) => ({
  inProgress: all.filter((e) => e.status === 'IN_PROGRESS'),
  queued: all.filter((e) => e.status === 'QUEUED'),
});

function authorize(caller: Caller, thingName: string): void {
  if (caller.kind === 'thing' && caller.thingName !== thingName)
    throw new OtterError(
      'AccessDeniedException',
      `Thing ${caller.thingName} may not access jobs of ${thingName}`,
    );
}

const timeoutOf = (job: JobRecord): TimeoutConfig => (job.configs.timeoutConfig ?? {}) as TimeoutConfig;
