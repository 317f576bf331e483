import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  DescribeThingCommand,
  IoTClient,
  SearchIndexCommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import { systemClock } from '@otter/core';
import { connectAsync, type MqttClient } from 'mqtt';
import { resolveServerTls } from '../device-plane/server-certificate.js';
import { type RunningServer, startServer } from '../main.js';
import { getCaCertificatePem } from '../services/device-ca.js';
import { VerifiedCertificates } from '../services/device-identity.js';
import { createDatabase, RegistryStore } from '../store/index.js';
import { BACKENDS, freshPostgresDatabase, TEST_DATABASE_URL } from '../testing/test-server.js';
import { startMqtt } from './mqtt-service.js';
import { nextMessage } from './testing.js';

const KEY = { accessKeyId: 'AKIAOTTERTEST0000001', secretAccessKey: 'otter-test-secret-key' };

for (const backend of BACKENDS) {
  describe(`MQTT over TLS with device certificates; connectivity after a restart (${backend.name})`, {
    skip: backend.skip,
  }, () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'otter-mqtt-tls-'));
    let database: { url: string; drop(): Promise<void> } | undefined;
    let server: RunningServer;
    let iot: IoTClient;
    let ca: string;
    let device: { cert: string; key: string; arn: string };
    const clients: MqttClient[] = [];
    const start = () =>
      startServer({
        env: {},
        logger: false,
        overrides: {
          port: 0,
          mqttPort: 0,
          mqttWsPort: -1,
          mqttTlsPort: 0,
          deviceTlsPort: -1,
          dataDir,
          schedulerIntervalMs: 0,
          ...KEY,
          ...(database ? { databaseUrl: database.url } : {}),
        },
      });
    const client = (port: number, cert = device) =>
      connectAsync(`mqtts://127.0.0.1:${port}`, {
        clientId: 'sensor-1',
        ca,
        cert: cert.cert,
        key: cert.key,
        servername: 'localhost',
        reconnectPeriod: 0,
        connectTimeout: 5000,
      }).then((c) => {
        clients.push(c);
        return c;
      });
    const connectivity = async () =>
      (await iot.send(new SearchIndexCommand({ queryString: 'thingName:sensor-1', indexName: 'AWS_Things' })))
        .things?.[0]?.connectivity;

    before(async () => {
      if (backend.name === 'postgres') database = await freshPostgresDatabase(TEST_DATABASE_URL!);
      server = await start();
      iot = new IoTClient({ endpoint: server.url, region: 'eu-west-1', credentials: KEY, maxAttempts: 1 });
      ca = await getCaCertificatePem(server.store);
      await iot.send(new CreateThingCommand({ thingName: 'sensor-1' }));
      const made = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
      await iot.send(
        new AttachThingPrincipalCommand({ thingName: 'sensor-1', principal: made.certificateArn! }),
      );
      device = { cert: made.certificatePem!, key: made.keyPair!.PrivateKey!, arn: made.certificateArn! };
    });
    after(async () => {
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
      await server?.close();
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    test('the TLS listener verifies a certificate once (VerifiedCertificates) and reads its status every connect', async () => {
      // A second MQTT service on the server's store, with a cache the test can look into.
      const verified = new VerifiedCertificates();
      const tls = await resolveServerTls(server.config, server.store, systemClock);
      const mqtt = await startMqtt({
        config: { ...server.config, mqttPort: -1, mqttWsPort: -1, mqttTlsPort: 0 },
        store: server.store,
        handlers: server.services.handlers,
        clock: systemClock,
        deviceTokenSecret: KEY.secretAccessKey,
        tls,
        verifiedCertificates: verified,
      });
      try {
        const port = mqtt.ports.tls!;
        const c = await client(port);
        await c.subscribeAsync('$aws/things/sensor-1/shadow/get/rejected');
        const r = nextMessage(c, '$aws/things/sensor-1/shadow/get/rejected');
        await c.publishAsync('$aws/things/sensor-1/shadow/get', '{}');
        assert.equal((await r).code, 404);
        await c.endAsync();
        // The connect went through the cache: parsed, and the device CA's signature check remembered.
        const der = new X509Certificate(device.cert).raw;
        const entry = verified.parse(der);
        assert.deepEqual([...entry.issuedBy.values()], [true]);
        // A second connect is served from the cache, and the certificate status is still checked.
        await (await client(port)).endAsync();
        assert.equal(verified.parse(der), entry);
        await iot.send(
          new UpdateCertificateCommand({
            certificateId: device.arn.split('/').pop()!,
            newStatus: 'INACTIVE',
          }),
        );
        await assert.rejects(client(port), /Bad username or password/);
        await iot.send(
          new UpdateCertificateCommand({ certificateId: device.arn.split('/').pop()!, newStatus: 'ACTIVE' }),
        );
        await (await client(port)).endAsync();
      } finally {
        await mqtt.close();
      }
    });

    test('things left connected by a server that died are recorded disconnected at the next start', async () => {
      const c = await client(server.mqtt.ports.tls!);
      for (let i = 0; (await connectivity())?.connected !== true; i++) {
        assert.ok(i < 100, 'connect not recorded');
        await new Promise((r) => setTimeout(r, 20));
      }
      // The process "crashes": a clean close records the disconnect, so the test puts back what a
      // killed process leaves in the database (connected) before the next start.
      c.stream.destroy();
      await server.close();
      const store = new RegistryStore(await createDatabase(server.config.databaseUrl, dataDir));
      await store.things.setConnectivity('sensor-1', { connected: true, timestamp: 1 });
      await store.close();
      const reopened = await start();
      server = reopened;
      iot = new IoTClient({ endpoint: server.url, region: 'eu-west-1', credentials: KEY, maxAttempts: 1 });
      const after = await connectivity();
      assert.equal(after?.connected, false);
      assert.equal(after?.disconnectReason, 'SERVER_ERROR');
      const thing = await iot.send(new DescribeThingCommand({ thingName: 'sensor-1' }));
      assert.equal(thing.thingName, 'sensor-1');
      // A device connecting to the new broker is connected again.
      const again = await client(server.mqtt.ports.tls!);
      for (let i = 0; (await connectivity())?.connected !== true; i++) {
        assert.ok(i < 100, 'reconnect not recorded');
        await new Promise((r) => setTimeout(r, 20));
      }
      await again.endAsync();
    });
  });
}
