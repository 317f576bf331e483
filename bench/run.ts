/**
 * Otter benchmarks: every metric is reported as a ratio against a reference measured in the
 * same run on the same machine. Prints a summary table and writes bench/.work/results.json.
 * Informational only: exits 0 even when a goal is missed.
 *
 *   npm run bench                      # 1,000,000 things
 *   BENCH_THINGS=100000 npm run bench  # scaled down
 *   BENCH_ONLY=download npm run bench  # one group: fleet, describe, download
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runArtifactDownload } from './artifact-download.js';
import { runDescribeThing } from './describe-thing.js';
import { runFleetSearch } from './fleet-search.js';

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

  const only = new Set((process.env.BENCH_ONLY ?? 'fleet,describe,download').split(','));
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

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
