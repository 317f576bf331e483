import { mkdirSync } from 'node:fs';
import { type Clock, systemClock } from '@otter/core';
import { buildApp } from './app.js';
import { ArtifactService } from './artifacts/artifact-service.js';
import type { BlobStore } from './artifacts/blob-store.js';
import { createBlobStore } from './artifacts/create-blob-store.js';
import { derivePresignSecret } from './artifacts/presign.js';
import { loadServerConfig, type ServerConfig } from './config.js';
import { resolveAccessKey } from './credentials.js';
import { type DevicePlane, startDevicePlane } from './device-plane/device-plane.js';
import { resolveServerTls } from './device-plane/server-certificate.js';
import { createServices, type ServerServices } from './handlers/index.js';
import { type MqttService, startMqtt } from './mqtt/mqtt-service.js';
import { JobScheduler } from './services/job-scheduler.js';
import { createPublishCheck } from './services/publish-check.js';
import { createDatabase, RegistryStore } from './store/index.js';

/** Every listener on a free port: for tests and benchmarks that run servers side by side. */
export const FREE_PORTS = { port: 0, mqttPort: 0, mqttWsPort: 0, deviceTlsPort: 0 } as const;

export interface StartOptions {
  env: Record<string, string | undefined>;
  configFile?: string;
  /** Overrides applied after file and environment (tests use port 0 and a temp data folder). */
  overrides?: Partial<ServerConfig>;
  clock?: Clock;
  logger?: boolean;
}

export interface RunningServer {
  url: string;
  config: ServerConfig;
  accessKeyId: string;
  secretAccessKey: string;
  /** Artifacts: names, blobs and presigned URLs (`presignArtifactUrl` for the jobs engine). */
  artifacts: ArtifactService;
  /** The registry, catalog and jobs storage this server runs on. */
  store: RegistryStore;
  /** The MQTT side: embedded broker or client of an external one (ports in `mqtt.ports`). */
  mqtt: MqttService;
  /** The HTTPS device data plane with client certificates (`https://…`); undefined when `deviceTlsPort` is off. */
  deviceUrl: string | undefined;
  /** The jobs engine and dynamic groups behind the handlers. */
  services: ServerServices;
  /** The jobs scheduler (running unless `schedulerIntervalMs` is 0; tests may call `tick`). */
  scheduler: JobScheduler;
  log: { info(obj: object, msg: string): void };
  close(): Promise<void>;
}

/** The server's composition root: config → storage → services → HTTP, then listen. */
export async function startServer(opts: StartOptions): Promise<RunningServer> {
  const config = { ...loadServerConfig(opts.env, opts.configFile), ...opts.overrides } as ServerConfig;
  const clock = opts.clock ?? systemClock;
  mkdirSync(config.dataDir, { recursive: true });
  const { key, generated, file } = resolveAccessKey(
    { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
    config.dataDir,
  );
  const db = await createDatabase(config.databaseUrl, config.dataDir);
  const store = new RegistryStore(db);
  let blobs: BlobStore;
  try {
    blobs = createBlobStore(config.artifactsUrl, config.dataDir);
  } catch (e) {
    await db.close();
    throw e;
  }
  let url = '';
  const artifacts = new ArtifactService({
    artifacts: store.artifacts,
    blobs,
    clock,
    maxBytes: config.maxArtifactBytes,
    presignSecret:
      config.presignSecret === undefined
        ? derivePresignSecret(key.secretAccessKey)
        : Buffer.from(config.presignSecret, 'utf8'),
    publicUrl: () => (config.publicUrl ?? url).replace(/\/+$/, ''),
  });
  let mqtt: MqttService | undefined;
  let devicePlane: DevicePlane | undefined;
  const services = createServices({
    store,
    clock,
    artifacts,
    publishCheck: createPublishCheck({ store, bucket: artifacts.bucket }),
    onShadowChange: async (change) => mqtt?.shadowChanged(change),
    // MQTT `notify` / `notify-next`; changes before the broker is up have nobody to tell.
    jobNotifier: { executionsChanged: async (thingNames) => mqtt?.executionsChanged(thingNames) },
  });
  const { handlers } = services;
  const app = buildApp({
    config,
    accessKeys: [key],
    handlers,
    artifacts,
    store,
    clock,
    logger: opts.logger === false ? false : { level: config.logLevel },
  });
  try {
    await app.listen({ port: config.port, host: config.host });
    // One server certificate for every TLS listener (device HTTPS, MQTT over TLS).
    const tls =
      config.deviceTlsPort !== -1 || (config.mqttTlsPort !== undefined && !config.mqttUrl)
        ? await resolveServerTls(config, store, clock)
        : undefined;
    if (tls && config.deviceTlsPort !== -1)
      devicePlane = await startDevicePlane({
        config,
        tls,
        store,
        handlers,
        accessKeys: [key],
        clock,
        logger: opts.logger === false ? false : { level: config.logLevel },
      });
    mqtt = await startMqtt({
      tls,
      config,
      store,
      handlers,
      clock,
      deviceTokenSecret: key.secretAccessKey,
      jobs: services.jobs,
      onConnectivityChanged: (thingName) => services.dynamicGroups.refreshThing(thingName),
      log: app.log,
    });
  } catch (e) {
    await devicePlane?.close();
    await app.close();
    await db.close();
    await blobs.close();
    throw e;
  }
  const scheduler = new JobScheduler({
    store,
    engine: services.jobs,
    clock,
    intervalMs: config.schedulerIntervalMs,
    log: app.log,
  });
  scheduler.start();
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  app.log.info(
    {
      url,
      deviceUrl: devicePlane?.url,
      database: db.kind,
      dataDir: config.dataDir,
      mqtt: mqtt.mode,
      mqttPorts: mqtt.ports,
    },
    'otter server ready',
  );
  if (generated && opts.logger !== false) {
    process.stdout.write(
      `\nGenerated access keys for this server (kept in ${file}):\n` +
        `  export AWS_ACCESS_KEY_ID=${key.accessKeyId}\n` +
        `  export AWS_SECRET_ACCESS_KEY=${key.secretAccessKey}\n` +
        `  export AWS_DEFAULT_REGION=us-east-1\n` +
        `  aws --endpoint-url ${url} iot list-things\n\n`,
    );
  }
  let closing: Promise<void> | undefined;
  return {
    url,
    config,
    accessKeyId: key.accessKeyId,
    secretAccessKey: key.secretAccessKey,
    artifacts,
    store,
    mqtt,
    deviceUrl: devicePlane?.url,
    services,
    scheduler,
    log: app.log,
    close: () => {
      const broker = mqtt;
      closing ??= scheduler
        .stop()
        .then(() => broker.close())
        .then(() => devicePlane?.close())
        .then(() => app.close())
        .then(() => Promise.all([db.close(), blobs.close()]).then(() => {}));
      return closing;
    },
  };
}
