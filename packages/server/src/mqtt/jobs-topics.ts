import {
  approximateSecondsBeforeTimedOut,
  type Clock,
  type ErrorType,
  type Execution,
  executionState,
  isOtterError,
} from '@otter/core';
import type { Caller, JobEngine } from '../services/job-engine.js';
import type { Reply, RouteHandler } from './topic-router.js';

/** The jobs topic prefix of a thing: `$aws/things/{thingName}/jobs`. */
export const jobsTopic = (thingName: string): string => `$aws/things/${thingName}/jobs`;

/** The `code` values of a jobs `/rejected` reply, as the AWS Jobs device MQTT API names them. */
export const JOBS_ERROR_CODES = [
  'InvalidTopic',
  'InvalidJson',
  'InvalidRequest',
  'InvalidStateTransition',
  'ResourceNotFound',
  'VersionMismatch',
  'InternalError',
  'RequestThrottled',
  'TerminalStateReached',
] as const;
export type JobsErrorCode = (typeof JOBS_ERROR_CODES)[number];

/** Otter's error types → jobs reply codes; anything else is InternalError without details. */
const CODE_OF: Partial<Record<ErrorType, JobsErrorCode>> = {
  InvalidRequestException: 'InvalidRequest',
  ValidationException: 'InvalidRequest',
  ResourceNotFoundException: 'ResourceNotFound',
  // A thing only ever asks for its own executions; anything else simply does not exist for it.
  AccessDeniedException: 'ResourceNotFound',
  InvalidStateTransitionException: 'InvalidStateTransition',
  VersionConflictException: 'VersionMismatch',
  TerminalStateException: 'TerminalStateReached',
  ThrottlingException: 'RequestThrottled',
};

/** The InvalidTopic message (the AWS Jobs ErrorResponse documentation's wording). */
const INVALID_TOPIC_MESSAGE =
  'The request was sent to a topic in the AWS IoT Jobs namespace that does not map to any API.';

/**
 * Is `rest` (the topic after `$aws/things/{thing}/jobs/`) a topic Otter publishes to rather than a
 * request: `notify`, `notify-next`, or anything ending in `/accepted` or `/rejected`? Those never
 * get an InvalidTopic reply, so no reply can answer a reply.
 */
export function isJobsReplyTopic(rest: string): boolean {
  if (rest === 'notify' || rest === 'notify-next') return true;
  const last = rest.slice(rest.lastIndexOf('/') + 1);
  return last === 'accepted' || last === 'rejected';
}

/** clientToken: 1–64 characters (iot-jobs-data ClientRequestToken). */
const MAX_CLIENT_TOKEN = 64;

/** A request problem found before the engine runs (bad JSON, bad member types). */
class JobsRequestError extends Error {
  constructor(
    readonly code: JobsErrorCode,
    message: string,
  ) {
    super(message);
  }
}

type JobExecutionState = ReturnType<typeof executionState>;

export interface JobsRejection {
  code: JobsErrorCode;
  message: string;
  clientToken?: string;
  timestamp: number;
  executionState?: JobExecutionState;
}

/** MQTT jobs payloads carry times in epoch seconds. */
const seconds = (ms: number): number => Math.floor(ms / 1000);
const epoch = (ms: number | undefined) => (ms === undefined ? undefined : seconds(ms));

/** JobExecutionSummary of `get/accepted` and `notify`. */
export const executionSummary = (e: Execution) => ({
  jobId: e.jobId,
  queuedAt: seconds(e.queuedAt),
  startedAt: epoch(e.startedAt),
  lastUpdatedAt: seconds(e.lastUpdatedAt),
  versionNumber: e.versionNumber,
  executionNumber: e.executionNumber,
});

/** The job document as MQTT replies carry it: a JSON object (a string only if it is not JSON). */
export function documentObject(document: string): unknown {
  try {
    return JSON.parse(document);
  } catch {
    return document;
  }
}

/** JobExecution of `start-next/accepted`, `{jobId}/get/accepted` and `notify-next`. */
export function deviceExecution(e: Execution, now: number, jobDocument?: string) {
  return {
    jobId: e.jobId,
    thingName: e.thingName,
    status: e.status,
    statusDetails: { ...e.statusDetails },
    queuedAt: seconds(e.queuedAt),
    startedAt: epoch(e.startedAt),
    lastUpdatedAt: seconds(e.lastUpdatedAt),
    approximateSecondsBeforeTimedOut: approximateSecondsBeforeTimedOut(e, now),
    versionNumber: e.versionNumber,
    executionNumber: e.executionNumber,
    jobDocument: jobDocument === undefined ? undefined : documentObject(jobDocument),
  };
}

/** The request body: `{}` when empty, else a JSON object (InvalidJson / InvalidRequest otherwise). */
export function parseJobsRequest(payload: Buffer): Record<string, unknown> {
  if (payload.length === 0) return {};
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    throw new JobsRequestError('InvalidJson', 'The request payload is not valid UTF-8 encoded JSON');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new JobsRequestError('InvalidRequest', 'The request payload must be a JSON object');
  return body as Record<string, unknown>;
}

/** A valid clientToken of the raw payload, to echo even when the request fails later. */
function clientTokenOf(payload: Buffer): string | undefined {
  try {
    const token: unknown = JSON.parse(payload.toString('utf8'))?.clientToken;
    return typeof token === 'string' && token.length >= 1 && token.length <= MAX_CLIENT_TOKEN
      ? token
      : undefined;
  } catch {
    return undefined;
  }
}

function checkClientToken(body: Record<string, unknown>): string | undefined {
  const token = body.clientToken;
  if (token === undefined) return undefined;
  if (typeof token !== 'string' || token.length < 1 || token.length > MAX_CLIENT_TOKEN)
    throw new JobsRequestError(
      'InvalidRequest',
      `clientToken must be a string of 1 to ${MAX_CLIENT_TOKEN} characters`,
    );
  return token;
}

function optionalBoolean(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new JobsRequestError('InvalidRequest', `${key} must be a boolean`);
  return v;
}

function optionalExecutionNumber(body: Record<string, unknown>): number | undefined {
  const v = body.executionNumber;
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)
    throw new JobsRequestError('InvalidRequest', 'executionNumber must be a positive integer');
  return v;
}

/** The `/rejected` payload for any error; unknown errors never leak their message. */
export function jobsRejection(
  error: unknown,
  nowMs: number,
  clientToken: string | undefined,
  state?: JobExecutionState,
): JobsRejection {
  let code: JobsErrorCode = 'InternalError';
  let message = 'Internal service failure';
  if (error instanceof JobsRequestError) ({ code, message } = error);
  else if (isOtterError(error) && CODE_OF[error.type]) {
    code = CODE_OF[error.type]!;
    message = error.message;
  }
  const fromError = isOtterError(error)
    ? (error.fields.executionState as JobExecutionState | undefined)
    : undefined;
  const executionStateOut =
    code === 'VersionMismatch' || code === 'InvalidStateTransition' ? (fromError ?? state) : undefined;
  return {
    code,
    message,
    ...(clientToken === undefined ? {} : { clientToken }),
    timestamp: seconds(nowMs),
    ...(executionStateOut === undefined ? {} : { executionState: executionStateOut }),
  };
}

interface JobsRouter {
  route(pattern: string, handler: RouteHandler): void;
}

type Operation = (
  caller: Caller,
  thingName: string,
  params: Record<string, string>,
  body: Record<string, unknown>,
) => Promise<object>;

/**
 * The AWS IoT Jobs device MQTT API on the jobs engine, as the thing of the topic:
 * `jobs/get`, `jobs/start-next`, `jobs/{jobId}/get` (incl. `$next`) and `jobs/{jobId}/update`,
 * answered on `/accepted` (clientToken echoed, timestamp added) or `/rejected`; any other request
 * topic under `jobs/` is answered on its `/rejected` with InvalidTopic.
 */
export function registerJobsTopics(mqtt: JobsRouter, engine: JobEngine, clock: Clock): void {
  const withDocument = async (e: Execution, include: boolean) =>
    include ? engine.deviceDocument(await engine.jobOf(e.jobId)) : undefined;

  const serve = (suffix: string, op: Operation, onError?: typeof stateOnError) => {
    mqtt.route(`${jobsTopic('{thingName}')}/${suffix}`, async (thingName, params, payload, reply: Reply) => {
      const topic = `${jobsTopic(thingName)}/${suffix.replace('{jobId}', params.jobId ?? '')}`;
      let clientToken = clientTokenOf(payload);
      try {
        const body = parseJobsRequest(payload);
        clientToken = checkClientToken(body);
        const out = await op({ kind: 'thing', thingName }, thingName, params, body);
        await reply(`${topic}/accepted`, {
          ...out,
          timestamp: seconds(clock.now()),
          ...(clientToken === undefined ? {} : { clientToken }),
        });
      } catch (error) {
        const state = onError ? await onError(error, thingName, params, payload) : undefined;
        await reply(`${topic}/rejected`, jobsRejection(error, clock.now(), clientToken, state));
      }
    });
  };

  // Every other topic under jobs/ maps to no API: InvalidTopic (AWS), except the reply topics
  // themselves (answering them could loop, and an external broker hands Otter its own replies).
  mqtt.route(`${jobsTopic('{thingName}')}/{rest...}`, async (thingName, params, payload, reply: Reply) => {
    if (isJobsReplyTopic(params.rest!)) return;
    const rejection = jobsRejection(
      new JobsRequestError('InvalidTopic', INVALID_TOPIC_MESSAGE),
      clock.now(),
      clientTokenOf(payload),
    );
    await reply(`${jobsTopic(thingName)}/${params.rest}/rejected`, rejection);
  });

  /** InvalidStateTransition carries the execution's current state (AWS); read it for the reply. */
  const stateOnError = async (
    error: unknown,
    thingName: string,
    params: Record<string, string>,
    payload: Buffer,
  ): Promise<JobExecutionState | undefined> => {
    if (!isOtterError(error) || error.type !== 'InvalidStateTransitionException' || !params.jobId)
      return undefined;
    try {
      const n = optionalExecutionNumber(parseJobsRequest(payload));
      const e = await engine.describeExecution({ kind: 'thing', thingName }, thingName, params.jobId, n);
      return executionState(e);
    } catch {
      return undefined;
    }
  };

  serve('get', async (caller, thingName) => {
    const { inProgress, queued } = await engine.pending(caller, thingName);
    return { inProgressJobs: inProgress.map(executionSummary), queuedJobs: queued.map(executionSummary) };
  });

  serve('start-next', async (caller, thingName, _params, body) => {
    const started = await engine.startNextWithJob(caller, thingName, {
      statusDetails: body.statusDetails,
      stepTimeoutInMinutes: body.stepTimeoutInMinutes,
    });
    if (!started) return {};
    const { execution, job } = started;
    return { execution: deviceExecution(execution, clock.now(), await engine.deviceDocument(job)) };
  });

  serve('{jobId}/get', async (caller, thingName, params, body) => {
    const executionNumber = optionalExecutionNumber(body);
    // MQTT's default is true (DescribeJobExecution over MQTT: "The default is true").
    const include = optionalBoolean(body, 'includeJobDocument') ?? true;
    const jobId = params.jobId!;
    const e =
      jobId === '$next'
        ? await engine.next(caller, thingName)
        : await engine.describeExecution(caller, thingName, jobId, executionNumber);
    return e ? { execution: deviceExecution(e, clock.now(), await withDocument(e, include)) } : {};
  });

  serve(
    '{jobId}/update',
    async (caller, thingName, params, body) => {
      const executionNumber = optionalExecutionNumber(body);
      const includeState = optionalBoolean(body, 'includeJobExecutionState') ?? false;
      const includeDocument = optionalBoolean(body, 'includeJobDocument') ?? false;
      if (body.status === undefined) throw new JobsRequestError('InvalidRequest', 'status is required');
      const { execution, job } = await engine.updateExecution(caller, thingName, params.jobId!, {
        status: body.status,
        statusDetails: body.statusDetails,
        expectedVersion: body.expectedVersion,
        stepTimeoutInMinutes: body.stepTimeoutInMinutes,
        ...(executionNumber === undefined ? {} : { executionNumber }),
      });
      return {
        ...(includeState ? { executionState: executionState(execution) } : {}),
        ...(includeDocument ? { jobDocument: documentObject(await engine.deviceDocument(job)) } : {}),
      };
    },
    stateOnError,
  );
}
