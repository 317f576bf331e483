/**
 * Artifact download: Otter serving a presigned artifact URL vs nginx (`sendfile on`) serving the
 * same file, both fetched by the same client (`curl`, one process per stream), 1 and 32 streams in
 * parallel. Then a download in 1 MiB `Range` requests against one full GET from Otter, both by the
 * same Node client on one keep-alive connection, with every chunk's SHA-256 checked. Each
 * comparison runs its two sides alternately three times and reports the medians.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FREE_PORTS, startServer } from '../packages/server/src/main.js';
import { uploadAndPresign, writeRandomFile } from './artifact-files.js';

const run = promisify(execFile);
const ACCESS_KEY_ID = 'AKIABENCHART';
const SECRET_ACCESS_KEY = 'bench-artifact-secret';
const MIB = 1024 * 1024;
/** Alternating measurement rounds per comparison; the medians are reported. */
const ROUNDS = 3;

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export interface StreamsResult {
  streams: number;
  /** Medians of ROUNDS runs (MiB/s); every run in `samples`. */
  otterMiBps: number;
  nginxMiBps: number;
  samples?: { otter: number[]; nginx: number[] };
}

export interface ArtifactDownloadResult {
  sizeBytes: number;
  parallel: StreamsResult[];
  ranged: {
    chunkBytes: number;
    rangedMiBps: number;
    fullMiBps: number;
    chunks: number;
    samples?: { full: number[]; ranged: number[] };
  };
  skipped?: string;
}

async function findNginx(): Promise<string | undefined> {
  for (const p of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx']) if (existsSync(p)) return p;
  return undefined;
}

/** Starts nginx in the foreground (one worker, sendfile on) serving `root` on a free port. */
async function startNginx(bin: string, dir: string, root: string): Promise<{ port: number; stop(): void }> {
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
worker_processes 1;
${process.getuid?.() === 0 ? 'user root root;' : ''}
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  client_body_temp_path ${join(dir, 'tmp')};
  proxy_temp_path ${join(dir, 'tmp')};
  fastcgi_temp_path ${join(dir, 'tmp')};
  uwsgi_temp_path ${join(dir, 'tmp')};
  scgi_temp_path ${join(dir, 'tmp')};
  server {
    listen 127.0.0.1:${port};
    root ${root};
  }
}
`,
  );
  const child = spawn(bin, ['-c', conf, '-p', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      http
        .get({ host: '127.0.0.1', port, path: '/' }, (res) => {
          res.resume();
          resolve(true);
        })
        .on('error', () => resolve(false));
    });
    if (up) return { port, stop: () => child.kill('SIGTERM') };
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`nginx did not start (see ${join(dir, 'error.log')})`);
}

/** `streams` curl processes fetching `url` at once; aggregate MiB/s from first start to last end. */
async function curlParallel(url: string, streams: number, expectedBytes: number): Promise<number> {
  const started = performance.now();
  await Promise.all(
    Array.from({ length: streams }, async () => {
      const { stdout } = await run('curl', [
        '-sS',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code} %{size_download}',
        url,
      ]);
      const [code, size] = stdout.trim().split(' ');
      if (code !== '200' || Number(size) !== expectedBytes)
        throw new Error(`curl ${url}: status ${code}, ${size} of ${expectedBytes} bytes`);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return (streams * expectedBytes) / MIB / seconds;
}

/** GETs `url` (optionally a range) on `agent`; resolves the body's SHA-256 and byte count. */
function fetchHash(
  url: URL,
  agent: http.Agent,
  range?: [number, number],
): Promise<{ sha256: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = range ? { range: `bytes=${range[0]}-${range[1]}` } : {};
    http
      .get(url, { agent, headers }, (res) => {
        const want = range ? 206 : 200;
        if (res.statusCode !== want) {
          res.resume();
          reject(
            new Error(`GET ${url.pathname} ${headers.range ?? ''}: ${res.statusCode}, expected ${want}`),
          );
          return;
        }
        const hash = createHash('sha256');
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          hash.update(c);
          bytes += c.length;
        });
        res.on('end', () => resolve({ sha256: hash.digest('hex'), bytes }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** The SHA-256 of every `chunk`-byte slice of the file, read once from disk. */
async function chunkHashes(path: string, chunk: number): Promise<string[]> {
  const out: string[] = [];
  let hash = createHash('sha256');
  let filled = 0;
  for await (const buf of createReadStream(path, { highWaterMark: chunk }) as AsyncIterable<Buffer>) {
    let off = 0;
    while (off < buf.length) {
      const n = Math.min(chunk - filled, buf.length - off);
      hash.update(buf.subarray(off, off + n));
      filled += n;
      off += n;
      if (filled === chunk) {
        out.push(hash.digest('hex'));
        hash = createHash('sha256');
        filled = 0;
      }
    }
  }
  if (filled > 0) out.push(hash.digest('hex'));
  return out;
}

export async function runArtifactDownload(opts: {
  workDir: string;
  sizeBytes: number;
  streams: number[];
  log: (line: string) => void;
}): Promise<ArtifactDownloadResult> {
  const dir = join(opts.workDir, 'download');
  rmSync(dir, { recursive: true, force: true });
  const www = join(dir, 'www');
  mkdirSync(www, { recursive: true });
  const nginxBin = await findNginx();
  const empty = { streams: 0, otterMiBps: 0, nginxMiBps: 0 };
  if (!nginxBin) {
    const skipped = 'nginx not installed (apt-get install nginx-light)';
    opts.log(`download: skipped: ${skipped}`);
    return {
      sizeBytes: opts.sizeBytes,
      parallel: [empty],
      ranged: { chunkBytes: MIB, rangedMiBps: 0, fullMiBps: 0, chunks: 0 },
      skipped,
    };
  }
  const file = join(www, 'firmware.bin');
  opts.log(`download: writing ${(opts.sizeBytes / MIB).toFixed(0)} MiB of random data ...`);
  const sha256 = writeRandomFile(file, opts.sizeBytes);
  const server = await startServer({
    env: {},
    logger: false,
    overrides: {
      ...FREE_PORTS,
      dataDir: join(dir, 'server'),
      accessKeyId: ACCESS_KEY_ID,
      secretAccessKey: SECRET_ACCESS_KEY,
    },
  });
  const nginx = await startNginx(nginxBin, join(dir, 'nginx'), www);
  try {
    opts.log('download: uploading to Otter ...');
    const otterUrl = await uploadAndPresign(server, 'bench/firmware.bin', file, sha256, opts.sizeBytes);
    const nginxUrl = `http://127.0.0.1:${nginx.port}/firmware.bin`;
    const parallel: StreamsResult[] = [];
    for (const streams of opts.streams) {
      // Warm the page cache and both servers, then measure Otter and nginx alternately, ROUNDS
      // times each, and keep the medians: other processes on the machine perturb single runs.
      await curlParallel(otterUrl, 1, opts.sizeBytes);
      await curlParallel(nginxUrl, 1, opts.sizeBytes);
      opts.log(`download: ${streams} stream(s) ...`);
      const otter: number[] = [];
      const nginx: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        otter.push(await curlParallel(otterUrl, streams, opts.sizeBytes));
        nginx.push(await curlParallel(nginxUrl, streams, opts.sizeBytes));
      }
      parallel.push({
        streams,
        otterMiBps: median(otter),
        nginxMiBps: median(nginx),
        samples: { otter, nginx },
      });
    }

    opts.log('download: 1 MiB ranges vs one full GET ...');
    const expected = await chunkHashes(file, MIB);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const url = new URL(otterUrl);
    const fullRuns: number[] = [];
    const rangedRuns: number[] = [];
    // Alternate one full GET and one ranged download, ROUNDS times; medians of each.
    for (let round = 0; round < ROUNDS; round++) {
      let t = performance.now();
      const full = await fetchHash(url, agent);
      fullRuns.push(opts.sizeBytes / MIB / ((performance.now() - t) / 1000));
      if (full.sha256 !== sha256 || full.bytes !== opts.sizeBytes)
        throw new Error('full GET: content differs');
      t = performance.now();
      for (let i = 0; i < expected.length; i++) {
        const start = i * MIB;
        const end = Math.min(opts.sizeBytes, start + MIB) - 1;
        const part = await fetchHash(url, agent, [start, end]);
        if (part.sha256 !== expected[i]) throw new Error(`range ${start}-${end}: hash differs`);
      }
      rangedRuns.push(opts.sizeBytes / MIB / ((performance.now() - t) / 1000));
    }
    agent.destroy();
    return {
      sizeBytes: opts.sizeBytes,
      parallel,
      ranged: {
        chunkBytes: MIB,
        chunks: expected.length,
        fullMiBps: median(fullRuns),
        rangedMiBps: median(rangedRuns),
        samples: { full: fullRuns, ranged: rangedRuns },
      },
    };
  } finally {
    nginx.stop();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
