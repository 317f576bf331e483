/**
 * The native artifact API over real HTTP against a real server (SQLite, and PostgreSQL when
 * OTTER_TEST_DATABASE_URL is set), requests signed with the AWS SDK's own SigV4 signer.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Sha256 } from '@aws-crypto/sha256-js';
import { ManualClock } from '@otter/core';
import { SignatureV4 } from '@smithy/signature-v4';
import type { ServerConfig } from '../config.js';
import { FREE_PORTS, type RunningServer, startServer } from '../main.js';
import { BACKENDS, freshPostgresDatabase, TEST_DATABASE_URL } from '../testing/test-server.js';

const MiB = 1024 * 1024;
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

interface Harness {
  server: RunningServer;
  clock: ManualClock;
  dataDir: string;
  close(): Promise<void>;
}

async function startArtifactServer(backend: string, overrides: Partial<ServerConfig> = {}): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'otter-artifacts-'));
  const database = backend === 'postgres' ? await freshPostgresDatabase(TEST_DATABASE_URL!) : undefined;
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 12, 0, 0));
  const server = await startServer({
    env: {},
    logger: false,
    clock,
    overrides: {
      ...FREE_PORTS,
      dataDir,
      accessKeyId: 'AKIAOTTERTEST0000001',
      secretAccessKey: 'otter-test-secret-key',
      maxArtifactBytes: MiB,
      ...(database ? { databaseUrl: database.url } : {}),
      ...overrides,
    },
  });
  return {
    server,
    clock,
    dataDir,
    close: async () => {
      await server.close();
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json(): Record<string, unknown>;
}

interface RequestOptions {
  method?: string;
  /** Raw path as sent on the wire (may hold a query string). */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Sign with SigV4 (service `otter`); the default. */
  sign?: boolean;
  /** Body arrives in chunks without Content-Length. */
  chunked?: boolean;
}

/** One HTTP request with node:http, signed like an AWS SDK client unless `sign: false`. */
async function send(h: Harness, opts: RequestOptions): Promise<Response> {
  const url = new URL(h.server.url);
  const method = opts.method ?? 'GET';
  const body = typeof opts.body === 'string' ? Buffer.from(opts.body) : opts.body;
  let headers: Record<string, string> = { host: url.host, ...opts.headers };
  if (opts.sign !== false) {
    const signer = new SignatureV4({
      service: 'otter',
      region: 'us-east-1',
      sha256: Sha256,
      credentials: { accessKeyId: h.server.accessKeyId, secretAccessKey: h.server.secretAccessKey },
    });
    const [path = '', queryText = ''] = opts.path.split('?');
    const query = Object.fromEntries(new URLSearchParams(queryText));
    if (method === 'PUT' && !Object.keys(headers).some((k) => k.toLowerCase() === 'x-amz-content-sha256')) {
      headers['x-amz-content-sha256'] = sha256(body ?? '');
    }
    const signed = await signer.sign(
      {
        method,
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path,
        query,
        headers,
        body,
      },
      { signingDate: new Date(h.clock.now()) },
    );
    headers = signed.headers;
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method, path: opts.path, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const all = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: all,
            json: () => JSON.parse(all.toString('utf8')) as Record<string, unknown>,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (body !== undefined && opts.chunked) {
      for (let i = 0; i < body.length; i += 64 * 1024) req.write(body.subarray(i, i + 64 * 1024));
      req.end();
    } else {
      req.end(body);
    }
  });
}

const put = (h: Harness, name: string, body: Buffer | string, headers: Record<string, string> = {}) =>
  send(h, { method: 'PUT', path: `/v1/artifacts/${name}`, body, headers });

function assertError(res: Response, status: number, type: string, message?: RegExp) {
  assert.equal(res.status, status, res.body.toString());
  assert.equal(res.headers['x-amzn-errortype'], type, res.body.toString());
  assert.equal(res.json().__type, type);
  if (message) assert.match(String(res.json().message), message);
}

/** Every file under a folder (recursively). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}
const blobFiles = (h: Harness) => filesUnder(join(h.dataDir, 'artifacts', 'blobs'));
const tmpFiles = (h: Harness) => filesUnder(join(h.dataDir, 'artifacts', 'tmp'));

async function names(h: Harness): Promise<string[]> {
  const res = await send(h, { path: '/v1/artifacts' });
  assert.equal(res.status, 200);
  return (res.json().artifacts as { name: string }[]).map((a) => a.name);
}

const waitFor = async (check: () => boolean | Promise<boolean>, ms = 2000) => {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
};

for (const backend of BACKENDS) {
  describe(`artifact API round trip on ${backend.name}`, { skip: backend.skip }, () => {
    let h: Harness;
    before(async () => {
      h = await startArtifactServer(backend.name);
    });
    after(() => h.close());

    test('upload, download, HEAD, list, delete', async () => {
      const content = Buffer.alloc(300_000, 'otter firmware ');
      const created = await put(h, 'fw/v1.0/image.bin', content, {
        'content-type': 'application/x-firmware',
      });
      assert.equal(created.status, 201, created.body.toString());
      const info = created.json();
      assert.equal(info.name, 'fw/v1.0/image.bin');
      assert.equal(info.sha256, sha256(content));
      assert.equal(info.size, content.length);
      assert.equal(info.contentType, 'application/x-firmware');
      assert.equal(info.createdAt, h.clock.now() / 1000);
      assert.equal(info.etag, `"${sha256(content)}"`);
      assert.equal(info.bucket, 'otter', 'the bucket package versions name the artifact with');

      const got = await send(h, { path: '/v1/artifacts/fw/v1.0/image.bin' });
      assert.equal(got.status, 200);
      assert.equal(got.headers['x-otter-bucket'], 'otter');
      assert.ok(got.body.equals(content));
      assert.equal(got.headers.etag, `"${sha256(content)}"`);
      assert.equal(got.headers['x-otter-sha256'], sha256(content));
      assert.equal(got.headers['accept-ranges'], 'bytes');
      assert.equal(got.headers['content-type'], 'application/x-firmware');
      assert.equal(got.headers['content-length'], String(content.length));
      assert.equal(got.headers['last-modified'], new Date(h.clock.now()).toUTCString());

      const head = await send(h, { method: 'HEAD', path: '/v1/artifacts/fw/v1.0/image.bin' });
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
      assert.equal(head.headers['content-length'], String(content.length));
      assert.equal(head.headers.etag, `"${sha256(content)}"`);

      const plain = await put(h, 'fw/notes.txt', 'hello');
      assert.equal(plain.json().contentType, 'application/octet-stream');
      await put(h, 'other/x', 'x');
      const listed = await send(h, { path: '/v1/artifacts?prefix=fw%2F&maxResults=1' });
      assert.deepEqual(
        (listed.json().artifacts as { name: string }[]).map((a) => a.name),
        ['fw/notes.txt'],
      );
      const next = await send(h, {
        path: `/v1/artifacts?prefix=fw%2F&maxResults=1&nextToken=${listed.json().nextToken}`,
      });
      assert.deepEqual(
        (next.json().artifacts as { name: string }[]).map((a) => a.name),
        ['fw/v1.0/image.bin'],
      );
      assert.equal(next.json().nextToken, undefined);
      assertError(await send(h, { path: '/v1/artifacts?maxResults=0' }), 400, 'InvalidRequestException');

      const deleted = await send(h, { method: 'DELETE', path: '/v1/artifacts/fw/v1.0/image.bin' });
      assert.equal(deleted.status, 204);
      assertError(
        await send(h, { path: '/v1/artifacts/fw/v1.0/image.bin' }),
        404,
        'ResourceNotFoundException',
      );
      assertError(
        await send(h, { method: 'DELETE', path: '/v1/artifacts/fw/v1.0/image.bin' }),
        404,
        'ResourceNotFoundException',
      );
    });

    test('an empty artifact', async () => {
      assert.equal((await put(h, 'empty', '')).status, 201);
      const got = await send(h, { path: '/v1/artifacts/empty' });
      assert.equal(got.status, 200);
      assert.equal(got.body.length, 0);
      assertError(
        await send(h, { path: '/v1/artifacts/empty', headers: { range: 'bytes=0-' } }),
        416,
        'RangeNotSatisfiableException',
      );
    });
  });
}

describe('artifact API', () => {
  let h: Harness;
  before(async () => {
    h = await startArtifactServer('sqlite', { publicUrl: 'https://ota.example.com/' });
  });
  after(() => h.close());

  test('201 on create, 200 on the same content again, 409 on different content', async () => {
    assert.equal((await put(h, 'idem/a', 'one')).status, 201);
    const again = await put(h, 'idem/a', 'one');
    assert.equal(again.status, 200);
    assert.equal(again.json().sha256, sha256('one'));
    assertError(await put(h, 'idem/a', 'two'), 409, 'ResourceAlreadyExistsException', /immutable/);
    // Known different content is refused before the body is read, unknown content after: either
    // way the name keeps its content and the other blob is not kept.
    assertError(
      await put(h, 'idem/a', 'three', { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }),
      409,
      'ResourceAlreadyExistsException',
    );
    assert.equal((await send(h, { path: '/v1/artifacts/idem/a' })).body.toString(), 'one');
    assert.ok(!blobFiles(h).some((f) => f.endsWith(sha256('two')) || f.endsWith(sha256('three'))));
  });

  test('two names with equal content share one blob, deleted with the last name', async () => {
    const content = Buffer.from('shared content');
    const before = blobFiles(h).length;
    assert.equal((await put(h, 'dedup/one', content)).status, 201);
    assert.equal((await put(h, 'dedup/two', content)).status, 201);
    assert.equal(blobFiles(h).length, before + 1);
    assert.equal((await send(h, { method: 'DELETE', path: '/v1/artifacts/dedup/one' })).status, 204);
    assert.equal(blobFiles(h).length, before + 1);
    assert.ok((await send(h, { path: '/v1/artifacts/dedup/two' })).body.equals(content));
    assert.equal((await send(h, { method: 'DELETE', path: '/v1/artifacts/dedup/two' })).status, 204);
    assert.equal(blobFiles(h).length, before);
  });

  test('path traversal and malformed names are InvalidRequestException and store nothing', async () => {
    const before = await names(h);
    const blobsBefore = blobFiles(h).length;
    for (const raw of [
      '%2e%2e/evil',
      '..%2fevil',
      '..%2Fevil',
      'a/%2e%2e/%2e%2e/evil',
      'a%2f..%2f..%2fevil',
      '%2E/evil',
      'a/./b',
      'a//b',
      'a/',
      '%2fabs',
      'a%5cb',
      'sp%20ace',
      'bad%ZZ',
      'nul%00',
      'x'.repeat(1025),
    ]) {
      const res = await send(h, { method: 'PUT', path: `/v1/artifacts/${raw}`, body: 'evil' });
      assertError(res, 400, 'InvalidRequestException');
      assertError(await send(h, { path: `/v1/artifacts/${raw}` }), 400, 'InvalidRequestException');
    }
    assert.equal((await put(h, 'x'.repeat(1024), 'long is fine')).status, 201);
    assert.equal(
      (await send(h, { method: 'DELETE', path: `/v1/artifacts/${'x'.repeat(1024)}` })).status,
      204,
    );
    assert.deepEqual(await names(h), before);
    assert.equal(blobFiles(h).length, blobsBefore);
  });

  test('over the limit: by Content-Length before reading, and by streamed size when chunked', async () => {
    const before = await names(h);
    const blobsBefore = blobFiles(h).length;
    // Only the headers are sent: the 413 must come without the body.
    const early = await new Promise<number>((resolve, reject) => {
      const url = new URL(h.server.url);
      const req = http.request({
        host: url.hostname,
        port: url.port,
        method: 'PUT',
        path: '/v1/artifacts/big/declared',
        headers: { 'content-length': String(10 * 1024 * MiB), 'x-otter-sha256': 'a'.repeat(64) },
      });
      req.on('response', (res) => {
        res.resume();
        req.destroy();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    // Unsigned: 403 comes first. Signed is checked below.
    assert.equal(early, 403);
    const signedEarly = await send(h, {
      method: 'PUT',
      path: '/v1/artifacts/big/declared',
      body: Buffer.alloc(MiB + 1),
    });
    assertError(signedEarly, 413, 'RequestEntityTooLargeException');
    const chunked = await send(h, {
      method: 'PUT',
      path: '/v1/artifacts/big/chunked',
      body: Buffer.alloc(MiB + 200_000, 7),
      chunked: true,
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    assertError(chunked, 413, 'RequestEntityTooLargeException');
    const exact = await send(h, {
      method: 'PUT',
      path: '/v1/artifacts/big/exact',
      body: Buffer.alloc(MiB, 1),
      chunked: true,
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    assert.equal(exact.status, 201);
    assert.equal((await send(h, { method: 'DELETE', path: '/v1/artifacts/big/exact' })).status, 204);
    assert.deepEqual(await names(h), before);
    assert.equal(blobFiles(h).length, blobsBefore);
    assert.deepEqual(tmpFiles(h), []);
  });

  test('content that does not match the declared SHA-256 is DigestMismatchException', async () => {
    const before = blobFiles(h).length;
    assertError(
      await put(h, 'digest/signed', 'actual bytes', { 'x-amz-content-sha256': sha256('other bytes') }),
      400,
      'DigestMismatchException',
    );
    assertError(
      await put(h, 'digest/otter', 'actual bytes', {
        'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
        'x-otter-sha256': sha256('other bytes'),
      }),
      400,
      'DigestMismatchException',
    );
    assertError(
      await put(h, 'digest/bad', 'x', { 'x-otter-sha256': 'not-a-digest' }),
      400,
      'InvalidRequestException',
    );
    const ok = await put(h, 'digest/ok', 'actual bytes', {
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      'x-otter-sha256': sha256('actual bytes').toUpperCase(),
    });
    assert.equal(ok.status, 201);
    assertError(await send(h, { path: '/v1/artifacts/digest/signed' }), 404, 'ResourceNotFoundException');
    assert.equal(blobFiles(h).length, before + 1);
    assert.deepEqual(tmpFiles(h), []);
  });

  test('a client that aborts mid-upload leaves no temporary file and no name', async () => {
    const url = new URL(h.server.url);
    const headers = (
      await new SignatureV4({
        service: 'otter',
        region: 'us-east-1',
        sha256: Sha256,
        credentials: { accessKeyId: h.server.accessKeyId, secretAccessKey: h.server.secretAccessKey },
      }).sign(
        {
          method: 'PUT',
          protocol: 'http:',
          hostname: url.hostname,
          port: Number(url.port),
          path: '/v1/artifacts/aborted',
          query: {},
          headers: {
            host: url.host,
            'content-length': String(512 * 1024),
            'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
          },
        },
        { signingDate: new Date(h.clock.now()) },
      )
    ).headers;
    const req = http.request({
      host: url.hostname,
      port: url.port,
      method: 'PUT',
      path: '/v1/artifacts/aborted',
      headers,
    });
    req.on('error', () => {});
    req.write(Buffer.alloc(100_000, 1));
    await waitFor(() => tmpFiles(h).length === 1);
    req.destroy();
    await waitFor(() => tmpFiles(h).length === 0);
    assertError(await send(h, { path: '/v1/artifacts/aborted' }), 404, 'ResourceNotFoundException');
  });

  describe('ranges and conditions', () => {
    const content = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
    const etag = `"${sha256(content)}"`;
    const get = (headers: Record<string, string>, method = 'GET') =>
      send(h, { method, path: '/v1/artifacts/range/file', headers });
    before(async () => {
      assert.equal((await put(h, 'range/file', content)).status, 201);
    });

    test('single ranges: a-b, a-, -n, clamped end', async () => {
      for (const [range, start, end] of [
        ['bytes=0-9', 0, 9],
        ['bytes=10-', 10, 35],
        ['bytes=-5', 31, 35],
        ['bytes=30-1000', 30, 35],
        ['bytes=-1000', 0, 35],
        ['bytes=35-35', 35, 35],
      ] as const) {
        const res = await get({ range });
        assert.equal(res.status, 206, range);
        assert.equal(res.headers['content-range'], `bytes ${start}-${end}/36`);
        assert.equal(res.headers['content-length'], String(end - start + 1));
        assert.deepEqual(res.body, content.subarray(start, end + 1));
        assert.equal(res.headers.etag, etag);
      }
      const head = await get({ range: 'bytes=0-9' }, 'HEAD');
      assert.equal(head.status, 206);
      assert.equal(head.headers['content-length'], '10');
      assert.equal(head.body.length, 0);
    });

    test('unsatisfiable ranges are 416 with Content-Range bytes */size', async () => {
      for (const range of ['bytes=36-', 'bytes=100-200', 'bytes=-0']) {
        const res = await get({ range });
        assertError(res, 416, 'RangeNotSatisfiableException');
        assert.equal(res.headers['content-range'], 'bytes */36');
      }
    });

    test('several ranges, and ranges that do not parse, get the full body', async () => {
      for (const range of ['bytes=0-1,5-6', 'bytes=5-2', 'items=0-1', 'bytes=abc']) {
        const res = await get({ range });
        assert.equal(res.status, 200, range);
        assert.deepEqual(res.body, content);
      }
    });

    test('If-Range with the ETag or a date not before Last-Modified honours Range', async () => {
      const lastModified = new Date(h.clock.now()).toUTCString();
      assert.equal((await get({ range: 'bytes=0-3', 'if-range': etag })).status, 206);
      assert.equal((await get({ range: 'bytes=0-3', 'if-range': lastModified })).status, 206);
      const stale = await get({ range: 'bytes=0-3', 'if-range': `"${'0'.repeat(64)}"` });
      assert.equal(stale.status, 200);
      assert.deepEqual(stale.body, content);
      const old = new Date(h.clock.now() - 3600_000).toUTCString();
      assert.equal((await get({ range: 'bytes=0-3', 'if-range': old })).status, 200);
      assert.equal((await get({ range: 'bytes=0-3', 'if-range': `W/${etag}` })).status, 200);
    });

    test('If-None-Match → 304, If-Match mismatch → 412', async () => {
      const notModified = await get({ 'if-none-match': `"other", ${etag}` });
      assert.equal(notModified.status, 304);
      assert.equal(notModified.headers.etag, etag);
      assert.equal(notModified.body.length, 0);
      assert.equal((await get({ 'if-none-match': '*' })).status, 304);
      assert.equal((await get({ 'if-none-match': '"other"' })).status, 200);
      assertError(await get({ 'if-match': '"other"' }), 412, 'PreconditionFailedException');
      assert.equal((await get({ 'if-match': etag })).status, 200);
      assert.equal((await get({ 'if-match': '*' })).status, 200);
    });
  });

  describe('presigned URLs', () => {
    const content = Buffer.from('device download');
    before(async () => {
      assert.equal((await put(h, 'presign/fw.bin', content)).status, 201);
    });
    const presign = (body: unknown) =>
      send(h, {
        method: 'POST',
        path: '/v1/presign',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
    /** The presigned URL's path and query, sent to this server. */
    const localPath = (url: string) => {
      const u = new URL(url);
      return `${u.pathname}${u.search}`;
    };

    test('work without credentials until they expire', async () => {
      const res = await presign({ name: 'presign/fw.bin', expiresInSec: 60 });
      assert.equal(res.status, 200, res.body.toString());
      const { url, expiresAt } = res.json() as { url: string; expiresAt: number };
      assert.equal(expiresAt, h.clock.now() / 1000 + 60);
      assert.match(
        url,
        /^https:\/\/ota\.example\.com\/v1\/artifacts\/presign\/fw\.bin\?X-Otter-Expires=\d+&X-Otter-Signature=[\w-]+$/,
      );
      const got = await send(h, { path: localPath(url), sign: false });
      assert.equal(got.status, 200);
      assert.deepEqual(got.body, content);
      const ranged = await send(h, { path: localPath(url), sign: false, headers: { range: 'bytes=0-5' } });
      assert.equal(ranged.status, 206);
      assert.equal((await send(h, { method: 'HEAD', path: localPath(url), sign: false })).status, 200);
      h.clock.advance(60_000);
      assert.equal((await send(h, { path: localPath(url), sign: false })).status, 200);
      h.clock.advance(1000);
      assertError(
        await send(h, { path: localPath(url), sign: false }),
        403,
        'AccessDeniedException',
        /Request has expired/,
      );
    });

    test('tampered signature, expiry or path are AccessDeniedException', async () => {
      const { url } = (await presign({ name: 'presign/fw.bin' })).json() as { url: string };
      const path = localPath(url);
      const expires = Number(/X-Otter-Expires=(\d+)/.exec(path)?.[1]);
      assert.equal(expires, h.clock.now() / 1000 + 1800);
      const signature = /X-Otter-Signature=([\w-]+)/.exec(path)?.[1] ?? '';
      const flipped = `${signature.slice(0, -1)}${signature.endsWith('A') ? 'B' : 'A'}`;
      assert.equal((await send(h, { path, sign: false })).status, 200);
      for (const bad of [
        path.replace(signature, flipped),
        path.replace(`X-Otter-Expires=${expires}`, `X-Otter-Expires=${expires + 1}`),
        path.replace('presign/fw.bin', 'range/file'),
        path.replace('presign/fw.bin', 'presign/missing'),
        path.replace(/&X-Otter-Signature=.*/, ''),
        path.replace(`X-Otter-Expires=${expires}`, 'X-Otter-Expires=soon'),
      ]) {
        assertError(await send(h, { path: bad, sign: false }), 403, 'AccessDeniedException');
      }
      // Presigned URLs are for reading only.
      assertError(
        await send(h, { method: 'DELETE', path, sign: false }),
        403,
        'MissingAuthenticationTokenException',
      );
    });

    test('replacing the content invalidates URLs issued for the old content', async () => {
      await put(h, 'presign/replaced', 'old');
      const { url } = (await presign({ name: 'presign/replaced' })).json() as { url: string };
      assert.equal((await send(h, { path: localPath(url), sign: false })).status, 200);
      await send(h, { method: 'DELETE', path: '/v1/artifacts/presign/replaced' });
      await put(h, 'presign/replaced', 'new');
      assertError(await send(h, { path: localPath(url), sign: false }), 403, 'AccessDeniedException');
    });

    test('expiresInSec from 60 to 3600; the name must exist', async () => {
      for (const expiresInSec of [59, 3601, 1.5, '600', -1]) {
        assertError(await presign({ name: 'presign/fw.bin', expiresInSec }), 400, 'InvalidRequestException');
      }
      assert.equal((await presign({ name: 'presign/fw.bin', expiresInSec: 3600 })).status, 200);
      assertError(await presign({ name: 'presign/none' }), 404, 'ResourceNotFoundException');
      assertError(await presign({ name: '../x' }), 400, 'InvalidRequestException');
      assertError(await presign([]), 400, 'InvalidRequestException');
      const notJson = await send(h, { method: 'POST', path: '/v1/presign', body: '{' });
      assertError(notJson, 400, 'InvalidRequestException');
    });

    test('the server function presignArtifactUrl issues the same URLs', async () => {
      const { url } = await h.server.artifacts.presignArtifactUrl('presign/fw.bin', 120);
      assert.deepEqual((await send(h, { path: localPath(url), sign: false })).body, content);
    });
  });

  test('unsigned or badly signed requests without a presigned URL are refused with 403', async () => {
    for (const [method, path, body] of [
      ['PUT', '/v1/artifacts/anon', 'x'],
      ['GET', '/v1/artifacts/range/file', undefined],
      ['HEAD', '/v1/artifacts/range/file', undefined],
      ['GET', '/v1/artifacts', undefined],
      ['DELETE', '/v1/artifacts/range/file', undefined],
      ['POST', '/v1/presign', '{"name":"range/file"}'],
    ] as const) {
      const res = await send(h, { method, path, sign: false, ...(body === undefined ? {} : { body }) });
      assert.equal(res.status, 403, `${method} ${path}`);
      if (method !== 'HEAD') assert.equal(res.json().__type, 'MissingAuthenticationTokenException');
    }
    const forged = await send(h, {
      path: '/v1/artifacts/range/file',
      sign: false,
      headers: {
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKIAOTTERTEST0000001/20260101/us-east-1/otter/aws4_request, SignedHeaders=host;x-amz-date, Signature=00',
        'x-amz-date': '20260101T120000Z',
      },
    });
    assertError(forged, 403, 'InvalidSignatureException');
    assert.ok(!(await names(h)).includes('anon'));
  });
});
