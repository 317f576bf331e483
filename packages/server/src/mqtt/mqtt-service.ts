import { randomUUID } from 'node:crypto';
import { type Clock, parseFleetQuery } from '@otter/core';
import type { AwsContext, AwsHandlers } from '../aws/aws-plane.js';
import type { ShadowChange } from '../handlers/shadows.js';
import { identifyDevice, VerifiedCertificates } from '../services/device-identity.js';
import type { JobEngine } from '../services/job-engine.js';
import type { RegistryStore } from '../store/index.js';
import { verifyDeviceToken } from './device-token.js';
import { type DeviceAuthenticator, startEmbeddedTransport } from './embedded-transport.js';
import { startExternalTransport } from './external-transport.js';
import { JobsNotifier } from './jobs-notifier.js';
import { registerJobsTopics } from './jobs-topics.js';
import { publishShadowChange, registerShadowTopics } from './shadow-topics.js';
import { type RouteHandler, TopicRouter } from './topic-router.js';
import { type MqttLog, type MqttPorts, type MqttTransport, type Requester, silentLog } from './transport.js';

/** The settings the MQTT layer reads (a ServerConfig has them all). */
export interface MqttConfig {
  host: string;
  /** -1 = off, 0 = a free port. */
  mqttPort: number;
  mqttWsPort: number;
  mqttTlsPort?: number | undefined;
  /** Set: no embedded broker, Otter is a client of this one. */
  mqttUrl?: string | undefined;
  /** Dev mode: devices on the plain and WebSocket listeners need no device token. */
  allowAnonymous: boolean;
  accountId: string;
}

export interface MqttDeps {
  config: MqttConfig;
  store: RegistryStore;
  handlers: AwsHandlers;
  clock: Clock;
  /** The jobs engine: serves the jobs topics and pushes `notify` / `notify-next`; absent: neither. */
  jobs?: JobEngine | undefined;
  /** After a device's connectivity is recorded (the server refreshes its dynamic groups). */
  onConnectivityChanged?: ((thingName: string) => Promise<void>) | undefined;
  /** Key of device tokens (docs/mqtt.md); the server passes its secret access key. */
  deviceTokenSecret: string;
  /** Server certificate and key (PEM) of the TLS listener; required when `mqttTlsPort` is set. */
  tls?: { key: string | Buffer; cert: string | Buffer } | undefined;
  /**
   * Parsed and CA-verified client certificates of the TLS listener, by their bytes (as the HTTPS
   * device listener keeps them); default: a cache of this service's own.
   */
  verifiedCertificates?: VerifiedCertificates | undefined;
  /** Region in the ARNs of MQTT requests (they carry no SigV4 scope). Default us-east-1. */
  region?: string;
  log?: MqttLog;
}

export interface PublishOptions {
  qos?: 0 | 1;
}

/** Otter's MQTT side, the same over the embedded broker and an external one. */
export interface MqttService {
  readonly mode: 'embedded' | 'external';
  /** Ports the embedded listeners are bound to (empty for an external broker). */
  readonly ports: MqttPorts;
  /** Publishes as Otter (any topic). Objects are sent as JSON. Default QoS 1. */
  publish(topic: string, payload: Buffer | string | object, opts?: PublishOptions): Promise<void>;
  /**
   * Handles request messages on `pattern`, e.g. `$aws/things/{thingName}/jobs/{jobId}/get`. The
   * handler's `reply(topic, payload)` publishes on `topic` and, on the embedded broker, also hands
   * the message to the requester when it has not subscribed to that topic.
   */
  route(pattern: string, handler: RouteHandler): void;
  /** Publishes `/accepted`, `/delta` and `/documents` for a shadow change (HandlerDeps.onShadowChange). */
  shadowChanged(change: ShadowChange): Promise<void>;
  /**
   * Queues `notify` and `notify-next` pushes for these things (the engine's JobNotifier). Returns
   * once queued; the pushes go out in batches (mqtt/jobs-notifier.ts).
   */
  executionsChanged(thingNames: readonly string[]): Promise<void>;
  /** Resolves when every queued jobs notification has been published. */
  jobsIdle(): Promise<void>;
  close(): Promise<void>;
}

const toBuffer = (payload: Buffer | string | object): Buffer =>
  Buffer.isBuffer(payload)
    ? payload
    : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload), 'utf8');

/**
 * Devices on the embedded broker: a client certificate on TLS, else a device token (or dev mode).
 * A certificate is parsed and its CA signature checked once per listener (`VerifiedCertificates`);
 * its registration, status, validity and attachment are read on every connect.
 */
function deviceAuthenticator(deps: MqttDeps): DeviceAuthenticator {
  const verified = deps.verifiedCertificates ?? new VerifiedCertificates();
  return {
    authenticate: async ({ thingName, password, peerCertificate }) => {
      if (peerCertificate) {
        // throws DeviceAuthError
        await identifyDevice(deps.store, peerCertificate, thingName, { now: deps.clock.now(), verified });
        return true;
      }
      if (!deps.config.allowAnonymous && !verifyDeviceToken(deps.deviceTokenSecret, thingName, password))
        return false;
      return (await deps.store.things.get(thingName)) !== undefined;
    },
  };
}

/**
 * Things the store says are connected when the embedded broker starts were connected to a broker
 * that is gone (a process that crashed or was killed before recording the disconnects): they are
 * recorded as disconnected (`SERVER_ERROR`). The embedded broker serves one process; several
 * processes on one database use an external broker, whose connections Otter does not record.
 */
export async function resetStaleConnectivity(store: RegistryStore, now: number): Promise<number> {
  const query = parseFleetQuery('connectivity.connected:true');
  let reset = 0;
  let after: string | undefined;
  do {
    const page = await store.searchThings(query, { after, limit: 500 });
    for (const thing of page.items) {
      await store.things
        .setConnectivity(thing.thingName, {
          connected: false,
          timestamp: now,
          disconnectReason: 'SERVER_ERROR',
        })
        .then(
          () => reset++,
          () => {}, // deleted meanwhile
        );
    }
    after = page.nextToken;
  } while (after !== undefined);
  return reset;
}

/**
 * Starts the MQTT layer: the embedded broker, or a client of `config.mqttUrl`; serves the shadow
 * topics through `handlers.iotdata`. Other topics plug in with `route()`.
 */
export async function startMqtt(deps: MqttDeps): Promise<MqttService> {
  const log = deps.log ?? silentLog;
  const { config } = deps;
  const region = deps.region ?? 'us-east-1';
  const router = new TopicRouter();
  let transport: MqttTransport | undefined;
  const notifier = deps.jobs
    ? new JobsNotifier({ engine: deps.jobs, clock: deps.clock, publish: (t, p) => publish(t, p), log })
    : undefined;
  /** Connectivity writes, chained per thing so a connect and its disconnect are stored in order. */
  const connectivityWrites = new Map<string, Promise<void>>();
  const recordConnectivity = (thingName: string, connected: boolean, disconnectReason?: string) => {
    const timestamp = deps.clock.now();
    const write = (connectivityWrites.get(thingName) ?? Promise.resolve())
      .then(() =>
        deps.store.things
          .setConnectivity(thingName, {
            connected,
            timestamp,
            ...(disconnectReason === undefined ? {} : { disconnectReason }),
          })
          // Dynamic groups that query `connectivity.*` follow connects and disconnects.
          .then(() => deps.onConnectivityChanged?.(thingName)),
      )
      .catch((error: Error) => log.warn({ thingName, err: error.message }, 'mqtt connectivity not recorded'))
      .finally(() => {
        if (connectivityWrites.get(thingName) === write) connectivityWrites.delete(thingName);
      });
    connectivityWrites.set(thingName, write);
  };

  const publish = async (topic: string, payload: Buffer | string | object, opts: PublishOptions = {}) => {
    if (!transport) throw new Error('the MQTT service is not started');
    await transport.publish(topic, toBuffer(payload), opts.qos ?? 1);
  };

  const onIncoming = (topic: string, payload: Buffer, requester: Requester | undefined) => {
    const match = router.match(topic);
    if (!match) return;
    // authorizePublish already keeps devices to their own topics; this is a second guard.
    if (requester && requester.thingName !== match.thingName) return;
    const reply = async (replyTopic: string, body: Buffer | string | object) => {
      const bytes = toBuffer(body);
      await transport?.publish(replyTopic, bytes, 1);
      await requester?.deliver(replyTopic, bytes);
    };
    match
      .handler(match.thingName, match.params, payload, reply)
      .catch((error: Error) => log.error({ topic, err: error.message }, 'mqtt request handler failed'));
  };

  const context = (): AwsContext => ({
    service: 'iotdata',
    region,
    accountId: config.accountId,
    requestId: randomUUID(),
    arn: (resource) => `arn:aws:iot:${region}:${config.accountId}:${resource}`,
  });

  const service: MqttService = {
    get mode() {
      return transport?.mode ?? (config.mqttUrl ? 'external' : 'embedded');
    },
    get ports() {
      return transport?.ports ?? {};
    },
    publish,
    route: (pattern, handler) => router.add(pattern, handler),
    shadowChanged: async (change) => {
      try {
        await publishShadowChange(service, change);
      } catch (error) {
        // A broker hiccup must not fail the HTTP request that changed the shadow.
        log.error(
          { thingName: change.thingName, err: (error as Error).message },
          'shadow notification failed',
        );
      }
    },
    executionsChanged: async (thingNames) => {
      await notifier?.executionsChanged(thingNames);
    },
    jobsIdle: async () => {
      await notifier?.idle();
    },
    close: async () => {
      await notifier?.close();
      await transport?.close();
      // Disconnects of the closing broker are recorded before the store closes.
      while (connectivityWrites.size > 0) await Promise.all(connectivityWrites.values());
    },
  };
  registerShadowTopics(service, deps.handlers.iotdata ?? {}, deps.clock, context);
  if (deps.jobs) registerJobsTopics(service, deps.jobs, deps.clock);

  if (config.mqttUrl) {
    transport = await startExternalTransport(config.mqttUrl, onIncoming, log);
  } else {
    if (config.mqttTlsPort !== undefined && !deps.tls)
      throw new Error('mqttTlsPort is set but no TLS server certificate and key were given');
    // Before the first connect: no device of this broker can be among them yet.
    const reset = await resetStaleConnectivity(deps.store, deps.clock.now());
    if (reset > 0) log.info({ things: reset }, 'mqtt: devices of a previous run recorded as disconnected');
    transport = await startEmbeddedTransport(
      {
        host: config.host,
        mqttPort: config.mqttPort,
        wsPort: config.mqttWsPort,
        tls:
          config.mqttTlsPort !== undefined && deps.tls
            ? { port: config.mqttTlsPort, ...deps.tls }
            : undefined,
        authenticator: deviceAuthenticator(deps),
        onConnectivity: recordConnectivity,
      },
      onIncoming,
      log,
    );
  }
  try {
    await Promise.all(router.filters().map((f) => transport!.listen(f)));
  } catch (error) {
    await transport.close();
    throw error;
  }
  router.filters((f) => {
    transport
      ?.listen(f)
      .catch((error: Error) => log.error({ filter: f, err: error.message }, 'mqtt subscribe failed'));
  });
  log.info({ mode: transport.mode, ports: transport.ports, url: config.mqttUrl }, 'mqtt ready');
  return service;
}
