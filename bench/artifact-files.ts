/** Large test files for the download benchmarks, and their upload to a running Otter. */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, openSync, writeSync } from 'node:fs';
import http from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { RunningServer } from '../packages/server/src/main.js';

const MIB = 1024 * 1024;

/** Writes `bytes` of random data in 16 MiB blocks (never held in memory at once); returns its SHA-256. */
export function writeRandomFile(path: string, bytes: number): string {
  const fd = openSync(path, 'w');
  const hash = createHash('sha256');
  const block = randomBytes(16 * MIB);
  for (let written = 0; written < bytes; ) {
    const n = Math.min(block.length, bytes - written);
    const chunk = n === block.length ? block : block.subarray(0, n);
    writeSync(fd, chunk);
    hash.update(chunk);
    written += n;
    block[0] = (block[0]! + 1) & 0xff; // no two blocks alike
  }
  return hash.digest('hex');
}

/**
 * Streams the file at `path` to the native artifact API as `name` (SigV4 with the server's key,
 * `x-amz-content-sha256` = its SHA-256) and returns a presigned GET URL for it (one hour).
 */
export async function uploadAndPresign(
  server: Pick<RunningServer, 'url' | 'accessKeyId' | 'secretAccessKey'>,
  name: string,
  path: string,
  sha256: string,
  size: number,
): Promise<string> {
  const url = new URL(`/v1/artifacts/${name}`, server.url);
  const signer = new SignatureV4({
    service: 'otter',
    region: 'us-east-1',
    sha256: Sha256,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  });
  const base = { protocol: 'http:', hostname: url.hostname, port: Number(url.port), query: {} };
  const put = await signer.sign({
    ...base,
    method: 'PUT',
    path: url.pathname,
    headers: {
      host: url.host,
      'content-type': 'application/octet-stream',
      'content-length': String(size),
      'x-amz-content-sha256': sha256,
    },
  });
  await new Promise<void>((resolve, reject) => {
    const req = http.request(url, { method: 'PUT', headers: put.headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
      });
      res.on('end', () =>
        res.statusCode === 200 || res.statusCode === 201
          ? resolve()
          : reject(new Error(`upload: ${res.statusCode} ${text}`)),
      );
    });
    req.on('error', reject);
    createReadStream(path, { highWaterMark: MIB }).pipe(req);
  });
  const body = JSON.stringify({ name, expiresInSec: 3600 });
  const presign = await signer.sign({
    ...base,
    method: 'POST',
    path: '/v1/presign',
    headers: { host: url.host, 'content-type': 'application/json' },
    body,
  });
  const res = await fetch(new URL('/v1/presign', server.url), {
    method: 'POST',
    headers: presign.headers,
    body,
  });
  if (!res.ok) throw new Error(`presign: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { url: string }).url;
}
