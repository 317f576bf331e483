import { createHash } from 'node:crypto';
import { type Readable, Transform, type TransformCallback } from 'node:stream';

/** A stored blob: content addressed by its SHA-256 (lower-case hex). */
export interface BlobInfo {
  sha256: string;
  size: number;
}

export interface PutBlobOptions {
  /** Refuse (BlobTooLargeError) as soon as more than this many bytes arrive. */
  maxBytes: number;
  /** When given, the content must hash to this (DigestMismatchError otherwise). */
  expectedSha256?: string;
  /** When given, the content must be exactly this long (TruncatedBlobError / BlobTooLargeError). */
  expectedSize?: number;
}

export interface PutBlobResult extends BlobInfo {
  /** False when a blob with this content was already stored (deduplicated). */
  created: boolean;
}

/** Inclusive byte range, as HTTP `Range: bytes=start-end` names it. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Where artifact bytes live. Content addressed: a blob's key is its SHA-256, so equal content is
 * stored once. `put` streams (never buffers the whole body), hashes while writing, and makes the
 * blob visible only when it is complete and verified; a failed or aborted put leaves nothing.
 * One contract suite (`blob-store.contract.ts`) runs against every backend.
 */
export interface BlobStore {
  readonly kind: 'fs' | 's3';
  put(body: Readable, opts: PutBlobOptions): Promise<PutBlobResult>;
  stat(sha256: string): Promise<BlobInfo | undefined>;
  /** The blob's bytes (a range of them when given); BlobNotFoundError when absent. */
  read(sha256: string, range?: ByteRange): Promise<Readable>;
  /** For the file system backend: the blob's file, so HTTP can send it with `sendfile`-like speed. */
  localPath?(sha256: string): string;
  /** For object stores: the store's own presigned GET URL for a blob. */
  presignGet?(sha256: string, expiresInSeconds: number, fileName?: string): Promise<string>;
  delete(sha256: string): Promise<void>;
  close(): Promise<void>;
}

export class BlobTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`content exceeds the limit of ${maxBytes} bytes`);
  }
}
export class TruncatedBlobError extends Error {
  constructor(
    readonly expected: number,
    readonly received: number,
  ) {
    super(`content ended after ${received} of ${expected} bytes`);
  }
}
export class DigestMismatchError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`content has SHA-256 ${actual}, expected ${expected}`);
  }
}
export class BlobNotFoundError extends Error {
  constructor(readonly sha256: string) {
    super(`no blob with SHA-256 ${sha256}`);
  }
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * What every BlobStore's `put` streams through: counts and hashes the bytes, fails as soon as more
 * arrive than the options allow, and checks size and digest at the end (`result()`). Throws
 * BlobTooLargeError at construction when the declared size is already over the limit.
 */
export class BlobMeter extends Transform {
  readonly #hash = createHash('sha256');
  readonly #opts: PutBlobOptions;
  readonly limit: number;
  bytes = 0;

  constructor(opts: PutBlobOptions) {
    super();
    if (opts.expectedSize !== undefined && opts.expectedSize > opts.maxBytes)
      throw new BlobTooLargeError(opts.maxBytes);
    this.#opts = opts;
    this.limit = Math.min(opts.maxBytes, opts.expectedSize ?? Number.POSITIVE_INFINITY);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      callback(new BlobTooLargeError(this.limit));
      return;
    }
    this.#hash.update(chunk);
    callback(null, chunk);
  }

  /** Once the stream has ended: the content's size and SHA-256, checked against the options. */
  result(): BlobInfo {
    const { expectedSize, expectedSha256 } = this.#opts;
    if (expectedSize !== undefined && this.bytes !== expectedSize)
      throw new TruncatedBlobError(expectedSize, this.bytes);
    const sha256 = this.#hash.digest('hex');
    if (expectedSha256 !== undefined && expectedSha256.toLowerCase() !== sha256)
      throw new DigestMismatchError(expectedSha256.toLowerCase(), sha256);
    return { sha256, size: this.bytes };
  }
}
