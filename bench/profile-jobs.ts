/**
 * Profiling driver (not part of `npm run bench`): loads a jobs fleet, starts the real server in this
 * process, replays one signed pool through the load generator (a worker thread) and records a CPU
 * profile of the main thread only (the server) with node:inspector, then prints the top self-time
 * functions.
 *
 *   PROFILE_PHASE=pending|next|update PROFILE_THINGS=100000 PROFILE_MS=4000 \
 *     [PROFILE_DATABASE_URL=postgres://...] node --import tsx bench/profile-jobs.ts
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateJobCommand, DescribeThingGroupCommand, IoTClient } from '@aws-sdk/client-iot';
import pg from 'pg';
import { startServer } from '../packages/server/src/main.js';
import { createDatabase } from '../packages/server/src/store/index.js';
import { ACCESS_KEY_ID, CHECKIN_JOBS, JOB_DOCUMENT, SECRET_ACCESS_KEY, shuffled } from './jobs.js';
import { loadJobsFleet } from './jobs-fleet.js';
import { runLoad } from './load.js';
import { getPending, inProgress, presign, startNext } from './presign.js';

const phase = process.env.PROFILE_PHASE ?? 'pending';
const things = Number(process.env.PROFILE_THINGS ?? 100_000);
const ms = Number(process.env.PROFILE_MS ?? 4000);
const pgUrl = process.env.PROFILE_DATABASE_URL;

const workDir = mkdtempSync(join(tmpdir(), 'otter-profile-'));
let databaseUrl: string | undefined;
let dbName: string | undefined;
if (pgUrl) {
  dbName = `otter_profile_${process.pid}`;
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const u = new URL(pgUrl);
  u.pathname = `/${dbName}`;
  databaseUrl = u.toString();
}
const db = await createDatabase(databaseUrl, workDir);
const sample = await loadJobsFleet(db, { things, sampleSize: 10_000, allGroup: false });
await db.close();
const server = await startServer({
  env: {},
  logger: false,
  overrides: {
    port: 0,
    mqttPort: 0,
    mqttWsPort: -1,
    deviceTlsPort: -1,
    dataDir: workDir,
    ...(databaseUrl ? { databaseUrl } : {}),
    accessKeyId: ACCESS_KEY_ID,
    secretAccessKey: SECRET_ACCESS_KEY,
  },
});
const iot = new IoTClient({
  endpoint: server.url,
  region: 'us-east-1',
  credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
});
const { thingGroupArn } = await iot.send(new DescribeThingGroupCommand({ thingGroupName: 'sample' }));
for (const jobId of CHECKIN_JOBS)
  await iot.send(new CreateJobCommand({ jobId, targets: [thingGroupArn!], document: JOB_DOCUMENT }));
const random = shuffled(sample);
const pool = phase === 'update' ? random.slice(4000, 6000) : random.slice(0, 2000);
let round = 0;
const command = (t: string) =>
  phase === 'update'
    ? inProgress(t, CHECKIN_JOBS[1]!, round++)
    : phase === 'next'
      ? startNext(t)
      : getPending(t);
const port = Number(new URL(server.url).port);
const sign = () =>
  presign(
    { endpoint: server.url, accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
    pool.map(command),
  );
const load = async (durationMs: number, requests: Awaited<ReturnType<typeof sign>>) =>
  runLoad({
    host: '127.0.0.1',
    port,
    method: 'GET',
    path: '/',
    headers: {},
    requests,
    concurrency: 32,
    durationMs,
  });
await load(1000, await sign());
const requests = await sign();

/** CPU time of this process's main thread (the server; the load generator is a worker thread), in µs. */
const mainThreadCpuMicros = (): number => {
  const stat = readFileSync(`/proc/${process.pid}/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100; // utime + stime, in clock ticks
};
if (process.env.PROFILE_CPU_ONLY) {
  // Server CPU per request: far less sensitive to other processes on the machine than req/s.
  for (let round = 0; round < 3; round++) {
    const cpu0 = mainThreadCpuMicros();
    const r = await load(ms, await sign());
    const done = r.requests - r.errors;
    console.log(
      `${phase}: ${(done / (r.elapsedMs / 1000)).toFixed(0)} req/s, ${((mainThreadCpuMicros() - cpu0) / done).toFixed(0)} µs server CPU per request, errors ${r.errors}`,
    );
  }
}
if (!process.env.PROFILE_CPU_ONLY) await profileOnce();

async function profileOnce(): Promise<void> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  const result = await load(ms, requests);
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  console.log(
    `${phase}: ${((result.requests - result.errors) / (result.elapsedMs / 1000)).toFixed(0)} req/s, errors ${result.errors}`,
  );
  writeFileSync(join(tmpdir(), `perf-${phase}.cpuprofile`), JSON.stringify(profile));

  // Self time per function, and inclusive time for a few frames of interest.
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (const id of profile.samples ?? []) self.set(id, (self.get(id) ?? 0) + 1);
  const total = profile.samples?.length ?? 1;
  const byFn = new Map<string, number>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (n: (typeof profile.nodes)[number]) =>
    `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
  const incl = new Map<string, number>();
  for (const [id, count] of self) {
    const n = nodes.get(id)!;
    byFn.set(key(n), (byFn.get(key(n)) ?? 0) + count);
    const seen = new Set<string>();
    for (let p: number | undefined = id; p !== undefined; p = parent.get(p)) {
      const k = key(nodes.get(p)!);
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + count);
    }
  }
  const top = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, c]) => `${((100 * c) / total).toFixed(1).padStart(5)}%  ${k}`)
      .join('\n');
  console.log(`--- self (${total} samples)\n${top(byFn, 40)}`);
  console.log(`--- inclusive\n${top(incl, 60)}`);
}

iot.destroy();
await server.close();
rmSync(workDir, { recursive: true, force: true });
if (pgUrl && dbName) {
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE ${dbName} WITH (FORCE)`);
  await admin.end();
}
