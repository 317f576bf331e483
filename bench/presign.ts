/**
 * Pre-signed request pools for the load generator: each request is built and SigV4-signed by the
 * real SDK client (so path encoding such as `$next` → `%24next` and the payload hash are exactly what
 * a device sends) and captured instead of sent. Signatures stay valid within the server's 5-minute
 * skew window, so pools are built right before each run.
 */
import {
  GetPendingJobExecutionsCommand,
  IoTJobsDataPlaneClient,
  StartNextPendingJobExecutionCommand,
  UpdateJobExecutionCommand,
} from '@aws-sdk/client-iot-jobs-data-plane';
import type { LoadTarget } from './load-worker.js';

class Captured extends Error {}

export interface SigningOptions {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** A jobs data-plane client whose transport records the signed request and stops. */
function capturingClient(opts: SigningOptions, out: LoadTarget[]): IoTJobsDataPlaneClient {
  return new IoTJobsDataPlaneClient({
    endpoint: opts.endpoint,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey },
    requestHandler: {
      handle: async (request: {
        method: string;
        path: string;
        query?: Record<string, string | string[] | null>;
        headers: Record<string, string>;
        body?: unknown;
      }) => {
        const query = Object.entries(request.query ?? {})
          .flatMap(([k, v]) =>
            (Array.isArray(v) ? v : [v]).map((x) =>
              x === null ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(x)}`,
            ),
          )
          .join('&');
        const body = typeof request.body === 'string' ? request.body : undefined;
        out.push({
          method: request.method,
          path: query ? `${request.path}?${query}` : request.path,
          headers: { ...request.headers },
          ...(body === undefined ? {} : { body }),
        });
        throw new Captured();
      },
    } as never,
  });
}

type JobsCommand =
  | GetPendingJobExecutionsCommand
  | StartNextPendingJobExecutionCommand
  | UpdateJobExecutionCommand;

/** Signs one request per command, in order. */
export async function presign(opts: SigningOptions, commands: JobsCommand[]): Promise<LoadTarget[]> {
  const out: LoadTarget[] = [];
  const client = capturingClient(opts, out);
  for (const command of commands) {
    try {
      await client.send(command as never);
    } catch (error) {
      if (!(error instanceof Captured)) throw error;
    }
  }
  client.destroy();
  return out;
}

export const getPending = (thingName: string) => new GetPendingJobExecutionsCommand({ thingName });
export const startNext = (thingName: string) => new StartNextPendingJobExecutionCommand({ thingName });
export const inProgress = (thingName: string, jobId: string, step: number) =>
  new UpdateJobExecutionCommand({
    thingName,
    jobId,
    status: 'IN_PROGRESS',
    statusDetails: { step: 'download', progress: String(step % 100) },
  });
