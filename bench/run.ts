/**
 * Otter benchmarks: every metric is reported as a ratio against a reference measured in the
 * same run on the same machine. Prints a summary table and writes bench/.work/results.json.
 * Informational only: exits 0 even when a goal is missed.
 *
 *   npm run bench                      # 1,000,000 things
 *   BENCH_THINGS=100000 npm run bench  # scaled down
 *   BENCH_ONLY=download npm run bench  # groups: fleet, describe, download, jobs, jobs-pg, notify, agent
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAgentBench } from './agent.js';
import { runArtifactDownload } from './artifact-download.js';
import { runDescribeThing } from './describe-thing.js';
import { runFleetSearch } from './fleet-search.js';
import { type LoadPair, runJobsSqlite } from './jobs.js';
import { runJobsPostgres } from './jobs-postgres.js';
import { runNotifyFanout } from './notify-fanout.js';

// The AWS SDK's notice about Node.js 20 (read when a client is made) would interleave with the report.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

interface Row {
  metric: string;
  otter: string;
  reference: string;
  ratio: number;
  goal: string;
  status: 'PASS' | 'FAIL' | 'INFO';
}

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return n;
}

const log = (line: string): void => console.log(line);
const ms = (v: number): string => `${v.toFixed(3)} ms`;
const rps = (v: number): string => `${Math.round(v).toLocaleString('en-US')} req/s`;

function table(rows: Row[]): string {
  const header = ['Metric', 'Otter', 'Reference', 'Ratio', 'Goal', 'Status'];
  const cells = rows.map((r) => [r.metric, r.otter, r.reference, r.ratio.toFixed(2), r.goal, r.status]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => `| ${c.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

async function main(): Promise<void> {
  const workDir = fileURLToPath(new URL('./.work/', import.meta.url));
  mkdirSync(workDir, { recursive: true });
  const things = envInt('BENCH_THINGS', 1_000_000);
  const iterations = envInt('BENCH_ITERATIONS', 200);
  const durationMs = envInt('BENCH_DURATION_MS', 8000);
  const concurrency = envInt('BENCH_CONCURRENCY', 32);
  log(`Otter bench: node ${process.version}, ${os.cpus().length} CPUs, ${os.platform()}/${os.arch()}`);

  const only = new Set(
    (process.env.BENCH_ONLY ?? 'fleet,describe,download,jobs,jobs-pg,notify,agent')
      .split(',')
      .map((g) => g.trim()),
  );
  const rows: Row[] = [];
  const results: Record<string, unknown> = {
    startedAt: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
  };
  if (only.has('fleet')) await fleetRows(workDir, things, iterations, rows, results);
  if (only.has('describe')) await describeRows(workDir, concurrency, durationMs, rows, results);
  if (only.has('download')) {
    const sizeBytes = envInt('BENCH_ARTIFACT_MIB', 1024) * 1024 * 1024;
    await downloadRows(workDir, sizeBytes, rows, results);
  }
  const jobsOpts = { workDir, things, concurrency, durationMs, warmupMs: 1000, log };
  if (only.has('jobs')) await jobsRows(jobsOpts, rows, results);
  if (only.has('jobs-pg')) {
    const databaseUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
    await jobsPgRows({ ...jobsOpts, databaseUrl }, rows, results);
  }
  if (only.has('notify')) await notifyRows(workDir, envInt('BENCH_MQTT_CLIENTS', 10_000), rows, results);
  if (only.has('agent')) await agentRows(workDir, rows, results);
  results.summary = rows;
  const out = join(workDir, 'results.json');
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  log('');
  log(table(rows));
  log('');
  log(`Wrote ${out} (informational; exit code is always 0)`);
}

async function fleetRows(
  workDir: string,
  things: number,
  iterations: number,
  rows: Row[],
  results: Record<string, unknown>,
): Promise<void> {
  const fleet = await runFleetSearch({ workDir, things, iterations, warmup: 20, log });
  const median = fleet.otter.median / fleet.reference.median;
  const p99 = fleet.otter.p99 / fleet.reference.p99;
  const n = things.toLocaleString('en-US');
  rows.push(
    {
      metric: `Fleet search median (${n} things)`,
      otter: ms(fleet.otter.median),
      reference: ms(fleet.reference.median),
      ratio: median,
      goal: '<= 2',
      status: median <= 2 ? 'PASS' : 'FAIL',
    },
    {
      metric: `Fleet search p99 (${n} things)`,
      otter: ms(fleet.otter.p99),
      reference: ms(fleet.reference.p99),
      ratio: p99,
      goal: '<= 2',
      status: p99 <= 2 ? 'PASS' : 'FAIL',
    },
  );
  results.fleetSearch = {
    query: 'attributes.site:site-0042',
    pageLimit: 100,
    iterations,
    ...fleet,
    ratioMedian: median,
    ratioP99: p99,
  };
  log(
    `Fleet search: ${fleet.matches} matches, page of 100; load ${fleet.loadSeconds.toFixed(1)} s for ${n} things / ${fleet.indexRows.toLocaleString('en-US')} index rows`,
  );
}

async function describeRows(
  workDir: string,
  concurrency: number,
  durationMs: number,
  rows: Row[],
  results: Record<string, unknown>,
): Promise<void> {
  const describe = await runDescribeThing({ workDir, concurrency, durationMs, warmupMs: 1000, log });
  const rpsRatio = describe.otter.requestsPerSecond / describe.reference.requestsPerSecond;
  const p99Ratio = describe.otter.p99Ms / describe.reference.p99Ms;
  rows.push(
    {
      metric: `DescribeThing throughput (c=${concurrency})`,
      otter: rps(describe.otter.requestsPerSecond),
      reference: rps(describe.reference.requestsPerSecond),
      ratio: rpsRatio,
      goal: '>= 0.6 (DESIGN, info)',
      status: rpsRatio >= 0.6 ? 'PASS' : 'FAIL',
    },
    {
      metric: `DescribeThing p99 latency (c=${concurrency})`,
      otter: ms(describe.otter.p99Ms),
      reference: ms(describe.reference.p99Ms),
      ratio: p99Ratio,
      goal: '-',
      status: 'INFO',
    },
  );
  results.describeThing = { ...describe, ratioRequestsPerSecond: rpsRatio, ratioP99: p99Ratio };
  log(
    `DescribeThing: ${describe.responseBytes}-byte body, ${describe.durationMs} ms per side; Otter ${describe.otter.requests} requests (${describe.otter.errors} errors), reference ${describe.reference.requests} (${describe.reference.errors} errors)`,
  );
}

type JobsOpts = Parameters<typeof runJobsSqlite>[0];

/** Throughput (ratio ≥ goal) and p99 (ratio ≤ p99Goal, or INFO) rows for one Otter/reference pair. */
function pairRows(
  rows: Row[],
  name: string,
  p: LoadPair,
  goal: number | undefined,
  p99Goal: number | undefined,
): void {
  const rpsRatio = p.otter.requestsPerSecond / p.reference.requestsPerSecond;
  const p99Ratio = p.otter.p99Ms / p.reference.p99Ms;
  rows.push(
    {
      metric: `${name} throughput`,
      otter: rps(p.otter.requestsPerSecond),
      reference: rps(p.reference.requestsPerSecond),
      ratio: rpsRatio,
      goal: goal === undefined ? '-' : `>= ${goal}`,
      status: goal === undefined ? 'INFO' : rpsRatio >= goal ? 'PASS' : 'FAIL',
    },
    {
      metric: `${name} p99`,
      otter: ms(p.otter.p99Ms),
      reference: ms(p.reference.p99Ms),
      ratio: p99Ratio,
      goal: p99Goal === undefined ? '-' : `<= ${p99Goal}`,
      status: p99Goal === undefined ? 'INFO' : p99Ratio <= p99Goal ? 'PASS' : 'FAIL',
    },
  );
}

async function jobsRows(opts: JobsOpts, rows: Row[], results: Record<string, unknown>): Promise<void> {
  const r = await runJobsSqlite(opts);
  const n = r.things.toLocaleString('en-US');
  pairRows(rows, `Check-in GetPending, SQLite, ${n} things`, r.getPending, 0.6, 2);
  pairRows(rows, `Check-in StartNext, SQLite, ${n} things`, r.startNext, 0.6, 2);
  pairRows(
    rows,
    `Check-in GetPending, device TLS, ${r.tlsGetPending.devices} certs`,
    r.tlsGetPending,
    undefined,
    undefined,
  );
  pairRows(rows, 'UpdateJobExecution IN_PROGRESS (durable)', r.updateExecution, 0.5, undefined);
  const fanRatio = r.fanout.referenceMs / r.fanout.otterMs;
  rows.push({
    metric: `Rollout fan-out, ${n} executions (rows/s)`,
    otter: `${Math.round((r.fanout.targets / r.fanout.otterMs) * 1000).toLocaleString('en-US')} rows/s`,
    reference: `${Math.round((r.fanout.targets / r.fanout.referenceMs) * 1000).toLocaleString('en-US')} rows/s`,
    ratio: fanRatio,
    goal: '>= 0.5',
    status: fanRatio >= 0.5 ? 'PASS' : 'FAIL',
  });
  results.jobsSqlite = r;
  for (const [k, p] of Object.entries({
    getPending: r.getPending,
    startNext: r.startNext,
    tls: r.tlsGetPending,
    update: r.updateExecution,
  }))
    if (p.otterErrorSample) log(`jobs: ${k}: Otter error sample: ${p.otterErrorSample}`);
  log(
    `Jobs (SQLite): ${n} things loaded in ${r.loadSeconds.toFixed(1)} s; fan-out CreateJob ${(r.fanout.otterMs / 1000).toFixed(2)} s vs ${(r.fanout.referenceMs / 1000).toFixed(2)} s of raw INSERTs`,
  );
}

async function jobsPgRows(
  opts: JobsOpts & { databaseUrl: string },
  rows: Row[],
  results: Record<string, unknown>,
): Promise<void> {
  let r: Awaited<ReturnType<typeof runJobsPostgres>>;
  try {
    r = await runJobsPostgres(opts);
  } catch (error) {
    log(`jobs-pg: skipped (${(error as Error).message}); set BENCH_DATABASE_URL to a PostgreSQL server`);
    results.jobsPostgres = { skipped: String(error) };
    return;
  }
  const n = r.things.toLocaleString('en-US');
  const ref = `${rps(r.pgbench.tps).replace('req/s', 'tps')} (pgbench -S)`;
  for (const [name, p, goal] of [
    ['GetPending', r.getPending, 0.4],
    ['StartNext', r.startNext, undefined],
  ] as const) {
    const ratio = p.otter.requestsPerSecond / r.pgbench.tps;
    rows.push({
      metric: `Check-in ${name}, PostgreSQL, ${n} things`,
      otter: rps(p.otter.requestsPerSecond),
      reference: ref,
      ratio,
      goal: goal === undefined ? '-' : `>= ${goal}`,
      status: goal === undefined ? 'INFO' : ratio >= goal ? 'PASS' : 'FAIL',
    });
  }
  results.jobsPostgres = r;
}

async function notifyRows(
  workDir: string,
  clients: number,
  rows: Row[],
  results: Record<string, unknown>,
): Promise<void> {
  const r = await runNotifyFanout({ workDir, clients, log });
  const n = clients.toLocaleString('en-US');
  rows.push(
    {
      metric: `MQTT notify-next fan-out, ${n} subscribers`,
      otter: `${r.otter.ms} ms`,
      reference: `${r.reference.ms} ms (aedes)`,
      ratio: r.ratio,
      goal: '>= 0.8',
      status: r.ratio >= 0.8 ? 'PASS' : 'FAIL',
    },
    {
      metric: 'MQTT memory per connection (RSS)',
      otter: `${r.otter.rssKiB.toFixed(1)} KiB`,
      reference: `${r.reference.rssKiB.toFixed(1)} KiB (aedes)`,
      ratio: r.otter.rssKiB / r.reference.rssKiB,
      goal: '<= 20 KiB',
      status: r.otter.rssKiB <= 20 ? 'PASS' : 'FAIL',
    },
    {
      metric: 'MQTT memory per connection (heap+external)',
      otter: `${r.otter.heapExternalKiB.toFixed(1)} KiB`,
      reference: `${r.reference.heapExternalKiB.toFixed(1)} KiB (aedes)`,
      ratio: r.otter.heapExternalKiB / r.reference.heapExternalKiB,
      goal: '-',
      status: 'INFO',
    },
  );
  results.notifyFanout = r;
}

const mibps = (v: number): string => `${v.toFixed(0)} MiB/s`;

async function downloadRows(
  workDir: string,
  sizeBytes: number,
  rows: Row[],
  results: Record<string, unknown>,
): Promise<void> {
  const dl = await runArtifactDownload({ workDir, sizeBytes, streams: [1, 32], log });
  results.artifactDownload = dl;
  if (dl.skipped) return;
  const size = `${(sizeBytes / 1024 / 1024).toFixed(0)} MiB`;
  for (const p of dl.parallel) {
    const ratio = p.otterMiBps / p.nginxMiBps;
    const goal = p.streams === 1 ? 0.6 : 0.5;
    rows.push({
      metric: `Artifact download, ${p.streams} stream(s), ${size}`,
      otter: mibps(p.otterMiBps),
      reference: `${mibps(p.nginxMiBps)} (nginx)`,
      ratio,
      goal: `>= ${goal}`,
      status: ratio >= goal ? 'PASS' : 'FAIL',
    });
  }
  const ratio = dl.ranged.rangedMiBps / dl.ranged.fullMiBps;
  rows.push({
    metric: `Ranged download, ${dl.ranged.chunks} x 1 MiB, hashes checked`,
    otter: mibps(dl.ranged.rangedMiBps),
    reference: `${mibps(dl.ranged.fullMiBps)} (full GET)`,
    ratio,
    goal: '>= 0.8',
    status: ratio >= 0.8 ? 'PASS' : 'FAIL',
  });
}

async function agentRows(workDir: string, rows: Row[], results: Record<string, unknown>): Promise<void> {
  const r = await runAgentBench({
    workDir,
    sizeBytes: envInt('BENCH_AGENT_MIB', 1024) * 1024 * 1024,
    idleMs: envInt('BENCH_AGENT_IDLE_MS', 10_000),
    log,
  });
  results.agent = r;
  const mib = (v: number): string => `${v.toFixed(1)} MiB`;
  const size = `${(r.download.sizeBytes / 1024 / 1024).toFixed(0)} MiB`;
  const cpuPct = (r.idle.cpuMs / r.idle.idleMs) * 100;
  rows.push(
    {
      metric: `Agent idle RSS (${r.idle.mode}, bundled, after ${r.idle.idleMs / 1000} s)`,
      otter: mib(r.idle.rssMiB),
      reference: `${mib(r.idle.bareNode.rssMiB)} (bare node)`,
      ratio: r.idle.rssMiB / r.idle.bareNode.rssMiB,
      goal: '<= 60 MiB',
      status: r.idle.rssMiB <= 60 ? 'PASS' : 'FAIL',
    },
    {
      metric: `Agent idle RSS (${r.idle.mode}, under tsx)`,
      otter: mib(r.idle.tsx.rssMiB),
      reference: `${mib(r.idle.bareNode.rssMiB)} (bare node)`,
      ratio: r.idle.tsx.rssMiB / r.idle.bareNode.rssMiB,
      goal: '-',
      status: 'INFO',
    },
    {
      metric: 'Agent idle CPU time',
      otter: `${r.idle.cpuMs} ms (${cpuPct.toFixed(2)} %)`,
      reference: `${r.idle.bareNode.cpuMs} ms (bare node)`,
      ratio: r.idle.cpuMs / Math.max(r.idle.bareNode.cpuMs, 10),
      goal: '~0 (< 1 %)',
      status: cpuPct < 1 ? 'PASS' : 'FAIL',
    },
    {
      metric: `Agent download RSS, ${size} (peak)`,
      otter: mib(Math.max(r.download.peakRssMiB, r.download.maxRssMiB)),
      reference: `${mib(r.idle.rssMiB)} (idle agent)`,
      ratio: Math.max(r.download.peakRssMiB, r.download.maxRssMiB) / r.idle.rssMiB,
      goal: '-',
      status: 'INFO',
    },
    {
      metric: `Agent download throughput, ${size}`,
      otter: mibps(r.download.agentMiBps),
      reference: `${mibps(r.download.curlMiBps)} (curl)`,
      ratio: r.download.agentMiBps / r.download.curlMiBps,
      goal: '-',
      status: 'INFO',
    },
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
