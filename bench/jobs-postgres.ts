/**
 * Device check-in on PostgreSQL: the real server on a fresh database holding N things, SigV4
 * GetPendingJobExecutions / StartNextPendingJobExecution for random sampled things, vs
 * `pgbench -S -M prepared` (select-only, prepared statements) on pgbench tables of about as many rows
 * in the same database, same client count. The database is created for the run and dropped after.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { IoTClient } from '@aws-sdk/client-iot';
import pg from 'pg';
import { startServer } from '../packages/server/src/main.js';
import { createDatabase } from '../packages/server/src/store/index.js';
import type { ThroughputSummary } from './describe-thing.js';
import {
  ACCESS_KEY_ID,
  checkinPair,
  createCheckinJobs,
  type JobsBenchOptions,
  SECRET_ACCESS_KEY,
  shuffled,
} from './jobs.js';
import { loadJobsFleet } from './jobs-fleet.js';
import { getPending, startNext } from './presign.js';

const run = promisify(execFile);

export interface PgbenchResult {
  scale: number;
  clients: number;
  threads: number;
  tps: number;
  latencyAverageMs: number;
}

export interface JobsPostgresResult {
  things: number;
  loadSeconds: number;
  getPending: { otter: ThroughputSummary; responseBytes: number; otterErrorSample?: string };
  startNext: { otter: ThroughputSummary; responseBytes: number; otterErrorSample?: string };
  pgbench: PgbenchResult;
}

async function pgbench(url: URL, scale: number, clients: number, seconds: number): Promise<PgbenchResult> {
  const conn = [
    '-h',
    url.hostname,
    '-p',
    url.port || '5432',
    '-U',
    decodeURIComponent(url.username) || 'postgres',
  ];
  const db = url.pathname.slice(1);
  await run('pgbench', ['-i', '-q', '-s', String(scale), ...conn, db], { maxBuffer: 1 << 24 });
  const threads = 2;
  const args = ['-S', '-M', 'prepared', '-c', String(clients), '-j', String(threads), ...conn];
  await run('pgbench', [...args, '-T', '1', db]); // warm-up
  const { stdout } = await run('pgbench', [...args, '-T', String(seconds), db], { maxBuffer: 1 << 24 });
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
  const lat = /latency average = ([\d.]+) ms/.exec(stdout);
  if (!tps) throw new Error(`pgbench: no tps in output:\n${stdout}`);
  return { scale, clients, threads, tps: Number(tps[1]), latencyAverageMs: Number(lat?.[1] ?? Number.NaN) };
}

export async function runJobsPostgres(
  opts: JobsBenchOptions & { databaseUrl: string },
): Promise<JobsPostgresResult> {
  const base = new URL(opts.databaseUrl);
  const name = `otter_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: opts.databaseUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(base.href);
  url.pathname = `/${name}`;
  const dataDir = join(opts.workDir, 'jobs-postgres');
  rmSync(dataDir, { recursive: true, force: true });
  try {
    opts.log(`jobs/pg: loading ${opts.things.toLocaleString('en-US')} things into ${name} ...`);
    const t0 = performance.now();
    const db = await createDatabase(url.href, dataDir);
    let sample: string[];
    try {
      sample = await loadJobsFleet(db, { things: opts.things, sampleSize: 10_000, allGroup: false });
    } finally {
      await db.close();
    }
    const loadSeconds = (performance.now() - t0) / 1000;
    const server = await startServer({
      env: {},
      logger: false,
      overrides: {
        port: 0,
        mqttPort: 0,
        mqttWsPort: -1,
        deviceTlsPort: -1,
        dataDir,
        databaseUrl: url.href,
        accessKeyId: ACCESS_KEY_ID,
        secretAccessKey: SECRET_ACCESS_KEY,
      },
    });
    let getPendingPair: Awaited<ReturnType<typeof checkinPair>>;
    let startNextPair: Awaited<ReturnType<typeof checkinPair>>;
    try {
      const iot = new IoTClient({
        endpoint: server.url,
        region: 'us-east-1',
        credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
      });
      await createCheckinJobs(iot);
      iot.destroy();
      const pool = shuffled(sample).slice(0, 2000);
      getPendingPair = await checkinPair(
        server,
        pool,
        opts,
        'GetPendingJobExecutions (PostgreSQL)',
        getPending,
      );
      startNextPair = await checkinPair(
        server,
        pool,
        opts,
        'StartNextPendingJobExecution (PostgreSQL)',
        startNext,
      );
    } finally {
      await server.close();
    }
    const scale = Math.max(1, Math.round(opts.things / 100_000));
    opts.log(`jobs/pg: pgbench -S -M prepared, scale ${scale}, ${opts.concurrency} clients ...`);
    const bench = await pgbench(
      url,
      scale,
      opts.concurrency,
      Math.max(1, Math.round(opts.durationMs / 1000)),
    );
    const only = (p: typeof getPendingPair) => ({
      otter: p.otter,
      responseBytes: p.responseBytes,
      ...(p.otterErrorSample === undefined ? {} : { otterErrorSample: p.otterErrorSample }),
    });
    return {
      things: opts.things,
      loadSeconds,
      getPending: only(getPendingPair),
      startNext: only(startNextPair),
      pgbench: bench,
    };
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    await admin.end();
  }
}
