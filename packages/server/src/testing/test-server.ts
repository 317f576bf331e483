import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { IoTClient } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { SignatureV4 } from '@smithy/signature-v4';
import pg from 'pg';
import { FREE_PORTS, type RunningServer, startServer } from '../main.js';

export const TEST_DATABASE_URL = process.env.OTTER_TEST_DATABASE_URL;

/** The storage backends the real-client suites run on: SQLite always, PostgreSQL when configured. */
export const BACKENDS: { name: string; skip: string | false }[] = [
  { name: 'sqlite', skip: false },
  { name: 'postgres', skip: TEST_DATABASE_URL ? false : 'skipped: OTTER_TEST_DATABASE_URL is not set' },
];

export interface TestServer {
  server: RunningServer;
  iot: IoTClient;
  data: IoTDataPlaneClient;
  region: string;
  /** A SigV4-signed request (service `otter`) to the native API, e.g. native('PUT', '/v1/artifacts/a', bytes). */
  native(
    method: string,
    path: string,
    body?: Buffer | object,
    headers?: Record<string, string>,
  ): Promise<Response>;
  close(): Promise<void>;
}

/** Signs and sends a native API request the way the `otter` CLI does; objects are sent as JSON. */
export async function nativeRequest(
  server: RunningServer,
  region: string,
  method: string,
  path: string,
  body?: Buffer | object,
  extraHeaders: Record<string, string> = {},
): Promise<Response> {
  const url = new URL(server.url + path);
  const bytes =
    body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = {
    host: url.host,
    'x-amz-content-sha256': createHash('sha256').update(bytes).digest('hex'),
    ...(body !== undefined && !Buffer.isBuffer(body) ? { 'content-type': 'application/json' } : {}),
    ...extraHeaders,
  };
  const signer = new SignatureV4({
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    region,
    service: 'otter',
    sha256: Sha256,
  });
  const query = Object.fromEntries(url.searchParams);
  const signed = await signer.sign({
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: url.pathname,
    query,
    headers,
    body: bytes,
  });
  const { host: _host, ...send } = signed.headers;
  return fetch(url, { method, headers: send, ...(body === undefined ? {} : { body: bytes }) });
}

/** A fresh PostgreSQL database on the test server, dropped by the returned cleanup. */
export async function freshPostgresDatabase(
  baseUrl: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `otter_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Starts a real server on a free port with a temporary data folder, and SDK clients for it. */
export async function startTestServer(backend = 'sqlite', region = 'eu-west-1'): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'otter-test-'));
  const database = backend === 'postgres' ? await freshPostgresDatabase(TEST_DATABASE_URL!) : undefined;
  const server = await startServer({
    env: {},
    logger: false,
    overrides: {
      ...FREE_PORTS,
      dataDir,
      accessKeyId: 'AKIAOTTERTEST0000001',
      secretAccessKey: 'otter-test-secret-key',
      ...(database ? { databaseUrl: database.url } : {}),
    },
  });
  const clientConfig = {
    endpoint: server.url,
    region,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    maxAttempts: 1,
  };
  return {
    server,
    region,
    iot: new IoTClient(clientConfig),
    data: new IoTDataPlaneClient(clientConfig),
    native: (method, path, body, headers) => nativeRequest(server, region, method, path, body, headers),
    close: async () => {
      await server.close();
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
