import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { describeBlobStoreContract } from './blob-store.contract.js';
import { BlobTooLargeError } from './blob-store.js';
import { FsBlobStore } from './fs-blob-store.js';
import { S3BlobStore } from './s3-blob-store.js';

function filesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(root, join(d.parentPath, d.name)));
}

describeBlobStoreContract('file system', async () => {
  const root = mkdtempSync(join(tmpdir(), 'otter-blobs-'));
  return {
    store: new FsBlobStore(root),
    cleanup: async () => rmSync(root, { recursive: true, force: true }),
    listAll: async () => filesUnder(root),
  };
});

/** An in-process s3rver on a free port with a fresh bucket; S3 clients configured for it. */
async function startS3rver() {
  const directory = mkdtempSync(join(tmpdir(), 'otter-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true });
  const { port } = await server.run();
  const client: S3ClientConfig = {
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  };
  const admin = new S3Client(client);
  let buckets = 0;
  return {
    client,
    async newBucket(): Promise<string> {
      const bucket = `otter-test-${++buckets}`;
      await admin.send(new CreateBucketCommand({ Bucket: bucket }));
      return bucket;
    },
    async listAll(bucket: string): Promise<string[]> {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page: ListObjectsV2CommandOutput = await admin.send(
          new ListObjectsV2Command({ Bucket: bucket, ...(token ? { ContinuationToken: token } : {}) }),
        );
        for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
        token = page.NextContinuationToken;
      } while (token);
      return keys;
    },
    async stop() {
      admin.destroy();
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

let s3: Awaited<ReturnType<typeof startS3rver>>;
before(async () => {
  s3 = await startS3rver();
});
after(async () => {
  await s3.stop();
});

describeBlobStoreContract('S3 (s3rver)', async () => {
  const bucket = await s3.newBucket();
  return {
    store: new S3BlobStore({ bucket, prefix: 'otter/artifacts', client: s3.client }),
    cleanup: async () => {},
    listAll: () => s3.listAll(bucket),
  };
});

describe('S3BlobStore specifics (s3rver)', () => {
  test('keys are <prefix>blobs/<sha256>; temporary uploads are gone', async () => {
    const bucket = await s3.newBucket();
    const store = new S3BlobStore({ bucket, prefix: '/tenant-a', client: s3.client });
    try {
      assert.equal(store.prefix, 'tenant-a/');
      const { sha256 } = await store.put(Readable.from([Buffer.from('x')]), { maxBytes: 10 });
      assert.deepEqual(await s3.listAll(bucket), [`tenant-a/blobs/${sha256}`]);
    } finally {
      await store.close();
    }
  });

  test('a failed server-side copy (UploadPartCopy above the single-copy limit) stores nothing', async () => {
    // s3rver answers NotImplemented to UploadPartCopy: this pins down the clean-up path only.
    const bucket = await s3.newBucket();
    const store = new S3BlobStore({
      bucket,
      client: s3.client,
      maxSingleCopyBytes: 1024,
      copyPartBytes: 5 * 1024 * 1024,
    });
    try {
      await assert.rejects(
        store.put(Readable.from([Buffer.alloc(4096, 1)]), { maxBytes: 1 << 20 }),
        (e: Error) => {
          assert.match(e.name, /NotImplemented/);
          return true;
        },
      );
      assert.deepEqual(await s3.listAll(bucket), []);
    } finally {
      await store.close();
    }
  });

  test('a failure after parts were uploaded (multipart in flight) rejects with its cause, stores nothing', async () => {
    const bucket = await s3.newBucket();
    const store = new S3BlobStore({ bucket, client: s3.client, partSize: 5 * 1024 * 1024, queueSize: 1 });
    const part = Buffer.alloc(1024 * 1024, 7);
    try {
      const boom = new Error('source failed after 12 MiB');
      const failing = Readable.from(
        (async function* () {
          for (let i = 0; i < 12; i++) yield part;
          throw boom;
        })(),
      );
      await assert.rejects(store.put(failing, { maxBytes: 1 << 30 }), (e) => e === boom);
      const tooLarge = Readable.from(
        (function* () {
          for (let i = 0; i < 64; i++) yield part;
        })(),
      );
      await assert.rejects(store.put(tooLarge, { maxBytes: 12 * 1024 * 1024 }), BlobTooLargeError);
      assert.deepEqual(await s3.listAll(bucket), []);
    } finally {
      await store.close();
    }
  });

  test('read with a malformed range is a RangeError before any request', async () => {
    const bucket = await s3.newBucket();
    const store = new S3BlobStore({ bucket, client: s3.client });
    try {
      const { sha256 } = await store.put(Readable.from([Buffer.from('abc')]), { maxBytes: 10 });
      await assert.rejects(store.read(sha256, { start: 2, end: 1 }), RangeError);
      await assert.rejects(store.read(sha256, { start: -1, end: 1 }), RangeError);
    } finally {
      await store.close();
    }
  });
});
