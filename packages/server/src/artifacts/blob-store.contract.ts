/**
 * One contract for every BlobStore backend (see blob-store.test.ts): what `put`, `stat`, `read`,
 * `delete` and the optional `localPath` / `presignGet` promise, including that a failed put leaves
 * nothing behind.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  BlobNotFoundError,
  type BlobStore,
  BlobTooLargeError,
  DigestMismatchError,
  TruncatedBlobError,
} from './blob-store.js';

export interface BlobStoreFixture {
  store: BlobStore;
  cleanup(): Promise<void>;
  /**
   * Everything the backend holds (files under the root, object keys in the bucket), so the suite
   * can check that failed puts leave no temporary objects and that dedup stores one copy.
   */
  listAll?(): Promise<string[]>;
}

const MiB = 1024 * 1024;
const LIMIT = 64 * MiB;
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const sha256Of = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** Deterministic pseudo-random bytes, different per seed. */
function pattern(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed * 2654435761 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

const bodyOf = (data: Buffer) => Readable.from([data]);

/** A body of `count` chunks of `chunkSize` bytes, counting how many chunks were pulled. */
function chunked(count: number, chunkSize: number, seed: number) {
  const chunk = pattern(chunkSize, seed);
  const state = { pulled: 0 };
  const body = Readable.from(
    (function* () {
      for (let i = 0; i < count; i++) {
        state.pulled++;
        yield chunk;
      }
    })(),
    { objectMode: false, highWaterMark: chunkSize },
  );
  return { body, state };
}

const isError =
  <T extends Error>(type: new (...args: never[]) => T, check?: (e: T) => void) =>
  (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${String(e)}`);
    check?.(e);
    return true;
  };

export function describeBlobStoreContract(name: string, make: () => Promise<BlobStoreFixture>): void {
  describe(`blob store contract: ${name}`, () => {
    let fx: BlobStoreFixture;
    let store: BlobStore;
    before(async () => {
      fx = await make();
      store = fx.store;
    });
    after(async () => {
      await fx.store.close();
      await fx.cleanup();
    });

    const listing = async () => (fx.listAll ? (await fx.listAll()).sort() : undefined);

    /** Runs a put that must fail, and checks that neither the blob nor a temporary file stays. */
    async function failsLeavingNothing(
      put: () => Promise<unknown>,
      expected: (e: unknown) => boolean,
      sha256?: string,
    ) {
      const beforeKeys = await listing();
      await assert.rejects(put(), expected);
      if (sha256 !== undefined) assert.equal(await store.stat(sha256), undefined);
      assert.deepEqual(await listing(), beforeKeys, 'a failed put left something behind');
    }

    test('put, stat and read round trip', async () => {
      const data = Buffer.from('hello, otter\n');
      const sha256 = sha256Of(data);
      const res = await store.put(bodyOf(data), { maxBytes: LIMIT });
      assert.deepEqual(res, { sha256, size: data.length, created: true });
      assert.deepEqual(await store.stat(sha256), { sha256, size: data.length });
      assert.deepEqual(await bytesOf(await store.read(sha256)), data);
      const checked = await store.put(bodyOf(data), {
        maxBytes: LIMIT,
        expectedSha256: sha256.toUpperCase(),
        expectedSize: data.length,
      });
      assert.equal(checked.sha256, sha256);
    });

    test('equal content is stored once (created: false the second time)', async () => {
      const data = pattern(1000, 1);
      const first = await store.put(bodyOf(data), { maxBytes: LIMIT });
      assert.equal(first.created, true);
      const afterFirst = await listing();
      const second = await store.put(bodyOf(data), { maxBytes: LIMIT });
      assert.deepEqual(second, { ...first, created: false });
      assert.deepEqual(await listing(), afterFirst);
    });

    test('ranges: first byte, last byte, middle, whole', async () => {
      const data = pattern(1000, 2);
      const { sha256 } = await store.put(bodyOf(data), { maxBytes: LIMIT });
      const range = async (start: number, end: number) => bytesOf(await store.read(sha256, { start, end }));
      assert.deepEqual(await range(0, 0), data.subarray(0, 1));
      assert.deepEqual(await range(999, 999), data.subarray(999));
      assert.deepEqual(await range(100, 199), data.subarray(100, 200));
      assert.deepEqual(await range(0, 999), data);
    });

    test('more than maxBytes fails mid-stream with BlobTooLargeError and stores nothing', async () => {
      const { body, state } = chunked(1024, 64 * 1024, 3); // 64 MiB offered, 1 MiB allowed
      await failsLeavingNothing(
        () => store.put(body, { maxBytes: MiB }),
        isError(BlobTooLargeError, (e) => assert.equal(e.maxBytes, MiB)),
      );
      assert.ok(state.pulled < 512, `read ${state.pulled} of 1024 chunks after the limit was crossed`);
      const exact = pattern(MiB, 3);
      const fits = await store.put(bodyOf(exact), { maxBytes: MiB });
      assert.equal(fits.size, MiB);
    });

    test('expectedSize: shorter → TruncatedBlobError, longer → BlobTooLargeError, nothing stored', async () => {
      const data = pattern(100, 4);
      await failsLeavingNothing(
        () => store.put(bodyOf(data), { maxBytes: LIMIT, expectedSize: 200 }),
        isError(TruncatedBlobError, (e) => assert.deepEqual([e.expected, e.received], [200, 100])),
        sha256Of(data),
      );
      await failsLeavingNothing(
        () => store.put(bodyOf(data), { maxBytes: LIMIT, expectedSize: 50 }),
        isError(BlobTooLargeError),
        sha256Of(data),
      );
    });

    test('expectedSha256 wrong → DigestMismatchError, nothing stored', async () => {
      const data = pattern(5000, 5);
      const actual = sha256Of(data);
      const wrong = sha256Of(Buffer.from('something else'));
      await failsLeavingNothing(
        () => store.put(bodyOf(data), { maxBytes: LIMIT, expectedSha256: wrong }),
        isError(DigestMismatchError, (e) => assert.deepEqual([e.expected, e.actual], [wrong, actual])),
        actual,
      );
    });

    test('a source stream that fails mid-way rejects the put and stores nothing', async () => {
      const boom = new Error('source failed');
      const body = Readable.from(
        (async function* () {
          yield pattern(300 * 1024, 6);
          yield pattern(300 * 1024, 7);
          throw boom;
        })(),
      );
      await failsLeavingNothing(
        () => store.put(body, { maxBytes: LIMIT }),
        (e) => e === boom,
      );
    });

    test('read of a missing or malformed SHA-256 → BlobNotFoundError; stat → undefined', async () => {
      const missing = sha256Of(Buffer.from('never stored'));
      await assert.rejects(store.read(missing), isError(BlobNotFoundError));
      await assert.rejects(store.read(missing, { start: 0, end: 0 }), isError(BlobNotFoundError));
      assert.equal(await store.stat(missing), undefined);
      for (const bad of ['../../etc/passwd', 'ABC', `${missing}/x`, missing.toUpperCase()]) {
        await assert.rejects(store.read(bad), isError(BlobNotFoundError), bad);
        assert.equal(await store.stat(bad), undefined, bad);
      }
    });

    test('delete removes the blob and is idempotent', async () => {
      const data = pattern(777, 8);
      const { sha256 } = await store.put(bodyOf(data), { maxBytes: LIMIT });
      await store.delete(sha256);
      assert.equal(await store.stat(sha256), undefined);
      await assert.rejects(store.read(sha256), isError(BlobNotFoundError));
      await store.delete(sha256);
      await store.delete('not-a-sha');
      const again = await store.put(bodyOf(data), { maxBytes: LIMIT });
      assert.equal(again.created, true);
    });

    test('a 0-byte blob', async () => {
      const res = await store.put(Readable.from([]), { maxBytes: LIMIT, expectedSize: 0 });
      assert.deepEqual(res.sha256, EMPTY_SHA256);
      assert.equal(res.size, 0);
      assert.deepEqual(await store.stat(EMPTY_SHA256), { sha256: EMPTY_SHA256, size: 0 });
      assert.equal((await bytesOf(await store.read(EMPTY_SHA256))).length, 0);
    });

    test('a 12 MiB blob streamed from a generator (crosses the multipart part size)', async () => {
      const chunkSize = 256 * 1024;
      const count = 48;
      const hash = createHash('sha256');
      const chunks = Array.from({ length: count }, (_, i) => pattern(chunkSize, 100 + i));
      for (const c of chunks) hash.update(c);
      const sha256 = hash.digest('hex');
      const body = Readable.from(
        (function* () {
          yield* chunks;
        })(),
      );
      const res = await store.put(body, { maxBytes: LIMIT, expectedSize: 12 * MiB, expectedSha256: sha256 });
      assert.deepEqual(res, { sha256, size: 12 * MiB, created: true });
      const readBack = createHash('sha256');
      let size = 0;
      for await (const chunk of await store.read(sha256)) {
        readBack.update(chunk as Uint8Array);
        size += (chunk as Uint8Array).length;
      }
      assert.equal(size, 12 * MiB);
      assert.equal(readBack.digest('hex'), sha256);
      const tail = await bytesOf(await store.read(sha256, { start: 12 * MiB - 10, end: 12 * MiB - 1 }));
      assert.deepEqual(tail, chunks[count - 1]?.subarray(chunkSize - 10));
    });

    test('concurrent puts of the same content both succeed and store one copy', async () => {
      const data = pattern(2 * MiB, 9);
      const sha256 = sha256Of(data);
      const beforeKeys = await listing();
      const results = await Promise.all([
        store.put(bodyOf(data), { maxBytes: LIMIT }),
        store.put(bodyOf(data), { maxBytes: LIMIT }),
        store.put(bodyOf(data), { maxBytes: LIMIT }),
      ]);
      for (const r of results) assert.deepEqual([r.sha256, r.size], [sha256, data.length]);
      assert.ok(results.some((r) => r.created));
      assert.deepEqual(await bytesOf(await store.read(sha256)), data);
      if (beforeKeys !== undefined) assert.equal((await listing())?.length, beforeKeys.length + 1);
    });

    test('localPath / presignGet, when the backend offers them, give the blob', async (t) => {
      const data = pattern(4096, 10);
      const { sha256 } = await store.put(bodyOf(data), { maxBytes: LIMIT });
      if (!store.localPath && !store.presignGet) t.skip('backend offers neither');
      if (store.localPath) assert.deepEqual(readFileSync(store.localPath(sha256)), data);
      if (store.presignGet) {
        const url = await store.presignGet(sha256, 300, 'firmware/board v2 "ü".bin');
        const res = await fetch(url);
        assert.equal(res.status, 200);
        assert.deepEqual(Buffer.from(await res.arrayBuffer()), data);
        const disposition = res.headers.get('content-disposition') ?? '';
        assert.match(disposition, /^attachment; filename="board v2 _\S*_\.bin"/);
        assert.match(disposition, /filename\*=UTF-8''board%20v2%20%22%C3%BC%22\.bin$/);
        const ranged = await fetch(url, { headers: { range: 'bytes=10-19' } });
        assert.equal(ranged.status, 206);
        assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), data.subarray(10, 20));
      }
    });
  });
}
