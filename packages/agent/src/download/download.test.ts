import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { generateSigningKey, signDigest } from '@otter/core';
import { type DownloadOptions, download } from './download.js';
import { DownloadError } from './download-error.js';

const dir = mkdtempSync(join(tmpdir(), 'otter-agent-download-'));
const servers: Server[] = [];
after(() => {
  for (const s of servers) s.closeAllConnections();
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

const key = generateSigningKey('ED25519');
const other = generateSigningKey('ECDSA_P256_SHA256');
const trustedKeys = [{ publicKeyPem: key.publicKeyPem, algorithm: key.algorithm, keyId: key.keyId }];
const body = Buffer.alloc(300_000);
for (let i = 0; i < body.length; i++) body[i] = (i * 31 + (i >> 8)) & 0xff;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const SHA = sha(body);
const signature = signDigest(key.privateKeyPem, SHA);

/** A node:http server answering with `handler`; resolves with its base URL. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const s = createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}/a.bin`;
}

/** Serves `content` with ETag and single ranges honouring If-Range, like Otter does. */
function rangeServer(getContent: () => { bytes: Buffer; etag: string }, log: string[] = []) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const { bytes, etag } = getContent();
    log.push(`${req.headers.range ?? '-'} ${req.headers['if-range'] ?? '-'}`);
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m && req.headers['if-range'] === etag) {
      const start = Number(m[1]);
      if (start >= bytes.length) {
        res.writeHead(416, { 'content-range': `bytes */${bytes.length}` }).end();
        return;
      }
      res.writeHead(206, {
        etag,
        'content-length': bytes.length - start,
        'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}`,
      });
      res.end(bytes.subarray(start));
      return;
    }
    res.writeHead(200, { etag, 'content-length': bytes.length }).end(bytes);
  };
}

let n = 0;
const dest = () => join(dir, `file-${++n}.bin`);
const base = (url: string, over: Partial<DownloadOptions> = {}): DownloadOptions => ({
  url,
  dest: dest(),
  expectedSha256: SHA,
  maxBytes: 10_000_000,
  signature,
  trustedKeys,
  ...over,
});

async function rejectsWith(p: Promise<unknown>, code: string, resumable?: boolean): Promise<DownloadError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DownloadError, String(e));
    assert.equal(e.code, code, e.message);
    if (resumable !== undefined) assert.equal(e.resumable, resumable, `resumable for ${code}`);
    return e;
  }
  assert.fail(`expected ${code}`);
}

describe('download against misbehaving servers', () => {
  it('downloads, verifies and places the file; nothing else is left', async () => {
    const url = await serve(rangeServer(() => ({ bytes: body, etag: '"v1"' })));
    const progress: number[] = [];
    const o = base(url, { onProgress: (p) => progress.push(p.received) });
    const r = await download(o);
    assert.deepEqual(readFileSync(o.dest), body);
    assert.equal(r.sha256, SHA);
    assert.equal(r.size, body.length);
    assert.equal(r.resumedFrom, 0);
    assert.equal(progress.at(-1), body.length);
    assert.equal(existsSync(`${o.dest}.part`), false);
    assert.equal(existsSync(`${o.dest}.part.json`), false);
  });

  it('resumes after a truncated response with Range and If-Range', async () => {
    const log: string[] = [];
    let cut = true;
    const full = rangeServer(() => ({ bytes: body, etag: '"v1"' }), log);
    const url = await serve((req, res) => {
      if (!cut) return full(req, res);
      cut = false;
      log.push('cut');
      res.writeHead(200, { etag: '"v1"', 'content-length': body.length });
      res.write(body.subarray(0, 100_000), () => setTimeout(() => res.destroy(), 50));
    });
    const o = base(url);
    await rejectsWith(download(o), 'INCOMPLETE', true);
    assert.equal(existsSync(o.dest), false);
    assert.ok(existsSync(`${o.dest}.part`));
    const r = await download(o);
    assert.equal(r.resumedFrom, 100_000);
    assert.deepEqual(readFileSync(o.dest), body);
    assert.deepEqual(log, ['cut', 'bytes=100000- "v1"']);
  });

  it('restarts cleanly when the content changed (new ETag answers 200)', async () => {
    const v2 = Buffer.from(body);
    v2[0] = (v2[0] ?? 0) ^ 1;
    const o = base(await serve(rangeServer(() => ({ bytes: v2, etag: '"v2"' }))), {
      expectedSha256: sha(v2),
      signature: signDigest(key.privateKeyPem, sha(v2)),
    });
    writeFileSync(`${o.dest}.part`, body.subarray(0, 5000));
    writeFileSync(`${o.dest}.part.json`, JSON.stringify({ validator: '"v1"' }));
    const r = await download(o);
    assert.equal(r.resumedFrom, 0);
    assert.deepEqual(readFileSync(o.dest), v2);
  });

  it('treats 416 on a complete part as done, and on a part longer than the file as a restart', async () => {
    const url = await serve(rangeServer(() => ({ bytes: body, etag: '"v1"' })));
    const o = base(url);
    writeFileSync(`${o.dest}.part`, body);
    writeFileSync(`${o.dest}.part.json`, JSON.stringify({ validator: '"v1"' }));
    assert.equal((await download(o)).resumedFrom, body.length);
    const o2 = base(url);
    writeFileSync(`${o2.dest}.part`, Buffer.concat([body, Buffer.from('extra')]));
    writeFileSync(`${o2.dest}.part.json`, JSON.stringify({ validator: '"v1"' }));
    const r = await download(o2);
    assert.equal(r.resumedFrom, 0);
    assert.deepEqual(readFileSync(o2.dest), body);
  });

  it('refuses a wrong hash, a bad signature, an untrusted key and a missing signature, placing nothing', async () => {
    const url = await serve(rangeServer(() => ({ bytes: body, etag: '"v1"' })));
    const cases: [Partial<DownloadOptions>, string][] = [
      [{ expectedSha256: sha(Buffer.from('other')) }, 'HASH_MISMATCH'],
      [
        {
          signature: {
            ...signature,
            signature: signDigest(key.privateKeyPem, sha(Buffer.from('x'))).signature,
          },
        },
        'SIGNATURE_INVALID',
      ],
      [{ signature: signDigest(other.privateKeyPem, SHA) }, 'UNTRUSTED_KEY'],
      [
        {
          signature: {
            algorithm: 'ED25519',
            signature: signature.signature.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')),
          },
        },
        'SIGNATURE_INVALID',
      ],
    ];
    for (const [over, code] of cases) {
      const o = base(url, over);
      await rejectsWith(download(o), code, false);
      assert.equal(existsSync(o.dest), false, code);
      assert.equal(existsSync(`${o.dest}.part`), false, `${code}: the part is discarded`);
    }
    const { signature: _s, ...unsigned } = base(url);
    await rejectsWith(download(unsigned), 'SIGNATURE_MISSING', false);
    const ok = await download({ ...unsigned, requireSignature: false });
    assert.equal(ok.sha256, SHA);
  });

  it('stops an endless body at maxBytes and an oversized Content-Length before reading it', async () => {
    const endless = await serve((_req, res) => {
      res.writeHead(200, { etag: '"e"' });
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = () => {
        while (res.write(chunk)) {}
        res.once('drain', pump);
      };
      pump();
    });
    const o = base(endless, { maxBytes: 1_000_000 });
    await rejectsWith(download(o), 'TOO_LARGE', false);
    assert.equal(existsSync(`${o.dest}.part`), false);
    const declared = await serve(rangeServer(() => ({ bytes: body, etag: '"v1"' })));
    await rejectsWith(download(base(declared, { maxBytes: 1000 })), 'TOO_LARGE', false);
    await rejectsWith(download(base(declared, { expectedSize: 1000 })), 'TOO_LARGE', false);
    await rejectsWith(download(base(declared, { expectedSize: body.length + 1 })), 'SIZE_MISMATCH', false);
  });

  it('fails a slow drip with TOO_SLOW and a stalled server with DEADLINE, keeping the part', async () => {
    const drip = await serve((_req, res) => {
      res.writeHead(200, { etag: '"d"', 'content-length': body.length });
      let i = 0;
      const t = setInterval(() => {
        if (res.destroyed) return clearInterval(t);
        res.write(body.subarray(i, i + 10));
        i += 10;
      }, 20);
      res.on('close', () => clearInterval(t));
    });
    const o = base(drip, { minBytesPerSecond: 10_000, windowMs: 300 });
    const started = Date.now();
    await rejectsWith(download(o), 'TOO_SLOW', true);
    assert.ok(Date.now() - started < 2000);
    assert.ok(existsSync(`${o.dest}.part`));
    const stall = await serve(() => {});
    await rejectsWith(download(base(stall, { deadlineMs: 300 })), 'DEADLINE', true);
    const aborted = new AbortController();
    setTimeout(() => aborted.abort(), 100);
    await rejectsWith(download(base(stall, { signal: aborted.signal })), 'ABORTED', true);
  });

  it('throttles: ms per 4 KiB, without counting its own pauses as a slow server', async () => {
    const url = await serve(rangeServer(() => ({ bytes: body, etag: '"v1"' })));
    const started = Date.now();
    // 300 000 bytes = 73 blocks of 4 KiB; 5 ms each ≈ 366 ms
    await download(base(url, { throttleMs: 5, minBytesPerSecond: 1_000_000, windowMs: 100 }));
    const took = Date.now() - started;
    assert.ok(took >= 300, `took ${took} ms`);
    assert.ok(took < 3000, `took ${took} ms`);
  });

  it('streams a body larger than the write queue (socket paused and resumed) intact', async () => {
    const big = Buffer.alloc(9 * 1024 * 1024 + 123);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i, i);
    const url = await serve(rangeServer(() => ({ bytes: big, etag: '"big"' })));
    const expected = sha(big);
    const o = base(url, { expectedSha256: expected, expectedSize: big.length, requireSignature: false });
    const { signature: _s, ...unsigned } = o;
    const r = await download(unsigned);
    assert.equal(r.sha256, expected);
    assert.ok(readFileSync(o.dest).equals(big));
  });

  it('reports HTTP errors with their status', async () => {
    const url = await serve((_req, res) => res.writeHead(403).end('no'));
    const e = await rejectsWith(download(base(url)), 'HTTP_ERROR', false);
    assert.equal(e.fields.httpStatus, 403);
  });
});
