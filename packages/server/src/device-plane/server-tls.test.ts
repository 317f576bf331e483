import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { connect } from 'node:tls';
import { ConfigError, loadServerConfig, type ServerConfig } from '../config.js';
import { type RunningServer, startServer } from '../main.js';
import { getCaCertificatePem } from '../services/device-ca.js';
import { issueTestCertificate, makeCa } from './device-plane-test-support.js';
import { serverCertificateNames } from './server-certificate.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function start(overrides: Partial<ServerConfig>): Promise<RunningServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'otter-tls-'));
  dirs.push(dataDir);
  return startServer({
    env: {},
    logger: false,
    overrides: { port: 0, mqttPort: -1, mqttWsPort: -1, deviceTlsPort: 0, dataDir, ...overrides },
  });
}

/** The certificate a TLS listener presents, verified against `ca` for `servername`. */
function presented(port: number, ca: string, servername?: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, ...(servername ? { servername } : {}) }, () => {
      const raw = socket.getPeerCertificate().raw;
      socket.end();
      resolve(new X509Certificate(raw));
    });
    socket.on('error', reject);
  });
}

const portOf = (url: string | undefined) => Number(new URL(url!).port);

test('settings: deviceTlsPort defaults to 8785, off disables, cert and key go together', () => {
  assert.equal(loadServerConfig({}).deviceTlsPort, 8785);
  assert.equal(loadServerConfig({ OTTER_DEVICE_TLS_PORT: 'off' }).deviceTlsPort, -1);
  assert.equal(loadServerConfig({ OTTER_DEVICE_TLS_PORT: '0' }).deviceTlsPort, 0);
  assert.throws(() => loadServerConfig({ OTTER_DEVICE_TLS_PORT: '70000' }), ConfigError);
  assert.throws(
    () => loadServerConfig({ OTTER_TLS_CERT_FILE: '/tmp/cert.pem' }),
    /set both tlsCertFile and tlsKeyFile/,
  );
  assert.deepEqual(serverCertificateNames('0.0.0.0'), ['localhost', '127.0.0.1', '::1']);
  assert.deepEqual(serverCertificateNames('ota.example.com'), [
    'localhost',
    '127.0.0.1',
    '::1',
    'ota.example.com',
  ]);
});

test('out of the box: HTTPS and MQTT over TLS present one certificate issued by the device CA', async () => {
  const server = await start({ mqttTlsPort: 0 });
  try {
    const ca = await getCaCertificatePem(server.store);
    const https = await presented(portOf(server.deviceUrl), ca); // verified: chain and 127.0.0.1
    const mqtt = await presented(server.mqtt.ports.tls!, ca, 'localhost');
    assert.equal(https.fingerprint256, mqtt.fingerprint256);
    assert.equal(https.issuer, 'CN=Otter Device CA\nO=Otter');
    assert.match(https.subjectAltName ?? '', /DNS:localhost.*IP Address:127\.0\.0\.1/);
    assert.ok(https.checkIP('127.0.0.1'));
    // Not a device certificate: it was never registered.
    assert.deepEqual((await server.store.certificates.list({ limit: 10, ascending: true })).items, []);
  } finally {
    await server.close();
  }
});

test('tlsCertFile and tlsKeyFile replace the issued certificate; a bad pair fails at start', async () => {
  const ca = await makeCa('CN=Corporate CA');
  const mine = await issueTestCertificate(ca, ['localhost']);
  const dir = mkdtempSync(join(tmpdir(), 'otter-tls-files-'));
  dirs.push(dir);
  const certFile = join(dir, 'server.crt');
  const keyFile = join(dir, 'server.key');
  writeFileSync(certFile, mine.cert);
  writeFileSync(keyFile, mine.key);
  const server = await start({ tlsCertFile: certFile, tlsKeyFile: keyFile, mqttTlsPort: 0 });
  try {
    const served = await presented(portOf(server.deviceUrl), ca.pem, 'localhost');
    assert.equal(served.fingerprint256, new X509Certificate(mine.cert).fingerprint256);
    const mqtt = await presented(server.mqtt.ports.tls!, ca.pem, 'localhost');
    assert.equal(mqtt.fingerprint256, served.fingerprint256);
  } finally {
    await server.close();
  }
  const otherKey = join(dir, 'other.key');
  writeFileSync(otherKey, (await issueTestCertificate(ca)).key);
  await assert.rejects(start({ tlsCertFile: certFile, tlsKeyFile: otherKey }), ConfigError);
  await assert.rejects(
    start({ tlsCertFile: join(dir, 'missing.crt'), tlsKeyFile: keyFile }),
    /cannot read tlsCertFile/,
  );
});

test('deviceTlsPort off: no listener', async () => {
  const server = await start({ deviceTlsPort: -1 });
  try {
    assert.equal(server.deviceUrl, undefined);
  } finally {
    await server.close();
  }
});
