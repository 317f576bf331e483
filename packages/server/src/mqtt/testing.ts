import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateThingCommand, IoTClient } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { FREE_PORTS, startServer } from '../main.js';
import type { RegistryStore } from '../store/index.js';
import { freshPostgresDatabase, TEST_DATABASE_URL } from '../testing/test-server.js';
import { deviceToken } from './device-token.js';
import { parseBrokerUrl } from './external-transport.js';
import type { MqttService } from './mqtt-service.js';

/**
 * The external broker of the `external` suites. Mosquitto 2.0.11 (this machine's) does not deliver
 * `$aws/...` messages to shared subscriptions, so the suites use plain ones unless the URL says `share=`.
 */
export const TEST_MQTT_URL = process.env.OTTER_TEST_MQTT_URL
  ? withDefaultShare(process.env.OTTER_TEST_MQTT_URL)
  : undefined;

function withDefaultShare(url: string): string {
  const u = new URL(url);
  if (!u.searchParams.has('share')) u.searchParams.set('share', 'off');
  return u.toString();
}

/** The brokers the MQTT suites run on: embedded always, an external one when configured. */
export const BROKERS: { name: 'embedded' | 'external'; skip: string | false }[] = [
  { name: 'embedded', skip: false },
  { name: 'external', skip: TEST_MQTT_URL ? false : 'skipped: OTTER_TEST_MQTT_URL is not set' },
];

export interface MqttTestServer {
  url: string;
  store: RegistryStore;
  mqtt: MqttService;
  iot: IoTClient;
  data: IoTDataPlaneClient;
  /** The broker URL devices use. */
  brokerUrl: string;
  /** A connected device client for `thingName` (client id = thing name, device token as password). */
  device(thingName: string, opts?: IClientOptions): Promise<MqttClient>;
  /** Creates the things over the control plane. */
  createThings(...names: string[]): Promise<void>;
  close(): Promise<void>;
}

const SECRET = 'otter-test-secret-key';

/**
 * The HTTP planes and the MQTT service on one store, as `startServer` will wire them: HTTP on a
 * free port, the embedded broker on free ports (or `OTTER_TEST_MQTT_URL` for `external`).
 */
export async function startMqttTestServer(
  broker: 'embedded' | 'external' = 'embedded',
  backend = 'sqlite',
): Promise<MqttTestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'otter-mqtt-test-'));
  const database = backend === 'postgres' ? await freshPostgresDatabase(TEST_DATABASE_URL!) : undefined;
  const server = await startServer({
    env: {},
    logger: false,
    overrides: {
      ...FREE_PORTS,
      dataDir,
      accessKeyId: 'AKIAOTTERTEST0000001',
      secretAccessKey: SECRET,
      ...(broker === 'external' ? { mqttUrl: TEST_MQTT_URL } : {}),
      ...(database ? { databaseUrl: database.url } : {}),
    },
  });
  const { url, store, mqtt, config } = server;
  const brokerUrl = config.mqttUrl
    ? parseBrokerUrl(config.mqttUrl).url
    : `mqtt://127.0.0.1:${mqtt.ports.mqtt}`;
  const clientConfig = {
    endpoint: url,
    region: 'eu-west-1',
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    maxAttempts: 1,
  };
  const iot = new IoTClient(clientConfig);
  const clients: MqttClient[] = [];
  return {
    url,
    store,
    mqtt,
    iot,
    data: new IoTDataPlaneClient(clientConfig),
    brokerUrl,
    device: async (thingName, opts = {}) => {
      const client = await connectAsync(brokerUrl, {
        clientId: thingName,
        username: thingName,
        password: deviceToken(SECRET, thingName),
        reconnectPeriod: 0,
        connectTimeout: 5000,
        ...opts,
      });
      clients.push(client);
      return client;
    },
    createThings: async (...names) => {
      for (const thingName of names) await iot.send(new CreateThingCommand({ thingName }));
    },
    close: async () => {
      await Promise.all(clients.map((c) => c.endAsync(true)));
      await server.close();
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The next message on `topic` (parsed JSON), failing after `ms`. Subscribe first. */
export function nextMessage(client: MqttClient, topic: string, ms = 5000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      reject(new Error(`no message on ${topic} within ${ms} ms`));
    }, ms);
    const onMessage = (t: string, payload: Buffer) => {
      if (t !== topic) return;
      clearTimeout(timer);
      client.off('message', onMessage);
      resolve(JSON.parse(payload.toString('utf8')) as Record<string, unknown>);
    };
    client.on('message', onMessage);
  });
}
