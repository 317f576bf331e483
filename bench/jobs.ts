/**
 * Jobs benchmarks (issue 4), each against its reference in the same run:
 * - device check-in (GetPendingJobExecutions, StartNextPendingJobExecution) for random things among
 *   N, SigV4 on the main port, vs a bare node:http server answering the same JSON; and on the device
 *   TLS port with client certificates vs a bare node:https server with the same TLS settings;
 * - durable UpdateJobExecution (IN_PROGRESS + statusDetails, one execution per device) vs a bare
 *   node:http server parsing the JSON body → 204;
 * - rollout fan-out: CreateJob for a group of all N things vs a raw better-sqlite3 prepared INSERT
 *   of the same N execution rows in one transaction;
 * - the check-in on PostgreSQL vs `pgbench -S -M prepared` (jobs-postgres.ts).
 */
import { rmSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import {
  AttachThingPrincipalCommand,
  CreateJobCommand,
  CreateKeysAndCertificateCommand,
  DescribeThingGroupCommand,
  IoTClient,
} from '@aws-sdk/client-iot';
import { systemClock } from '@otter/core';
import Database from 'better-sqlite3';
import { resolveServerTls } from '../packages/server/src/device-plane/server-certificate.js';
import { type RunningServer, startServer } from '../packages/server/src/main.js';
import { createDatabase } from '../packages/server/src/store/index.js';
import { summarizeLoad, type ThroughputSummary } from './describe-thing.js';
import { loadJobsFleet, thingName } from './jobs-fleet.js';
import { runLoad } from './load.js';
import type { LoadConnection, LoadRequest, LoadTarget } from './load-worker.js';
import { getPending, inProgress, presign, startNext } from './presign.js';
import {
  constantJsonServer,
  constantJsonTlsServer,
  parseJson204Server,
  type ReferenceServer,
} from './reference-servers.js';

export const ACCESS_KEY_ID = 'AKIAOTTERJOBSBENCH01';
export const SECRET_ACCESS_KEY = 'otter-jobs-bench-secret-0000000000';
export const JOB_DOCUMENT = JSON.stringify({
  operation: 'install',
  firmware: { version: '2.0.0', url: 'https://example.com/fw.bin' },
});
/** Jobs every sampled thing has an execution of (so a check-in finds a few pending). */
export const CHECKIN_JOBS = ['checkin-1', 'checkin-2', 'checkin-3'];

export interface LoadPair {
  /** Bytes of the Otter response the reference answers with (0 for the 204 reference). */
  responseBytes: number;
  otter: ThroughputSummary;
  reference: ThroughputSummary;
  otterErrorSample?: string;
}

export interface FanoutResult {
  targets: number;
  /** CreateJob request → response (every execution exists, committed, when it answers). */
  otterMs: number;
  /** One transaction of prepared INSERTs of the same rows. */
  referenceMs: number;
  executionsCreated: number;
}

export interface JobsSqliteResult {
  things: number;
  sampledThings: number;
  poolSize: number;
  loadSeconds: number;
  concurrency: number;
  durationMs: number;
  getPending: LoadPair;
  startNext: LoadPair;
  tlsGetPending: LoadPair & { devices: number };
  updateExecution: LoadPair;
  fanout: FanoutResult;
}

export interface JobsBenchOptions {
  workDir: string;
  things: number;
  concurrency: number;
  durationMs: number;
  warmupMs: number;
  log: (line: string) => void;
}

const host = (server: RunningServer) => {
  const h = new URL(server.url).hostname;
  return h === '0.0.0.0' || h === '[::]' ? '127.0.0.1' : h;
};

/** Sends one pre-built request and returns status and body (a sanity check before each run). */
export function fetchOnce(
  hostname: string,
  port: number,
  t: LoadTarget,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const r = http.request(
      { host: hostname, port, method: t.method, path: t.path, headers: t.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    r.on('error', reject);
    r.end(t.body);
  });
}

/** Warm-up, then Otter and the reference one after the other, `durationMs` each. */
export async function measurePair(
  opts: Pick<JobsBenchOptions, 'concurrency' | 'durationMs' | 'warmupMs'>,
  otter: (durationMs: number) => Promise<LoadRequest>,
  reference: (durationMs: number) => LoadRequest,
): Promise<{ otter: ThroughputSummary; reference: ThroughputSummary; otterErrorSample?: string }> {
  await runLoad(await otter(opts.warmupMs));
  await runLoad(reference(opts.warmupMs));
  const o = await runLoad(await otter(opts.durationMs));
  const r = await runLoad(reference(opts.durationMs));
  return {
    otter: summarizeLoad(o),
    reference: summarizeLoad(r),
    ...(o.firstErrorBody === undefined ? {} : { otterErrorSample: o.firstErrorBody }),
  };
}

export const httpLoad = (
  port: number,
  requests: LoadTarget[],
  concurrency: number,
  durationMs: number,
): LoadRequest => ({
  host: '127.0.0.1',
  port,
  method: 'GET',
  path: '/',
  headers: {},
  requests,
  concurrency,
  durationMs,
});

/** Shuffled copy (deterministic), so consecutive requests hit unrelated parts of the key space. */
export function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  let seed = 42;
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Creates the check-in jobs for the `sample` group; returns its ARN client-side helpers. */
export async function createCheckinJobs(iot: IoTClient): Promise<void> {
  const { thingGroupArn } = await iot.send(new DescribeThingGroupCommand({ thingGroupName: 'sample' }));
  for (const jobId of CHECKIN_JOBS)
    await iot.send(new CreateJobCommand({ jobId, targets: [thingGroupArn!], document: JOB_DOCUMENT }));
}

/** Check-in through the SigV4 main port: `commands(thing)` signed for every thing of the pool. */
export async function checkinPair(
  server: RunningServer,
  pool: string[],
  opts: JobsBenchOptions,
  label: string,
  command: (thing: string) => Parameters<typeof presign>[1][number],
): Promise<LoadPair> {
  const h = host(server);
  const port = Number(new URL(server.url).port);
  const sign = () =>
    presign(
      { endpoint: server.url, accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
      pool.map(command),
    );
  const first = (await sign())[0]!;
  const sample = await fetchOnce(h, port, first);
  if (sample.status !== 200) throw new Error(`${label}: Otter answered ${sample.status}: ${sample.body}`);
  const ref = await constantJsonServer(sample.body);
  try {
    opts.log(`jobs: ${label}: pool of ${pool.length} things, ${opts.durationMs} ms per side ...`);
    const pair = await measurePair(
      opts,
      async (d) => ({ ...httpLoad(port, await sign(), opts.concurrency, d), host: h }),
      (d) =>
        httpLoad(ref.port, [{ method: first.method, path: first.path, headers: {} }], opts.concurrency, d),
    );
    return { responseBytes: Buffer.byteLength(sample.body), ...pair };
  } finally {
    await ref.close();
  }
}

async function tlsPair(
  server: RunningServer,
  iot: IoTClient,
  devices: string[],
  opts: JobsBenchOptions,
): Promise<LoadPair & { devices: number }> {
  if (!server.deviceUrl) throw new Error('device TLS listener is off');
  const port = Number(new URL(server.deviceUrl).port);
  const connections: LoadConnection[] = [];
  for (const thing of devices) {
    const made = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    await iot.send(new AttachThingPrincipalCommand({ thingName: thing, principal: made.certificateArn! }));
    connections.push({
      cert: made.certificatePem!,
      key: made.keyPair!.PrivateKey!,
      requests: [{ method: 'GET', path: `/things/${thing}/jobs`, headers: { host: `127.0.0.1:${port}` } }],
    });
  }
  // Same TLS settings as the device listener: a server certificate from the same device CA.
  const tls = await resolveServerTls(server.config, server.store, systemClock);
  const probe = await runLoad({
    host: '127.0.0.1',
    port,
    method: 'GET',
    path: '/',
    headers: {},
    connections: connections.slice(0, 1),
    concurrency: 1,
    durationMs: 1,
  });
  if (probe.errors > 0) throw new Error(`jobs: TLS check-in failed: ${probe.firstErrorBody}`);
  const body = await new Promise<string>((resolve, reject) => {
    void import('node:https').then((https) => {
      const c = connections[0]!;
      https
        .get(
          {
            host: '127.0.0.1',
            port,
            path: c.requests[0]!.path,
            cert: c.cert,
            key: c.key,
            rejectUnauthorized: false,
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (s: string) => {
              text += s;
            });
            res.on('end', () => resolve(text));
          },
        )
        .on('error', reject);
    });
  });
  const ref: ReferenceServer = await constantJsonTlsServer(body, tls);
  try {
    opts.log(`jobs: check-in over TLS: ${devices.length} devices with client certificates ...`);
    const load = (p: number, d: number): LoadRequest => ({
      host: '127.0.0.1',
      port: p,
      method: 'GET',
      path: '/',
      headers: {},
      connections,
      concurrency: opts.concurrency,
      durationMs: d,
    });
    const pair = await measurePair(
      opts,
      async (d) => load(port, d),
      (d) => load(ref.port, d),
    );
    return { responseBytes: Buffer.byteLength(body), devices: devices.length, ...pair };
  } finally {
    await ref.close();
  }
}

async function updatePair(server: RunningServer, pool: string[], opts: JobsBenchOptions): Promise<LoadPair> {
  const h = host(server);
  const port = Number(new URL(server.url).port);
  const jobId = CHECKIN_JOBS[1]!;
  let round = 0;
  const sign = () =>
    presign(
      { endpoint: server.url, accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
      pool.map((t) => inProgress(t, jobId, round++)),
    );
  const first = (await sign())[0]!;
  const check = await fetchOnce(h, port, first);
  if (check.status !== 200)
    throw new Error(`UpdateJobExecution: Otter answered ${check.status}: ${check.body}`);
  const ref = await parseJson204Server();
  try {
    opts.log(`jobs: UpdateJobExecution: ${pool.length} devices, ${opts.durationMs} ms per side ...`);
    const pair = await measurePair(
      opts,
      async (d) => ({ ...httpLoad(port, await sign(), opts.concurrency, d), host: h }),
      (d) =>
        httpLoad(
          ref.port,
          [
            {
              method: first.method,
              path: first.path,
              headers: { 'content-type': 'application/json' },
              ...(first.body === undefined ? {} : { body: first.body }),
            },
          ],
          opts.concurrency,
          d,
        ),
    );
    return { responseBytes: 0, ...pair };
  } finally {
    await ref.close();
  }
}

const EXECUTION_INSERT = `INSERT INTO job_executions (job_id, thing_name, execution_number, status, status_details,
  version_number, queued_at, last_updated_at, retry_attempt, force_canceled, latest)
  VALUES (?, ?, 1, 'QUEUED', '{}', 1, ?, ?, 0, 0, 1)`;

/** The fan-out reference on the same file: N prepared INSERTs in one transaction, then removed again. */
function fanoutReference(file: string, things: number): number {
  const db = new Database(file);
  try {
    db.pragma('synchronous = NORMAL'); // what Otter's connection uses
    const names = Array.from({ length: things }, (_, i) => thingName(i));
    const insert = db.prepare(EXECUTION_INSERT);
    const now = Date.now();
    const t0 = performance.now();
    db.transaction(() => {
      for (const name of names) insert.run('ref-fanout', name, now, now);
    })();
    const ms = performance.now() - t0;
    db.prepare("DELETE FROM job_executions WHERE job_id = 'ref-fanout'").run();
    db.pragma('wal_checkpoint(TRUNCATE)');
    return ms;
  } finally {
    db.close();
  }
}

export async function runJobsSqlite(opts: JobsBenchOptions): Promise<JobsSqliteResult> {
  const dataDir = join(opts.workDir, 'jobs-sqlite');
  rmSync(dataDir, { recursive: true, force: true });
  const n = opts.things;
  opts.log(`jobs: loading ${n.toLocaleString('en-US')} things (SQLite) ...`);
  const t0 = performance.now();
  const db = await createDatabase(undefined, dataDir);
  let sample: string[];
  try {
    sample = await loadJobsFleet(db, { things: n, sampleSize: 10_000, allGroup: true });
  } finally {
    await db.close();
  }
  const loadSeconds = (performance.now() - t0) / 1000;
  opts.log(
    `jobs: loaded in ${loadSeconds.toFixed(1)} s; fan-out reference (${n.toLocaleString('en-US')} INSERTs) ...`,
  );
  const file = join(dataDir, 'otter.db');
  const referenceMs = fanoutReference(file, n);

  const server = await startServer({
    env: {},
    logger: false,
    overrides: {
      port: 0,
      mqttPort: 0,
      mqttWsPort: -1,
      deviceTlsPort: 0,
      dataDir,
      accessKeyId: ACCESS_KEY_ID,
      secretAccessKey: SECRET_ACCESS_KEY,
    },
  });
  const iot = new IoTClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
  });
  try {
    await createCheckinJobs(iot);
    const random = shuffled(sample);
    const pool = random.slice(0, 2000);
    const getPendingResult = await checkinPair(server, pool, opts, 'GetPendingJobExecutions', getPending);
    const startNextResult = await checkinPair(server, pool, opts, 'StartNextPendingJobExecution', startNext);
    const tls = await tlsPair(server, iot, random.slice(2000, 2000 + Math.min(32, opts.concurrency)), opts);
    const update = await updatePair(server, random.slice(4000, 6000), opts);

    opts.log(`jobs: fan-out: CreateJob for the group of all ${n.toLocaleString('en-US')} things ...`);
    const { thingGroupArn } = await iot.send(new DescribeThingGroupCommand({ thingGroupName: 'all' }));
    const c0 = performance.now();
    await iot.send(
      new CreateJobCommand({ jobId: 'fanout', targets: [thingGroupArn!], document: JOB_DOCUMENT }),
    );
    const otterMs = performance.now() - c0;
    const ro = new Database(file, { readonly: true });
    const { count } = ro
      .prepare("SELECT count(*) AS count FROM job_executions WHERE job_id = 'fanout'")
      .get() as {
      count: number;
    };
    ro.close();
    if (count !== n) throw new Error(`fan-out: ${count} executions for ${n} targets`);
    return {
      things: n,
      sampledThings: sample.length,
      poolSize: pool.length,
      loadSeconds,
      concurrency: opts.concurrency,
      durationMs: opts.durationMs,
      getPending: getPendingResult,
      startNext: startNextResult,
      tlsGetPending: tls,
      updateExecution: update,
      fanout: { targets: n, otterMs, referenceMs, executionsCreated: count },
    };
  } finally {
    iot.destroy();
    await server.close();
  }
}
