/**
 * The jobs data plane over HTTPS with the device's client certificate (docs/device-identity.md,
 * "TLS listener"): the AWS IoT Jobs REST routes and UpdateThingShadow. The certificate decides who
 * the device is; no SigV4. A plain `http://` endpoint works only against a development server with
 * `allowAnonymous`. HTTP has no pushes: the loop polls.
 */
import http from 'node:http';
import https from 'node:https';
import {
  type DeviceStatus,
  type JobExecution,
  type JobsTransport,
  type PendingJobs,
  type StatusDetails,
  serviceCodeOf,
  TransportError,
  type UpdateOptions,
  type UpdateResult,
} from './transport.js';

export interface HttpTransportOptions {
  /** `https://host:8785` (the device TLS listener) or `http://host:port` (development). */
  readonly endpoint: string;
  readonly thingName: string;
  readonly tls?: { readonly cert?: string; readonly key?: string; readonly ca?: string };
  /** Per request (default 30 s). */
  readonly timeoutMs?: number;
}

const MAX_RESPONSE = 1 << 20;

/** `$next` stays literal (the route is `/jobs/$next`); job ids are `[a-zA-Z0-9_-]` anyway. */
const jobPath = (jobId: string) => (jobId === '$next' ? '$next' : encodeURIComponent(jobId));

export function createHttpTransport(options: HttpTransportOptions): JobsTransport {
  const base = new URL(options.endpoint);
  const secure = base.protocol === 'https:';
  const agent = secure
    ? new https.Agent({ keepAlive: true, maxSockets: 2, ...options.tls })
    : new http.Agent({ keepAlive: true, maxSockets: 2 });
  const timeoutMs = options.timeoutMs ?? 30_000;
  const thing = encodeURIComponent(options.thingName);
  const connectListeners: (() => void)[] = [];

  function request(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    const url = new URL(path, base);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(
        url,
        {
          method,
          agent,
          headers: {
            accept: 'application/json',
            ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_RESPONSE) {
              req.destroy(
                new TransportError('BAD_RESPONSE', `${method} ${url.pathname}: response too large`),
              );
              return;
            }
            chunks.push(c);
          });
          res.on('error', (e) =>
            reject(new TransportError('NETWORK', `${method} ${url.pathname}: ${e.message}`)),
          );
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: Record<string, unknown> = {};
            try {
              parsed = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
            } catch {
              if ((res.statusCode ?? 0) < 300) {
                reject(new TransportError('BAD_RESPONSE', `${method} ${url.pathname}: not JSON`));
                return;
              }
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              resolve(parsed);
              return;
            }
            const type = String(res.headers['x-amzn-errortype'] ?? parsed.__type ?? `HTTP${status}`).split(
              ':',
            )[0]!;
            const message = typeof parsed.message === 'string' ? parsed.message : text.slice(0, 200);
            reject(
              new TransportError(
                status >= 500 || status === 429 ? 'NETWORK' : 'REJECTED',
                `${method} ${url.pathname}: ${status} ${type}: ${message}`,
                { serviceCode: serviceCodeOf(type), httpStatus: status },
              ),
            );
          });
        },
      );
      req.setTimeout(timeoutMs, () =>
        req.destroy(
          new TransportError('TIMEOUT', `${method} ${url.pathname}: no answer within ${timeoutMs} ms`),
        ),
      );
      req.on('error', (e) =>
        reject(
          e instanceof TransportError
            ? e
            : new TransportError('NETWORK', `${method} ${url.pathname}: ${e.message}`),
        ),
      );
      req.end(payload);
    });
  }

  const execution = (r: Record<string, unknown>) => r.execution as JobExecution | undefined;

  return {
    kind: 'http',
    async connect() {
      for (const l of connectListeners) l();
    },
    async close() {
      agent.destroy();
    },
    async pending() {
      const r = await request('GET', `/things/${thing}/jobs`);
      return {
        inProgressJobs: (r.inProgressJobs as PendingJobs['inProgressJobs']) ?? [],
        queuedJobs: (r.queuedJobs as PendingJobs['queuedJobs']) ?? [],
      };
    },
    async startNext(statusDetails?: StatusDetails, stepTimeoutInMinutes?: number) {
      const r = await request('PUT', `/things/${thing}/jobs/$next`, {
        ...(statusDetails ? { statusDetails } : {}),
        ...(stepTimeoutInMinutes === undefined ? {} : { stepTimeoutInMinutes }),
      });
      return execution(r);
    },
    async describe(jobId: string) {
      try {
        const r = await request('GET', `/things/${thing}/jobs/${jobPath(jobId)}?includeJobDocument=true`);
        return execution(r);
      } catch (e) {
        if (e instanceof TransportError && e.serviceCode === 'ResourceNotFound' && jobId === '$next')
          return undefined;
        throw e;
      }
    },
    async update(jobId: string, status: DeviceStatus, statusDetails?: StatusDetails, o: UpdateOptions = {}) {
      const r = await request('POST', `/things/${thing}/jobs/${jobPath(jobId)}`, {
        status,
        ...(statusDetails ? { statusDetails } : {}),
        ...(o.expectedVersion === undefined ? {} : { expectedVersion: o.expectedVersion }),
        ...(o.executionNumber === undefined ? {} : { executionNumber: o.executionNumber }),
        ...(o.stepTimeoutInMinutes === undefined ? {} : { stepTimeoutInMinutes: o.stepTimeoutInMinutes }),
        includeJobExecutionState: true,
      });
      return r as UpdateResult;
    },
    async updateShadow(shadowName: string, doc: unknown) {
      await request('POST', `/things/${thing}/shadow?name=${encodeURIComponent(shadowName)}`, doc);
    },
    onNotifyNext() {},
    onConnect(listener) {
      connectListeners.push(listener);
    },
  };
}
