/**
 * Device agent: idle RSS and CPU time of an agent process (sampled after BENCH_AGENT_IDLE_MS of idle)
 * against a bare idle `node` process, and the agent's downloader fetching a BENCH_AGENT_MIB artifact
 * from a presigned URL of a real Otter server (peak RSS sampled every 100 ms, throughput) against
 * `curl` fetching the same URL to the same disk in the same run (alternately, 3 rounds, medians).
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { generateSigningKey, signDigest } from '@otter/core';
import { startServer } from '../packages/server/src/main.js';
import { uploadAndPresign, writeRandomFile } from './artifact-files.js';

const run = promisify(execFile);
const ACCESS_KEY_ID = 'AKIABENCHAGENT';
const SECRET_ACCESS_KEY = 'bench-agent-secret';
const MIB = 1024 * 1024;
const ROUNDS = 3;
const CLK_TCK = 100; // Linux USER_HZ: /proc/<pid>/stat times are in 1/100 s
const IDLE_CHILD = fileURLToPath(new URL('./agent-idle-child.ts', import.meta.url));
const DOWNLOAD_CHILD = fileURLToPath(new URL('./agent-download-child.ts', import.meta.url));

export interface AgentBenchResult {
  idle: {
    /** How the agent was run: `createAgent` (the library) or `modules` (its modules and timers). */
    mode: string;
    idleMs: number;
    /** The agent bundled by esbuild into one file, run by plain node (as a release would be). */
    rssMiB: number;
    cpuMs: number;
    /** The same agent from source under `node --import tsx` (the loader thread adds ~45 MiB). */
    tsx: { rssMiB: number; cpuMs: number };
    bareNode: { rssMiB: number; cpuMs: number };
  };
  download: {
    sizeBytes: number;
    /** The bundled agent's download() call: transfer, SHA-256, signature check, fsync, rename. */
    agentMiBps: number;
    /** The same runs until the last byte was received and hashed (before fsync and the checks). */
    agentTransferMiBps: number;
    /** `curl -o FILE`, and the same with the fsync of FILE that the agent does counted in. */
    curlMiBps: number;
    curlSyncedMiBps: number;
    /** Bundled runs: highest RSS seen by 100 ms sampling, and the process's own peak (getrusage maxrss). */
    peakRssMiB: number;
    maxRssMiB: number;
    /** One run from source under `node --import tsx` (the loader adds about 45 MiB). */
    tsxPeakRssMiB: number;
    samples: {
      agent: number[];
      agentTransfer: number[];
      curl: number[];
      curlSynced: number[];
      peakRssMiB: number[];
    };
  };
}

const median = (values: number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** RSS (MiB) and user+system CPU time (ms) of a live process, from /proc. */
function procStats(pid: number): { rssMiB: number; cpuMs: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
    // Fields after the command name `(...)`: state is field 3, utime 14, stime 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return { rssMiB: rssKiB / 1024, cpuMs: (ticks * 1000) / CLK_TCK };
  } catch {
    return undefined;
  }
}

/** Starts `args` under node, waits for its `ready` line, idles `idleMs`, samples RSS and CPU. */
async function idleProcess(
  args: string[],
  idleMs: number,
  env: Record<string, string> = {},
): Promise<{ mode: string; rssMiB: number; cpuMs: number }> {
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  try {
    const mode = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /ready (\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`idle process exited (${code}) before ready`)));
    });
    const start = procStats(child.pid!);
    await sleep(idleMs);
    const end = procStats(child.pid!);
    if (!start || !end) throw new Error('idle process went away');
    return { mode, rssMiB: end.rssMiB, cpuMs: end.cpuMs - start.cpuMs };
  } finally {
    child.kill('SIGKILL');
  }
}

/**
 * Bundles a bench child (and every dependency) with esbuild, with the options of the agent's release
 * build (packages/agent/src/release/build-release.ts): ESM chunks, so what the agent imports lazily
 * (the MQTT client, the cron parser, the signing code) stays out of memory until used, as on a device.
 */
async function bundleChild(dir: string, entry: string): Promise<string> {
  const { build } = await import('esbuild');
  const name = basename(entry).replace(/\.ts$/, '');
  const outdir = join(dir, `${name}-bundle`);
  await build({
    entryPoints: { [name]: entry },
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outdir,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    logLevel: 'warning',
    // As the release: no comments, ASCII only (V8 holds an ASCII-only file in half the memory).
    minifyWhitespace: true,
    charset: 'ascii',
    // CommonJS dependencies (ajv, mqtt) call require().
    banner: {
      js: "import { createRequire as __otterCreateRequire } from 'node:module'; const require = __otterCreateRequire(import.meta.url);",
    },
  });
  return join(outdir, `${name}.mjs`);
}

interface AgentDownload {
  mibps: number;
  /** Until the last byte was received and hashed (no fsync, no signature check). */
  transferMiBps: number;
  peakRssMiB: number;
  maxRssMiB: number;
  sha256: string;
}

/** One agent download in a child process (`args` run `child`); RSS sampled every 100 ms. */
async function agentDownload(args: string[], options: object): Promise<AgentDownload> {
  const child = spawn(process.execPath, [...args, JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let peak = 0;
  const sampler = setInterval(() => {
    const s = procStats(child.pid!);
    if (s && s.rssMiB > peak) peak = s.rssMiB;
  }, 100);
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const [code] = await once(child, 'exit');
  clearInterval(sampler);
  if (code !== 0) throw new Error(`agent download exited ${code}: ${out}`);
  const r = JSON.parse(out.trim()) as {
    ms: number;
    transferMs: number;
    bytes: number;
    sha256: string;
    maxRssKiB: number;
  };
  return {
    mibps: r.bytes / MIB / (r.ms / 1000),
    transferMiBps: r.bytes / MIB / (r.transferMs / 1000),
    peakRssMiB: peak,
    maxRssMiB: r.maxRssKiB / 1024,
    sha256: r.sha256,
  };
}

/** curl to a file; also the time an fsync of that file takes after it (the agent's download() syncs). */
async function curlDownload(
  url: string,
  dest: string,
  size: number,
): Promise<{ mibps: number; syncedMiBps: number }> {
  const started = performance.now();
  const { stdout } = await run('curl', ['-sS', '-o', dest, '-w', '%{http_code} %{size_download}', url]);
  const seconds = (performance.now() - started) / 1000;
  const [code, bytes] = stdout.trim().split(' ');
  if (code !== '200' || Number(bytes) !== size)
    throw new Error(`curl: status ${code}, ${bytes} of ${size} bytes`);
  const syncStarted = performance.now();
  const fd = openSync(dest, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const synced = seconds + (performance.now() - syncStarted) / 1000;
  return { mibps: size / MIB / seconds, syncedMiBps: size / MIB / synced };
}

export async function runAgentBench(opts: {
  workDir: string;
  sizeBytes: number;
  idleMs: number;
  log: (line: string) => void;
}): Promise<AgentBenchResult> {
  const dir = join(opts.workDir, 'agent');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const server = await startServer({
    env: {},
    logger: false,
    overrides: {
      port: 0,
      mqttPort: 0,
      mqttWsPort: 0,
      deviceTlsPort: 0,
      dataDir: join(dir, 'server'),
      accessKeyId: ACCESS_KEY_ID,
      secretAccessKey: SECRET_ACCESS_KEY,
      // The idle agent polls the jobs routes over plain http without a client certificate: it must
      // get answers (not 403s followed by quick retries) to idle as a device in service does.
      allowAnonymous: true,
    },
  });
  try {
    const created = await fetch(new URL('/things/bench-agent', server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    if (!created.ok) throw new Error(`CreateThing bench-agent: ${created.status} ${await created.text()}`);
    opts.log(`agent: idle agent process (bundled, then under tsx), ${opts.idleMs / 1000} s each ...`);
    const spec = (name: string) => JSON.stringify({ endpoint: server.url, stateDir: join(dir, name) });
    const bundle = await bundleChild(dir, IDLE_CHILD);
    // Loaded from -e, so no module of the bundle takes itself for the entry point (main.ts's check).
    const idle = await idleProcess(['-e', `import(${JSON.stringify(bundle)})`], opts.idleMs, {
      BENCH_AGENT_SPEC: spec('state-bundled'),
    });
    const tsx = await idleProcess(['--import', 'tsx', IDLE_CHILD, spec('state-tsx')], opts.idleMs);
    const bare = await idleProcess(
      ['-e', 'setInterval(() => {}, 3600e3); process.stdout.write("ready node\\n")'],
      opts.idleMs,
    );

    opts.log(`agent: writing ${(opts.sizeBytes / MIB).toFixed(0)} MiB artifact ...`);
    const file = join(dir, 'agent-release.bin');
    const sha256 = writeRandomFile(file, opts.sizeBytes);
    const url = await uploadAndPresign(server, 'bench/agent-release.bin', file, sha256, opts.sizeBytes);
    rmSync(file);
    const key = generateSigningKey('ECDSA_P256_SHA256');
    const dest = join(dir, 'downloads', 'agent-release.bin');
    mkdirSync(join(dir, 'downloads'), { recursive: true });
    const options = {
      url,
      dest,
      expectedSha256: sha256,
      expectedSize: opts.sizeBytes,
      maxBytes: opts.sizeBytes,
      throttleMs: 0,
      signature: signDigest(key.privateKeyPem, sha256),
      trustedKeys: [{ publicKeyPem: key.publicKeyPem, algorithm: key.algorithm, keyId: key.keyId }],
    };
    const clean = () => {
      for (const p of [dest, `${dest}.part`, `${dest}.part.json`, join(dir, 'curl.bin')])
        rmSync(p, { force: true });
    };
    const downloadBundle = await bundleChild(dir, DOWNLOAD_CHILD);
    const checked = (a: AgentDownload): AgentDownload => {
      if (statSync(dest).size !== opts.sizeBytes) throw new Error('agent download: wrong size');
      if (a.sha256 !== sha256) throw new Error(`agent download: sha256 ${a.sha256}, expected ${sha256}`);
      return a;
    };
    // Warm the page cache and the server once, then alternate agent (bundled) and curl.
    await curlDownload(url, join(dir, 'curl.bin'), opts.sizeBytes);
    clean();
    const agent: AgentDownload[] = [];
    const curl: { mibps: number; syncedMiBps: number }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      opts.log(`agent: download round ${round + 1}/${ROUNDS} ...`);
      agent.push(checked(await agentDownload([downloadBundle], options)));
      clean();
      curl.push(await curlDownload(url, join(dir, 'curl.bin'), opts.sizeBytes));
      clean();
    }
    opts.log('agent: one download from source under tsx (RSS) ...');
    const tsxRun = checked(await agentDownload(['--import', 'tsx', DOWNLOAD_CHILD], options));
    clean();
    const peakOf = (a: AgentDownload) => Math.max(a.peakRssMiB, a.maxRssMiB);
    return {
      idle: {
        mode: idle.mode,
        idleMs: opts.idleMs,
        rssMiB: idle.rssMiB,
        cpuMs: idle.cpuMs,
        tsx: { rssMiB: tsx.rssMiB, cpuMs: tsx.cpuMs },
        bareNode: bare,
      },
      download: {
        sizeBytes: opts.sizeBytes,
        agentMiBps: median(agent.map((a) => a.mibps)),
        agentTransferMiBps: median(agent.map((a) => a.transferMiBps)),
        curlMiBps: median(curl.map((c) => c.mibps)),
        curlSyncedMiBps: median(curl.map((c) => c.syncedMiBps)),
        peakRssMiB: Math.max(...agent.map((a) => a.peakRssMiB)),
        maxRssMiB: Math.max(...agent.map((a) => a.maxRssMiB)),
        tsxPeakRssMiB: peakOf(tsxRun),
        samples: {
          agent: agent.map((a) => a.mibps),
          agentTransfer: agent.map((a) => a.transferMiBps),
          curl: curl.map((c) => c.mibps),
          curlSynced: curl.map((c) => c.syncedMiBps),
          peakRssMiB: agent.map(peakOf),
        },
      },
    };
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
