/**
 * Closed-loop HTTP load generator, run in a worker thread so it never shares an event loop
 * with the server under test. Replays one fixed request (method, path, headers) over
 * keep-alive connections with `concurrency` requests in flight, for `durationMs`.
 */
import http from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

export interface LoadRequest {
  host: string;
  port: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  concurrency: number;
  durationMs: number;
}

export interface LoadResult {
  requests: number;
  errors: number;
  /** Count per HTTP status code. */
  statuses: Record<string, number>;
  elapsedMs: number;
  /** Per-request latency in milliseconds (successful and failed responses alike). */
  latenciesMs: number[];
  firstErrorBody?: string;
}

async function run(req: LoadRequest): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: req.concurrency });
  const latenciesMs: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let firstErrorBody: string | undefined;
  const start = performance.now();
  const deadline = start + req.durationMs;

  const once = (): Promise<void> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const r = http.request(
        { agent, host: req.host, port: req.port, method: req.method, path: req.path, headers: req.headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            latenciesMs.push(performance.now() - t0);
            const code = String(res.statusCode);
            statuses[code] = (statuses[code] ?? 0) + 1;
            if (res.statusCode !== 200) {
              errors++;
              firstErrorBody ??= Buffer.concat(chunks).toString('utf8').slice(0, 500);
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
      r.end();
    });

  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) await once();
  };
  await Promise.all(Array.from({ length: req.concurrency }, loop));
  const elapsedMs = performance.now() - start;
  agent.destroy();
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
