/**
 * One interface for the two ways a device talks to the jobs data plane: HTTPS with its client
 * certificate (polling) and MQTT (request/reply topics and notify-next pushes). Wire names are the
 * AWS IoT Jobs ones; times are epoch seconds as the service sends them.
 */
import { OtterError } from '@otter/core/errors';

/** The statuses a device may set (the AWS device API refuses the others). */
export const DEVICE_STATUSES = ['IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED'] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

/** statusDetails: string values only, as AWS requires. */
export type StatusDetails = Readonly<Record<string, string>>;

/** A job execution as the data plane returns it. */
export interface JobExecution {
  readonly jobId: string;
  readonly thingName?: string;
  readonly status: string;
  readonly statusDetails?: StatusDetails;
  readonly versionNumber?: number;
  readonly executionNumber?: number;
  readonly queuedAt?: number;
  readonly startedAt?: number;
  readonly lastUpdatedAt?: number;
  /** A string over HTTP, the parsed object over MQTT; parseJobDocument takes either. */
  readonly jobDocument?: unknown;
}

export interface JobExecutionSummary {
  readonly jobId: string;
  readonly versionNumber?: number;
  readonly executionNumber?: number;
  readonly queuedAt?: number;
  readonly startedAt?: number;
}

export interface PendingJobs {
  readonly inProgressJobs: readonly JobExecutionSummary[];
  readonly queuedJobs: readonly JobExecutionSummary[];
}

export interface UpdateOptions {
  readonly expectedVersion?: number;
  readonly executionNumber?: number;
  readonly stepTimeoutInMinutes?: number;
}

export interface UpdateResult {
  readonly executionState?: { readonly status?: string; readonly versionNumber?: number };
}

/** notify-next: the next pending execution (with its document), or undefined when none is pending. */
export type NotifyNextListener = (execution: JobExecution | undefined) => void;

export interface JobsTransport {
  readonly kind: 'http' | 'mqtt';
  /** Opens the connection (MQTT) or checks nothing (HTTP). Resolves once usable. */
  connect(): Promise<void>;
  close(): Promise<void>;
  pending(): Promise<PendingJobs>;
  /** StartNextPendingJobExecution: the execution now IN_PROGRESS, or undefined when none is pending. */
  startNext(statusDetails?: StatusDetails, stepTimeoutInMinutes?: number): Promise<JobExecution | undefined>;
  /** DescribeJobExecution; `$next` gives undefined when nothing is pending. */
  describe(jobId: string): Promise<JobExecution | undefined>;
  update(
    jobId: string,
    status: DeviceStatus,
    statusDetails?: StatusDetails,
    options?: UpdateOptions,
  ): Promise<UpdateResult>;
  /** UpdateThingShadow of the named shadow (`$package`) with `doc` ({state: {reported: …}}). */
  updateShadow(shadowName: string, doc: unknown): Promise<void>;
  /** Pushes from the service (MQTT only; HTTP never calls it). */
  onNotifyNext(listener: NotifyNextListener): void;
  /** Called after every (re)connect, so the loop reconciles with `$next`. */
  onConnect(listener: () => void): void;
}

export const TRANSPORT_ERROR_CODES = [
  'TIMEOUT',
  'NETWORK',
  'NOT_CONNECTED',
  'REJECTED',
  'BAD_RESPONSE',
] as const;
export type TransportErrorCode = (typeof TRANSPORT_ERROR_CODES)[number];

/**
 * A request the service refused (`serviceCode` is its error: `InvalidStateTransition`,
 * `ResourceNotFound`, `VersionMismatch`, or the HTTP `x-amzn-ErrorType` without `Exception`), or a
 * request that did not get an answer (`TIMEOUT`, `NETWORK`, `NOT_CONNECTED`).
 */
export class TransportError extends OtterError {
  readonly code: TransportErrorCode;
  readonly serviceCode: string | undefined;
  readonly httpStatus: number | undefined;

  constructor(
    code: TransportErrorCode,
    message: string,
    fields: { serviceCode?: string; httpStatus?: number } = {},
  ) {
    super(code === 'REJECTED' ? 'InvalidRequestException' : 'ServiceUnavailableException', message);
    this.name = 'TransportError';
    this.code = code;
    this.serviceCode = fields.serviceCode;
    this.httpStatus = fields.httpStatus;
  }

  /** The service will never accept this update again (terminal execution, gone job). */
  get permanent(): boolean {
    return (
      this.code === 'REJECTED' &&
      (this.serviceCode === 'InvalidStateTransition' ||
        this.serviceCode === 'ResourceNotFound' ||
        this.serviceCode === 'TerminalStateReached')
    );
  }
}

/** `InvalidStateTransitionException` → `InvalidStateTransition`, so HTTP and MQTT codes compare equal. */
export const serviceCodeOf = (type: string): string => type.replace(/Exception$/, '');
