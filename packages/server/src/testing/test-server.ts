import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IoTClient } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import pg from 'pg';
import { type RunningServer, startServer } from '../main.js';

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
  close(): Promise<void>;
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
      port: 0,
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
    close: async () => {
      await server.close();
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
