import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  S3Client,
  type S3ClientConfig,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  type BlobInfo,
  BlobMeter,
  BlobNotFoundError,
  type BlobStore,
  type ByteRange,
  type PutBlobOptions,
  type PutBlobResult,
  SHA256_HEX,
} from './blob-store.js';

const MiB = 1024 * 1024;
/** S3 refuses a single CopyObject of a source larger than 5 GiB. */
export const S3_MAX_SINGLE_COPY_BYTES = 5 * 1024 * MiB;

export interface S3BlobStoreOptions {
  bucket: string;
  /** Key prefix, e.g. `otter/` (a missing trailing slash is added). Default: none. */
  prefix?: string;
  /** Passed to `new S3Client` (endpoint, region, credentials, forcePathStyle, …). */
  client: S3ClientConfig;
  /** Multipart part size for uploads (≥ 5 MiB). Memory per put is about partSize × (queueSize + 1). */
  partSize?: number;
  /** Parts uploaded in parallel per put. */
  queueSize?: number;
  /** Blobs larger than this are copied into place with UploadPartCopy instead of CopyObject. */
  maxSingleCopyBytes?: number;
  /** Part size for UploadPartCopy (raised when 10,000 parts would not cover the blob). */
  copyPartBytes?: number;
}

const errorName = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null && 'name' in e ? String(e.name) : undefined;

const httpStatus = (e: unknown): number | undefined =>
  typeof e === 'object' && e !== null && '$metadata' in e
    ? (e.$metadata as { httpStatusCode?: number }).httpStatusCode
    : undefined;

const isNotFound = (e: unknown): boolean =>
  errorName(e) === 'NoSuchKey' || errorName(e) === 'NotFound' || httpStatus(e) === 404;

/** `attachment` with an ASCII fallback name and the exact name as RFC 5987 `filename*`. */
export function contentDisposition(fileName: string): string {
  const base = fileName.slice(fileName.lastIndexOf('/') + 1) || 'download';
  const ascii = base.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const encoded = encodeURIComponent(base).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** Skips `skip` bytes of `source`, then yields at most `take` bytes and stops reading. */
async function* slice(source: Readable, skip: number, take: number): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    let buf = chunk as Buffer;
    if (skip >= buf.length) {
      skip -= buf.length;
      continue;
    }
    buf = buf.subarray(skip, skip + take);
    skip = 0;
    take -= buf.length;
    yield buf;
    if (take === 0) return; // leaving the loop destroys the source
  }
}

/**
 * Blobs in an S3-compatible bucket under `<prefix>blobs/<sha256>`. A put streams through a
 * multipart upload (bounded memory) to `<prefix>uploads/<uuid>`, is verified, then copied into
 * place; the temporary object is always deleted, so a failed put never shows under `blobs/`.
 */
export class S3BlobStore implements BlobStore {
  readonly kind = 's3' as const;
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly maxSingleCopyBytes: number;
  private readonly copyPartBytes: number;

  constructor(opts: S3BlobStoreOptions) {
    this.bucket = opts.bucket;
    const prefix = (opts.prefix ?? '').replace(/^\/+/, '');
    this.prefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    this.client = new S3Client(opts.client);
    this.partSize = opts.partSize ?? 8 * MiB;
    this.queueSize = opts.queueSize ?? 4;
    this.maxSingleCopyBytes = opts.maxSingleCopyBytes ?? S3_MAX_SINGLE_COPY_BYTES;
    this.copyPartBytes = opts.copyPartBytes ?? 512 * MiB;
  }

  /** The object key of a blob. */
  blobKey(sha256: string): string {
    return `${this.prefix}blobs/${sha256}`;
  }

  async put(body: Readable, opts: PutBlobOptions): Promise<PutBlobResult> {
    const meter = new BlobMeter(opts);
    // Not stream.pipeline: that would destroy the caller's body (an HTTP request's socket) on
    // failure, before the caller can answer. The body is left to its owner.
    let streamError: unknown;
    const onSourceError = (err: Error) => meter.destroy(err);
    meter.on('error', (err) => {
      streamError ??= err;
      body.unpipe(meter);
    });
    body.on('error', onSourceError);
    body.pipe(meter);
    const tempKey = `${this.prefix}uploads/${randomUUID()}`;
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: tempKey,
        Body: meter,
        ContentType: 'application/octet-stream',
      },
      partSize: this.partSize,
      queueSize: this.queueSize,
    });
    try {
      try {
        await upload.done();
      } catch (e) {
        // The stream's own error (too large, source failed) explains more than the SDK's.
        throw streamError ?? e;
      }
      if (streamError !== undefined) throw streamError;
      const { sha256, size } = meter.result();
      const finalKey = this.blobKey(sha256);
      if (await this.exists(finalKey)) return { sha256, size, created: false };
      // Concurrent puts of the same content may both copy: the bytes are equal, so last wins.
      if (size > this.maxSingleCopyBytes) await this.copyInParts(tempKey, finalKey, size);
      else
        await this.client.send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: finalKey,
            CopySource: this.copySource(tempKey),
            ContentType: 'application/octet-stream',
            MetadataDirective: 'REPLACE',
          }),
        );
      return { sha256, size, created: true };
    } finally {
      body.off('error', onSourceError);
      body.unpipe(meter);
      meter.destroy();
      await this.deleteKey(tempKey).catch(() => {});
    }
  }

  async stat(sha256: string): Promise<BlobInfo | undefined> {
    if (!SHA256_HEX.test(sha256)) return undefined;
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.blobKey(sha256) }),
      );
      return { sha256, size: head.ContentLength ?? 0 };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async read(sha256: string, range?: ByteRange): Promise<Readable> {
    if (!SHA256_HEX.test(sha256)) throw new BlobNotFoundError(sha256);
    if (
      range !== undefined &&
      !(Number.isSafeInteger(range.start) && range.start >= 0 && range.end >= range.start)
    )
      throw new RangeError(`invalid byte range ${range.start}-${range.end}`);
    try {
      const res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.blobKey(sha256),
          ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
        }),
      );
      const stream = res.Body as Readable;
      if (range === undefined) return stream;
      // Some S3-compatible servers ignore a Range or answer a wider one (s3rver sends the whole
      // object for `bytes=0-0`): cut the answer down to what was asked for.
      const first = Number(/^bytes (\d+)-/.exec(res.ContentRange ?? '')?.[1] ?? 0);
      const want = range.end - range.start + 1;
      if (first === range.start && (res.ContentLength ?? 0) <= want) return stream;
      if (first > range.start) {
        stream.destroy();
        throw new Error(`object store answered range ${res.ContentRange} for ${range.start}-${range.end}`);
      }
      return Readable.from(slice(stream, range.start - first, want), { objectMode: false });
    } catch (e) {
      if (isNotFound(e)) throw new BlobNotFoundError(sha256);
      throw e;
    }
  }

  presignGet(sha256: string, expiresInSeconds: number, fileName?: string): Promise<string> {
    if (!SHA256_HEX.test(sha256)) return Promise.reject(new BlobNotFoundError(sha256));
    return getSignedUrl(
      this.client,
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: this.blobKey(sha256),
        ...(fileName === undefined ? {} : { ResponseContentDisposition: contentDisposition(fileName) }),
      }),
      { expiresIn: expiresInSeconds },
    );
  }

  async delete(sha256: string): Promise<void> {
    if (!SHA256_HEX.test(sha256)) return;
    await this.deleteKey(this.blobKey(sha256));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  private async deleteKey(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  private copySource(key: string): string {
    return `${this.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  }

  /** Server-side copy of a large object: UploadPartCopy in ranges, a few at a time. */
  private async copyInParts(fromKey: string, toKey: string, size: number): Promise<void> {
    const partBytes = Math.max(this.copyPartBytes, Math.ceil(size / 10_000));
    const { UploadId } = await this.client.send(
      new CreateMultipartUploadCommand({
        Bucket: this.bucket,
        Key: toKey,
        ContentType: 'application/octet-stream',
      }),
    );
    if (UploadId === undefined) throw new Error('CreateMultipartUpload returned no UploadId');
    try {
      const count = Math.ceil(size / partBytes);
      const parts: { PartNumber: number; ETag: string }[] = [];
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < count; i = next++) {
          const start = i * partBytes;
          const end = Math.min(size, start + partBytes) - 1;
          const res = await this.client.send(
            new UploadPartCopyCommand({
              Bucket: this.bucket,
              Key: toKey,
              UploadId,
              PartNumber: i + 1,
              CopySource: this.copySource(fromKey),
              CopySourceRange: `bytes=${start}-${end}`,
            }),
          );
          const etag = res.CopyPartResult?.ETag;
          if (etag === undefined) throw new Error(`UploadPartCopy of part ${i + 1} returned no ETag`);
          parts.push({ PartNumber: i + 1, ETag: etag });
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.queueSize, count) }, worker));
      parts.sort((a, b) => a.PartNumber - b.PartNumber);
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: toKey,
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (e) {
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: toKey, UploadId }))
        .catch(() => {});
      throw e;
    }
  }
}
