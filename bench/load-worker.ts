/**
 * Closed-loop HTTP(S) load generator, run in a worker thread so it never shares an event loop
 * with the server under test. Keeps `concurrency` requests in flight over keep-alive connections
 * for `durationMs`. Replays either one fixed request (method, path, headers) or, with `requests`,
 * a pool of pre-built requests in round-robin order. With `connections`, loop i uses
 * `connections[i % n]`: its own HTTPS agent presenting that client certificate, and that entry's
 * own request pool (a device reaches only its own resources).
 */
import http from 'node:http';
import https from 'node:https';
import { parentPort, workerData } from 'node:worker_threads';

/** One pre-built request (e.g. SigV4-signed for its own path and body). */
export interface LoadTarget {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** An HTTPS connection identity (client certificate) with the requests it sends. */
export interface LoadConnection {
  cert?: string;
  key?: string;
  requests: LoadTarget[];
}

export interface LoadRequest {
  host: string;
  port: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  /** A pool of requests replayed in round-robin order instead of the one above. */
  requests?: LoadTarget[];
  /** HTTPS (the server certificate is not verified): one entry per client identity. */
  connections?: LoadConnection[];
  concurrency: number;
  durationMs: number;
}

export interface LoadResult {
  requests: number;
  /** Responses outside 2xx and transport errors. */
  errors: number;
  /** Count per HTTP status code. */
  statuses: Record<string, number>;
  elapsedMs: number;
  /** Per-request latency in milliseconds (successful and failed responses alike). */
  latenciesMs: number[];
  firstErrorBody?: string;
}

async function run(req: LoadRequest): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let firstErrorBody: string | undefined;
  const agents: (http.Agent | https.Agent)[] = [];
  const start = performance.now();
  const deadline = start + req.durationMs;

  const once = (
    agent: http.Agent | https.Agent,
    mod: typeof http | typeof https,
    t: LoadTarget,
  ): Promise<void> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const r = mod.request(
        { agent, host: req.host, port: req.port, method: t.method, path: t.path, headers: t.headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            latenciesMs.push(performance.now() - t0);
            const code = String(res.statusCode);
            statuses[code] = (statuses[code] ?? 0) + 1;
            const status = res.statusCode ?? 0;
            if (status < 200 || status > 299) {
              errors++;
              firstErrorBody ??= `${status} ${t.method} ${t.path}: ${Buffer.concat(chunks).toString('utf8').slice(0, 500)}`;
            }
            resolve();
          });
        },
      );
      r.on('error', (e) => {
        errors++;
        firstErrorBody ??= String(e);
        resolve();
      });
      r.end(t.body);
    });

  const single: LoadTarget = { method: req.method, path: req.path, headers: req.headers };
  const pool = req.requests && req.requests.length > 0 ? req.requests : [single];
  let shared = 0;
  const loops: Promise<void>[] = [];
  if (req.connections && req.connections.length > 0) {
    const conns = req.connections.map((c) => {
      const agent = new https.Agent({
        keepAlive: true,
        maxSockets: Math.ceil(req.concurrency / req.connections!.length),
        rejectUnauthorized: false,
        ...(c.cert === undefined ? {} : { cert: c.cert }),
        ...(c.key === undefined ? {} : { key: c.key }),
      });
      agents.push(agent);
      return { agent, requests: c.requests, next: 0 };
    });
    for (let i = 0; i < req.concurrency; i++) {
      const c = conns[i % conns.length]!;
      loops.push(
        (async () => {
          while (performance.now() < deadline)
            await once(c.agent, https, c.requests[c.next++ % c.requests.length]!);
        })(),
      );
    }
  } else {
    const agent = new http.Agent({ keepAlive: true, maxSockets: req.concurrency });
    agents.push(agent);
    for (let i = 0; i < req.concurrency; i++) {
      loops.push(
        (async () => {
          while (performance.now() < deadline) await once(agent, http, pool[shared++ % pool.length]!);
        })(),
      );
    }
  }
  await Promise.all(loops);
  const elapsedMs = performance.now() - start;
  for (const a of agents) a.destroy();
  return {
    requests: latenciesMs.length,
    errors,
    statuses,
    elapsedMs,
    latenciesMs,
    ...(firstErrorBody === undefined ? {} : { firstErrorBody }),
  };
}

if (parentPort) {
  const port = parentPort;
  run(workerData as LoadRequest).then(
    (result) => port.postMessage(result),
    (error: unknown) => port.postMessage({ fatal: String(error) }),
  );
}
