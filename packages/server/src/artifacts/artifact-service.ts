import type { Readable } from 'node:stream';
import { type Clock, invalidRequest, notFound, OtterError } from '@otter/core';
import type { ArtifactRecord, ArtifactStore } from '../store/artifact-store.js';
import type { Page } from '../store/records.js';
import { validateArtifactName } from './artifact-name.js';
import {
  type BlobStore,
  BlobTooLargeError,
  type ByteRange,
  DigestMismatchError,
  SHA256_HEX,
  TruncatedBlobError,
} from './blob-store.js';
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

  constructor(opts: ArtifactServiceOptions) {
    this.#opts = opts;
    this.blobs = opts.blobs;
    this.maxBytes = opts.maxBytes;
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
    await this.#withBlobLock(artifact.sha256, async () => {
      const deleted = await this.#opts.artifacts.delete(name);
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
    const artifact = await this.#opts.artifacts.get(name);
    const expected = presignSignature(
      this.#opts.presignSecret,
      artifactPath(name),
      Number(expires),
      artifact?.sha256 ?? '',
    );
    if (!sameSignature(expected, signature) || !artifact) {
      throw denied('The request signature does not match the URL');
    }
    if (this.#opts.clock.now() > Number(expires) * 1000) throw denied('Request has expired');
    return artifact;
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
