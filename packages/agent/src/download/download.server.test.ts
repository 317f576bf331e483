/** The downloader against the real Otter server (native artifact API, presigned URLs). */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateSigningKey, signDigest } from '@otter/core';
import { startTestServer, type TestServer } from '../../../server/src/testing/test-server.js';
import { download } from './download.js';
import { DownloadError } from './download-error.js';

const FIXTURE = fileURLToPath(new URL('./download-child.fixture.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'otter-agent-download-server-'));
const key = generateSigningKey('ECDSA_P256_SHA256');
const trustedKeys = [{ publicKeyPem: key.publicKeyPem, algorithm: key.algorithm, keyId: key.keyId }];
const bytes = randomBytes(2 * 1024 * 1024);
const SHA = createHash('sha256').update(bytes).digest('hex');
const signature = signDigest(key.privateKeyPem, SHA);
let s: TestServer;

async function presign(name: string): Promise<string> {
  const res = await s.native('POST', '/v1/presign', { name, expiresInSec: 600 });
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { url: string }).url;
}

before(async () => {
  s = await startTestServer();
  const put = await s.native('PUT', '/v1/artifacts/fw/2.0.0/image.bin', bytes);
  assert.equal(put.status, 201, await put.text());
});
after(async () => {
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('download from a real Otter server', () => {
  it('downloads a presigned artifact, checks hash and signature, and refuses a tampered signature', async () => {
    const url = await presign('fw/2.0.0/image.bin');
    const dest = join(dir, 'image.bin');
    const r = await download({
      url,
      dest,
      expectedSha256: SHA,
      expectedSize: bytes.length,
      maxBytes: 10 << 20,
      signature,
      trustedKeys,
    });
    assert.equal(r.sha256, SHA);
    assert.deepEqual(readFileSync(dest), bytes);
    const bad = join(dir, 'bad.bin');
    const other = signDigest(key.privateKeyPem, createHash('sha256').update('other').digest('hex'));
    await assert.rejects(
      download({
        url,
        dest: bad,
        expectedSha256: SHA,
        maxBytes: 10 << 20,
        signature: { ...signature, signature: other.signature },
        trustedKeys,
      }),
      (e: unknown) => e instanceof DownloadError && e.code === 'SIGNATURE_INVALID',
    );
    assert.equal(existsSync(bad), false);
  });

  it('resumes across a restart: a downloading process is SIGKILLed, a second one continues from the part', async () => {
    const url = await presign('fw/2.0.0/image.bin');
    const dest = join(dir, 'resumed.bin');
    // throttled to ~1 MiB/s so the kill lands mid-way
    const options = {
      url,
      dest,
      expectedSha256: SHA,
      maxBytes: 10 << 20,
      signature,
      trustedKeys,
      throttleMs: 4,
    };
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, JSON.stringify(options)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    while (!/progress (\d+)\n.*progress/s.test(out) && child.exitCode === null)
      await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    await once(child, 'exit');
    assert.doesNotMatch(out, /done/);
    const partSize = statSync(`${dest}.part`).size;
    assert.ok(partSize > 0 && partSize < bytes.length, `part of ${partSize} bytes`);
    assert.equal(existsSync(dest), false);

    const second = spawn(
      process.execPath,
      ['--import', 'tsx', FIXTURE, JSON.stringify({ ...options, throttleMs: 0 })],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out2 = '';
    second.stdout.on('data', (d) => {
      out2 += d;
    });
    const [code] = await once(second, 'exit');
    assert.equal(code, 0, out2);
    const result = JSON.parse(/done (.*)/.exec(out2)?.[1] ?? '{}');
    assert.ok(
      result.resumedFrom >= partSize - 0 && result.resumedFrom > 0,
      `resumed from ${result.resumedFrom}`,
    );
    assert.equal(result.sha256, SHA);
    assert.deepEqual(readFileSync(dest), bytes);
    assert.equal(existsSync(`${dest}.part`), false);
  });

  it('an expired or foreign URL is an HTTP error and places nothing', async () => {
    const url = new URL(await presign('fw/2.0.0/image.bin'));
    url.searchParams.set('X-Otter-Signature', 'AAAA');
    const dest = join(dir, 'denied.bin');
    await assert.rejects(
      download({ url: url.toString(), dest, maxBytes: 10 << 20, signature, trustedKeys }),
      (e: unknown) => e instanceof DownloadError && e.code === 'HTTP_ERROR' && e.fields.httpStatus === 403,
    );
    assert.equal(existsSync(dest), false);
  });
});
