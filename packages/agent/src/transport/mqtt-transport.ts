/**
 * The jobs data plane over MQTT (docs/mqtt.md, "Jobs topics"): client id = thing name; TLS with the
 * device certificate (`mqtts://`), or the device token as password on the plain port. Requests are
 * published with a fresh clientToken and answered on `…/accepted` or `…/rejected` carrying it back;
 * `notify-next` pushes reach onNotifyNext. mqtt.js reconnects by itself; every (re)connect is
 * reported to onConnect so the loop reconciles with `$next`.
 */
import { randomUUID } from 'node:crypto';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import {
  type DeviceStatus,
  type JobExecution,
  type JobsTransport,
  type NotifyNextListener,
  type PendingJobs,
  type StatusDetails,
  TransportError,
  type UpdateOptions,
  type UpdateResult,
} from './transport.js';

export interface MqttTransportOptions {
  /** `mqtts://host:8883`, `mqtt://host:1883`, `wss://…`. */
  readonly url: string;
  readonly thingName: string;
  readonly tls?: { readonly cert?: string; readonly key?: string; readonly ca?: string };
  /** The device token (embedded broker, plain or WebSocket listener); sent as the password. */
  readonly password?: string;
  /** Per request (default 15 s). */
  readonly timeoutMs?: number;
  /** Pause between reconnect attempts (default 5 s). */
  readonly reconnectMs?: number;
  /** Connection errors and losses after the first connect (the client keeps reconnecting). */
  readonly onConnectionEvent?: (event: 'error' | 'offline' | 'reconnect', message?: string) => void;
}

interface Waiter {
  readonly topic: string;
  resolve(doc: Record<string, unknown>): void;
  reject(e: Error): void;
  readonly timer: NodeJS.Timeout;
}

export function createMqttTransport(options: MqttTransportOptions): JobsTransport {
  const prefix = `$aws/things/${options.thingName}`;
  const jobs = `${prefix}/jobs`;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const waiters = new Map<string, Waiter>();
  const notifyListeners: NotifyNextListener[] = [];
  const connectListeners: (() => void)[] = [];
  let client: MqttClient | undefined;

  function onMessage(topic: string, payload: Buffer) {
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
    } catch {
      return; // not JSON: not for us
    }
    if (topic === `${jobs}/notify-next`) {
      const execution = doc.execution as JobExecution | undefined;
      for (const l of notifyListeners) l(execution);
      return;
    }
    const accepted = topic.endsWith('/accepted');
    if (!accepted && !topic.endsWith('/rejected')) return; // our own requests, echoed
    const token = doc.clientToken;
    if (typeof token !== 'string') return;
    const waiter = waiters.get(token);
    if (!waiter || !topic.startsWith(`${waiter.topic}/`)) return;
    waiters.delete(token);
    clearTimeout(waiter.timer);
    if (accepted) waiter.resolve(doc);
    else {
      const code = typeof doc.code === 'string' ? doc.code : String(doc.code ?? 'Rejected');
      waiter.reject(
        new TransportError('REJECTED', `${waiter.topic}: ${code}: ${String(doc.message ?? '')}`, {
          serviceCode: code,
        }),
      );
    }
  }

  async function request(topic: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const c = client;
    if (!c?.connected) throw new TransportError('NOT_CONNECTED', `${topic}: not connected to ${options.url}`);
    const clientToken = randomUUID().replace(/-/g, '');
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(clientToken);
        reject(new TransportError('TIMEOUT', `${topic}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.set(clientToken, { topic, resolve, reject, timer });
    });
    try {
      await c.publishAsync(topic, JSON.stringify({ ...body, clientToken }), { qos: 1 });
    } catch (e) {
      const w = waiters.get(clientToken);
      if (w) {
        clearTimeout(w.timer);
        waiters.delete(clientToken);
      }
      throw new TransportError('NETWORK', `${topic}: ${(e as Error).message}`);
    }
    return answer;
  }

  return {
    kind: 'mqtt',
    connect() {
      const opts: IClientOptions = {
        clientId: options.thingName,
        clean: true,
        reconnectPeriod: options.reconnectMs ?? 5000,
        connectTimeout: 10_000,
        keepalive: 60,
        resubscribe: false, // subscribed on every connect below
        // TLS material only for TLS URLs: mqtt.js would otherwise start TLS on a plain port.
        ...(/^(mqtts|wss):/.test(options.url) ? (options.tls ?? {}) : {}),
        ...(options.password === undefined
          ? {}
          : { username: options.thingName, password: options.password }),
      };
      const c = connect(options.url, opts);
      client = c;
      c.on('message', onMessage);
      c.on('error', (e) => options.onConnectionEvent?.('error', e.message));
      c.on('offline', () => options.onConnectionEvent?.('offline'));
      c.on('reconnect', () => options.onConnectionEvent?.('reconnect'));
      return new Promise<void>((resolve, reject) => {
        let first = true;
        const fail = (e: Error) => {
          c.end(true);
          reject(new TransportError('NETWORK', `MQTT ${options.url}: ${e.message}`));
        };
        c.once('error', fail);
        // Replies go only to subscribers on an external broker: subscribe before anything is asked.
        c.on('connect', () => {
          c.subscribeAsync([`${jobs}/#`, `${prefix}/shadow/name/+/update/+`], { qos: 1 }).then(
            (granted) => {
              const refused = granted.filter((g) => g.qos === 128).map((g) => g.topic);
              if (first) {
                first = false;
                c.off('error', fail);
                if (refused.length > 0) {
                  fail(new Error(`subscriptions refused: ${refused.join(', ')}`));
                  return;
                }
                resolve();
              }
              for (const l of connectListeners) l();
            },
            (e: Error) => (first ? fail(e) : c.emit('error', e)),
          );
        });
      });
    },
    async close() {
      for (const [token, w] of waiters) {
        clearTimeout(w.timer);
        w.reject(new TransportError('NOT_CONNECTED', `${w.topic}: the transport was closed`));
        waiters.delete(token);
      }
      await client?.endAsync();
    },
    async pending() {
      const r = await request(`${jobs}/get`, {});
      return {
        inProgressJobs: (r.inProgressJobs as PendingJobs['inProgressJobs']) ?? [],
        queuedJobs: (r.queuedJobs as PendingJobs['queuedJobs']) ?? [],
      };
    },
    async startNext(statusDetails?: StatusDetails, stepTimeoutInMinutes?: number) {
      const r = await request(`${jobs}/start-next`, {
        ...(statusDetails ? { statusDetails } : {}),
        ...(stepTimeoutInMinutes === undefined ? {} : { stepTimeoutInMinutes }),
      });
      return r.execution as JobExecution | undefined;
    },
    async describe(jobId: string) {
      const r = await request(`${jobs}/${jobId}/get`, { includeJobDocument: true });
      return r.execution as JobExecution | undefined;
    },
    async update(jobId: string, status: DeviceStatus, statusDetails?: StatusDetails, o: UpdateOptions = {}) {
      const r = await request(`${jobs}/${jobId}/update`, {
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
      await request(`${prefix}/shadow/name/${shadowName}/update`, doc as Record<string, unknown>);
    },
    onNotifyNext(listener) {
      notifyListeners.push(listener);
    },
    onConnect(listener) {
      connectListeners.push(listener);
    },
  };
}
