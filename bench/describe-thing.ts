/**
 * DescribeThing throughput: the real Otter server answering a replayed SigV4-signed
 * GET /things/bench-1, vs a bare node:http server in the same process answering constant JSON
 * of the same size. Both are driven by the same worker-thread load generator.
 */
import { rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { CreateThingCommand, IoTClient } from '@aws-sdk/client-iot';
import { SignatureV4 } from '@smithy/signature-v4';
import { startServer } from '../packages/server/src/main.js';
import { runLoad } from './load.js';
import type { LoadResult } from './load-worker.js';
import { quantile } from './stats.js';

export interface ThroughputSummary {
  requestsPerSecond: number;
  p99Ms: number;
  medianMs: number;
  requests: number;
  errors: number;
  statuses: Record<string, number>;
}

export interface DescribeThingResult {
  responseBytes: number;
  concurrency: number;
  durationMs: number;
  otter: ThroughputSummary;
  reference: ThroughputSummary;
}

const ACCESS_KEY_ID = 'AKIABENCH';
const SECRET_ACCESS_KEY = 'bench-secret';
const REGION = 'us-east-1';
const THING = 'bench-1';

export function summarizeLoad(r: LoadResult): ThroughputSummary {
  return {
    requestsPerSecond: (r.requests - r.errors) / (r.elapsedMs / 1000),
    p99Ms: quantile(r.latenciesMs, 0.99),
    medianMs: quantile(r.latenciesMs, 0.5),
    requests: r.requests,
    errors: r.errors,
    statuses: r.statuses,
  };
}

/** Signs GET `path` for `host:port` now; the result stays valid within the 5-minute skew window. */
async function signGet(host: string, port: number, path: string): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    service: 'iot',
    region: REGION,
    sha256: Sha256,
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
  });
  const signed = await signer.sign({
    method: 'GET',
    protocol: 'http:',
    hostname: host,
    port,
    path,
    query: {},
    headers: { host: `${host}:${port}` },
  });
  return signed.headers;
}

export async function runDescribeThing(opts: {
  workDir: string;
  concurrency: number;
  durationMs: number;
  warmupMs: number;
  log: (line: string) => void;
}): Promise<DescribeThingResult> {
  const dataDir = join(opts.workDir, 'server');
  rmSync(dataDir, { recursive: true, force: true });
  const server = await startServer({
    env: {},
    logger: false,
    overrides: {
      port: 0,
      mqttPort: 0,
      mqttWsPort: 0,
      dataDir,
      accessKeyId: ACCESS_KEY_ID,
      secretAccessKey: SECRET_ACCESS_KEY,
    },
  });
  let reference: http.Server | undefined;
  try {
    const url = new URL(server.url);
    const host = url.hostname === '0.0.0.0' || url.hostname === '[::]' ? '127.0.0.1' : url.hostname;
    const port = Number(url.port);
    const client = new IoTClient({
      endpoint: server.url,
      region: REGION,
      credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
    });
    await client.send(
      new CreateThingCommand({
        thingName: THING,
        attributePayload: { attributes: { model: 'm1', site: 's1' } },
      }),
    );
    client.destroy();

    const path = `/things/${THING}`;
    // One signed request, checked once, then replayed (re-signed per run; runs are far shorter
    // than the 5-minute skew window).
    const body = await new Promise<string>((resolve, reject) => {
      void signGet(host, port, path).then((headers) => {
        http
          .get({ host, port, path, headers }, (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => {
              text += c;
            });
            res.on('end', () =>
              res.statusCode === 200
                ? resolve(text)
                : reject(new Error(`DescribeThing ${res.statusCode}: ${text}`)),
            );
          })
          .on('error', reject);
      }, reject);
    });
    const responseBytes = Buffer.byteLength(body);

    // Reference: constant JSON of the same size and content type, no routing, auth or storage.
    const constant = Buffer.from(body);
    reference = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': constant.length });
      res.end(constant);
    });
    reference.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve) => reference!.listen(0, '127.0.0.1', resolve));
    const refPort = (reference.address() as AddressInfo).port;

    const drive = async (target: 'otter' | 'reference', durationMs: number): Promise<LoadResult> => {
      const p = target === 'otter' ? port : refPort;
      const headers =
        target === 'otter' ? await signGet(host, p, path) : { host: `127.0.0.1:${p}`, accept: '*/*' };
      return runLoad({
        host: target === 'otter' ? host : '127.0.0.1',
        port: p,
        method: 'GET',
        path,
        headers,
        concurrency: opts.concurrency,
        durationMs,
      });
    };

    opts.log(`describe: warm-up ${opts.warmupMs} ms each ...`);
    await drive('otter', opts.warmupMs);
    await drive('reference', opts.warmupMs);
    opts.log(`describe: Otter, concurrency ${opts.concurrency}, ${opts.durationMs} ms ...`);
    const otter = await drive('otter', opts.durationMs);
    if (otter.firstErrorBody) opts.log(`describe: Otter error sample: ${otter.firstErrorBody}`);
    opts.log(`describe: reference, concurrency ${opts.concurrency}, ${opts.durationMs} ms ...`);
    const ref = await drive('reference', opts.durationMs);
    return {
      responseBytes,
      concurrency: opts.concurrency,
      durationMs: opts.durationMs,
      otter: summarizeLoad(otter),
      reference: summarizeLoad(ref),
    };
  } finally {
    if (reference) {
      reference.closeAllConnections();
      await new Promise<void>((resolve) => reference!.close(() => resolve()));
    }
    await server.close();
  }
}
