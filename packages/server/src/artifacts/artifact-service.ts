import type { Readable } from 'node:stream';
import { type Clock, invalidRequest, notFound, OtterError } from '@otter/core';
import type { ArtifactRecord, ArtifactStore } from '../store/artifact-store.js';
import type { Page } from '../store/records.js';
import { artifactBucketOf } from './artifact-bucket.js';
import { validateArtifactName } from './artifact-name.js';
import {
  type BlobStore,
  BlobTooLargeError,
  type ByteRange,
  DigestMismatchError,
  SHA256_HEX,
  TruncatedBlobError,
} from './blob-store.js';
import { type OpenFile, OpenFileCache } from './open-file-cache.js';
import {
  PRESIGN_EXPIRES_PARAM,
  PRESIGN_SIGNATURE_PARAM,
  presignSignature,
  sameSignature,
} from './presign.js';

export const PRESIGN_MIN_SECONDS = 60;
export const PRESIGN_MAX_SECONDS = 3600;
export const PRESIGN_DEFAULT_SECONDS = 1800;
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

export interface ArtifactServiceOptions {
  artifacts: ArtifactStore;
  blobs: BlobStore;
  clock: Clock;
  maxBytes: number;
  presignSecret: Buffer;
  /** Base of presigned URLs (no trailing slash); a function because it may be known only after listen. */
  publicUrl(): string;
}

export interface UploadOptions {
  contentType?: string | undefined;
  expectedSha256?: string | undefined;
  expectedSize?: number | undefined;
}

export interface PresignedUrl {
  url: string;
  /** Epoch seconds. */
  expiresAt: number;
}

export const artifactPath = (name: string) => `/v1/artifacts/${name}`;

/**
 * How long a name → content lookup made for a presigned download is reused. Names are immutable
 * and a delete on this node forgets the entry at once; the limit bounds how long another node's
 * delete goes unnoticed (URLs bind the content hash, so only the URL's own content is ever served).
 */
const PRESIGN_CACHE_MS = 10_000;
const PRESIGN_CACHE_ENTRIES = 1024;

interface PresignCacheEntry {
  artifact: ArtifactRecord;
  /** Clock time of the database read. */
  fetchedAt: number;
  /** The last URL (`expires\nsignature`) verified against `artifact`. */
  url: string;
}

const tooLarge = (max: number) =>
  new OtterError('RequestEntityTooLargeException', `The artifact exceeds the maximum size of ${max} bytes`);
const denied = (message: string) => new OtterError('AccessDeniedException', message);

/**
 * Artifacts: names ↔ content-addressed blobs, presigned download URLs. Knows nothing of HTTP.
 * Names are immutable; a blob is deleted when its last name is.
 */
export class ArtifactService {
  readonly blobs: BlobStore;
  readonly maxBytes: number;
  readonly #opts: ArtifactServiceOptions;
  /** Serializes "name a blob" against "delete a blob's last name" per blob (within this process). */
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #files = new OpenFileCache();
  /** Recently verified presigned downloads by artifact name (see verifyPresigned). */
  readonly #presigned = new Map<string, PresignCacheEntry>();
  /** Deletes started or finished on this node; a lookup that overlapped one is not cached. */
  #deletes = 0;

  constructor(opts: ArtifactServiceOptions) {
    this.#opts = opts;
    this.blobs = opts.blobs;
    this.maxBytes = opts.maxBytes;
  }

  /** The bucket package versions name Otter's artifacts with (`artifact.s3Location.bucket`). */
  get bucket(): string {
    return artifactBucketOf(this.blobs);
  }

  /**
   * Stores `body` under `name`. 201-style `created: true` for a new name, false when the name
   * already held exactly this content; ResourceAlreadyExistsException when it holds other content.
   */
  async upload(
    name: string,
    body: Readable,
    opts: UploadOptions = {},
  ): Promise<{ artifact: ArtifactRecord; created: boolean }> {
    validateArtifactName(name);
    const expected = opts.expectedSha256?.toLowerCase();
    if (expected !== undefined && !SHA256_HEX.test(expected)) {
      throw invalidRequest('The expected SHA-256 must be 64 hexadecimal digits');
    }
    if (opts.expectedSize !== undefined && opts.expectedSize > this.maxBytes) throw tooLarge(this.maxBytes);
    const existing = await this.#opts.artifacts.get(name);
    if (existing && expected !== undefined && existing.sha256 !== expected) {
      throw conflict(existing);
    }
    let put: Awaited<ReturnType<BlobStore['put']>>;
    try {
      put = await this.blobs.put(body, {
        maxBytes: this.maxBytes,
        ...(expected === undefined ? {} : { expectedSha256: expected }),
        ...(opts.expectedSize === undefined ? {} : { expectedSize: opts.expectedSize }),
      });
    } catch (e) {
      throw blobErrorToOtter(e, this.maxBytes);
    }
    return this.#withBlobLock(put.sha256, async () => {
      if (!(await this.blobs.stat(put.sha256))) {
        // A concurrent delete of the blob's last name removed it between our put and this lock.
        throw new OtterError('ServiceUnavailableException', 'The artifact was deleted concurrently; retry');
      }
      try {
        return await this.#opts.artifacts.create({
          name,
          sha256: put.sha256,
          size: put.size,
          contentType: opts.contentType ?? DEFAULT_CONTENT_TYPE,
          createdAt: this.#opts.clock.now(),
        });
      } catch (e) {
        if (put.created && !(await this.#opts.artifacts.isBlobInUse(put.sha256))) {
          await this.blobs.delete(put.sha256);
        }
        throw e;
      }
    });
  }

  async get(name: string): Promise<ArtifactRecord> {
    validateArtifactName(name);
    const artifact = await this.#opts.artifacts.get(name);
    if (!artifact) throw notFound(`Artifact ${name} does not exist`);
    return artifact;
  }

  /**
   * The artifact's blob file, open for reading, when the blob store keeps blobs as local files
   * (the caller releases it), undefined otherwise (use `read`). NotFound when the blob is gone.
   * Blobs are content addressed and never change, so descriptors are shared between requests.
   */
  async openLocal(artifact: ArtifactRecord): Promise<OpenFile | undefined> {
    const path = this.blobs.localPath?.(artifact.sha256);
    if (path === undefined) return undefined;
    try {
      return await this.#files.acquire(path);
    } catch (e) {
      if (typeof e === 'object' && e !== null && 'code' in e && e.code === 'ENOENT') {
        throw notFound(`Artifact ${artifact.name} does not exist`);
      }
      throw e;
    }
  }

  /** An artifact's bytes, or a range of them. */
  read(artifact: ArtifactRecord, range?: ByteRange): Promise<Readable> {
    return this.blobs.read(artifact.sha256, range);
  }

  list(prefix: string | undefined, after: string | undefined, limit: number): Promise<Page<ArtifactRecord>> {
    return this.#opts.artifacts.list({ prefix, after, limit });
  }

  async delete(name: string): Promise<void> {
    validateArtifactName(name);
    const artifact = await this.#opts.artifacts.get(name);
    if (!artifact) throw notFound(`Artifact ${name} does not exist`);
    this.#deletes++;
    this.#presigned.delete(name);
    await this.#withBlobLock(artifact.sha256, async () => {
      const deleted = await this.#opts.artifacts.delete(name);
      this.#deletes++;
      this.#presigned.delete(name);
      if (deleted && !deleted.blobInUse) await this.blobs.delete(deleted.artifact.sha256);
    });
  }

  /**
   * A download URL for `name` that needs no credentials, valid for `expiresInSec` (60–3600). With
   * an object store that presigns itself (S3), the store's own URL; otherwise Otter's HMAC URL.
   */
  async presignArtifactUrl(
    name: string,
    expiresInSec: number = PRESIGN_DEFAULT_SECONDS,
  ): Promise<PresignedUrl> {
    if (
      !Number.isInteger(expiresInSec) ||
      expiresInSec < PRESIGN_MIN_SECONDS ||
      expiresInSec > PRESIGN_MAX_SECONDS
    ) {
      throw invalidRequest(
        `expiresInSec must be an integer from ${PRESIGN_MIN_SECONDS} to ${PRESIGN_MAX_SECONDS}`,
      );
    }
    const artifact = await this.get(name);
    const expiresAt = Math.floor(this.#opts.clock.now() / 1000) + expiresInSec;
    if (this.blobs.presignGet) {
      const fileName = name.slice(name.lastIndexOf('/') + 1);
      return { url: await this.blobs.presignGet(artifact.sha256, expiresInSec, fileName), expiresAt };
    }
    const path = artifactPath(name);
    const signature = presignSignature(this.#opts.presignSecret, path, expiresAt, artifact.sha256);
    const query = `${PRESIGN_EXPIRES_PARAM}=${expiresAt}&${PRESIGN_SIGNATURE_PARAM}=${signature}`;
    return { url: `${this.#opts.publicUrl()}${path}?${query}`, expiresAt };
  }

  /**
   * Checks an Otter presigned URL's parameters for `name` and returns the artifact; 403
   * AccessDeniedException for a bad signature (or a missing artifact: nothing is revealed) or an
   * expired URL.
   */
  async verifyPresigned(name: string, expires: string, signature: string): Promise<ArtifactRecord> {
    if (!/^\d{1,12}$/.test(expires)) throw denied(`Invalid ${PRESIGN_EXPIRES_PARAM}`);
    const now = this.#opts.clock.now();
    const url = `${expires}\n${signature}`;
    let cached = this.#presigned.get(name);
    if (cached !== undefined && now - cached.fetchedAt > PRESIGN_CACHE_MS) {
      this.#presigned.delete(name);
      cached = undefined;
    }
    // A cached record is used only for a signature over its own content hash: a stale entry can
    // never serve other content, and a mismatch falls through to the database.
    let artifact: ArtifactRecord | undefined;
    if (
      cached !== undefined &&
      (sameSignature(cached.url, url) || this.#signatureMatches(name, expires, signature, cached.artifact))
    ) {
      artifact = cached.artifact;
      cached.url = url;
    } else {
      const deletes = this.#deletes;
      artifact = await this.#opts.artifacts.get(name);
      if (!this.#signatureMatches(name, expires, signature, artifact) || !artifact) {
        throw denied('The request signature does not match the URL');
      }
      // Not when a delete on this node ran meanwhile: the record read may predate it.
      if (deletes === this.#deletes) this.#remember(name, { artifact, fetchedAt: now, url });
    }
    if (now > Number(expires) * 1000) throw denied('Request has expired');
    return artifact;
  }

  /** Constant-time; computes the HMAC even without an artifact, so a missing name takes as long. */
  #signatureMatches(
    name: string,
    expires: string,
    signature: string,
    artifact: ArtifactRecord | undefined,
  ): boolean {
    const expected = presignSignature(
      this.#opts.presignSecret,
      artifactPath(name),
      Number(expires),
      artifact?.sha256 ?? '',
    );
    return sameSignature(expected, signature);
  }

  #remember(name: string, entry: PresignCacheEntry): void {
    this.#presigned.delete(name);
    if (this.#presigned.size >= PRESIGN_CACHE_ENTRIES) {
      // Maps iterate in insertion order: drop the entry read longest ago.
      const oldest = this.#presigned.keys().next();
      if (!oldest.done) this.#presigned.delete(oldest.value);
    }
    this.#presigned.set(name, entry);
  }

  async #withBlobLock<T>(sha256: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(sha256) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.#locks.set(sha256, tail);
    try {
      return await run;
    } finally {
      if (this.#locks.get(sha256) === tail) this.#locks.delete(sha256);
    }
  }
}

function conflict(existing: ArtifactRecord): OtterError {
  return new OtterError(
    'ResourceAlreadyExistsException',
    `Artifact ${existing.name} already exists with different content (SHA-256 ${existing.sha256}); ` +
      'artifact names are immutable: delete it first',
    { resourceId: existing.name },
  );
}

/** Blob store failures as the typed errors clients see. */
export function blobErrorToOtter(e: unknown, maxBytes: number): unknown {
  if (e instanceof BlobTooLargeError) return tooLarge(Math.min(maxBytes, e.maxBytes));
  if (e instanceof DigestMismatchError) {
    return new OtterError(
      'DigestMismatchException',
      `The content's SHA-256 ${e.actual} does not match the declared ${e.expected}`,
    );
  }
  if (e instanceof TruncatedBlobError) {
    return new OtterError(
      'IncompleteBodyException',
      `The request body ended after ${e.received} of ${e.expected} bytes`,
    );
  }
  return e;
}
