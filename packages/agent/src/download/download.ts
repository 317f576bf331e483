/**
 * Downloads an artifact to `dest` safely: into `dest.part`, resumed across restarts with `Range` +
 * `If-Range` (the validator kept in `dest.part.json`), throttled, bounded in time, speed and size,
 * then checked (size, SHA-256, signature) before `dest.part` is renamed to `dest`. Nothing reaches
 * `dest` unless every check passed. Uses node:http/https only (client certificates via `tls`).
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { dirname } from 'node:path';
import { DownloadError } from './download-error.js';
import { receive } from './receive.js';
import { Throttle } from './throttle.js';
import {
  type ArtifactSignature,
  type TrustedPublicKey,
  verifyArtifactSignature,
} from './verify-signature.js';

export interface DownloadProgress {
  /** Bytes in the part file so far (resumed prefix included). */
  readonly received: number;
  readonly total?: number;
}

export interface DownloadOptions {
  readonly url: string;
  readonly dest: string;
  /** 64 hex digits; the file must hash to it. */
  readonly expectedSha256?: string;
  readonly expectedSize?: number;
  /** Hard cap on the file's size (endless data attack). */
  readonly maxBytes: number;
  /** ms paused per 4 KiB (0: none). */
  readonly throttleMs?: number;
  /** The whole call fails with DEADLINE after this long. */
  readonly deadlineMs?: number;
  /** Fails with TOO_SLOW when fewer bytes than this per second arrive over `windowMs` (0: off). */
  readonly minBytesPerSecond?: number;
  readonly windowMs?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: DownloadProgress) => void;
  /** Client certificate and CA for https (PEM). */
  readonly tls?: {
    readonly cert?: string | Buffer;
    readonly key?: string | Buffer;
    readonly ca?: string | Buffer;
  };
  readonly headers?: Readonly<Record<string, string>>;
  readonly signature?: ArtifactSignature;
  readonly trustedKeys?: readonly TrustedPublicKey[];
  /** Default true: an unsigned artifact fails with SIGNATURE_MISSING. */
  readonly requireSignature?: boolean;
}

export interface DownloadResult {
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
  /** Bytes taken from an existing part file (0: downloaded from the start). */
  readonly resumedFrom: number;
}

interface PartMeta {
  validator: string;
  expectedSha256?: string;
  total?: number;
}

const partOf = (dest: string) => `${dest}.part`;
const metaOf = (dest: string) => `${dest}.part.json`;

async function discard(dest: string): Promise<void> {
  await rm(partOf(dest), { force: true });
  await rm(metaOf(dest), { force: true });
}

/** How many bytes of a usable part exist, and the validator to resume them with. */
async function existingPart(o: DownloadOptions): Promise<{ offset: number; meta?: PartMeta }> {
  let meta: PartMeta;
  try {
    meta = JSON.parse(await readFile(metaOf(o.dest), 'utf8')) as PartMeta;
  } catch {
    await discard(o.dest);
    return { offset: 0 };
  }
  const size = await stat(partOf(o.dest)).then(
    (s) => s.size,
    () => -1,
  );
  const sameArtifact =
    o.expectedSha256 === undefined ||
    meta.expectedSha256 === undefined ||
    meta.expectedSha256.toLowerCase() === o.expectedSha256.toLowerCase();
  const tooBig = size > o.maxBytes || (o.expectedSize !== undefined && size > o.expectedSize);
  if (size <= 0 || !sameArtifact || tooBig || typeof meta.validator !== 'string') {
    await discard(o.dest);
    return { offset: 0 };
  }
  return { offset: size, meta };
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function request(
  o: DownloadOptions,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  const url = new URL(o.url);
  const lib = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
  if (lib === undefined)
    return Promise.reject(new DownloadError('HTTP_ERROR', `Unsupported URL scheme ${url.protocol}`));
  return new Promise((resolve, reject) => {
    const req = lib.request(url, {
      method: 'GET',
      headers: { ...o.headers, ...headers },
      signal,
      ...(url.protocol === 'https:' ? (o.tls ?? {}) : {}),
    });
    req.on('response', resolve);
    req.on('error', reject);
    req.end();
  });
}

/** `bytes a-b/total` → its parts; undefined when it does not parse. */
function contentRange(v: string | undefined): { start?: number; total?: number } | undefined {
  const m = v === undefined ? null : /^bytes (?:(\d+)-\d+|\*)\/(\d+|\*)$/.exec(v.trim());
  if (!m) return undefined;
  return {
    ...(m[1] === undefined ? {} : { start: Number(m[1]) }),
    ...(m[2] === undefined || m[2] === '*' ? {} : { total: Number(m[2]) }),
  };
}

/** Downloads and verifies; see the module comment. Throws DownloadError with a reason code. */
export async function download(o: DownloadOptions): Promise<DownloadResult> {
  const controller = new AbortController();
  let failure: DownloadError | undefined;
  const fail = (e: DownloadError) => {
    failure ??= e;
    controller.abort(e);
  };
  const onAbort = () => fail(new DownloadError('ABORTED', 'The download was cancelled', { resumable: true }));
  if (o.signal?.aborted) onAbort();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const deadline =
    o.deadlineMs === undefined
      ? undefined
      : setTimeout(
          () =>
            fail(
              new DownloadError('DEADLINE', `The download did not finish within ${o.deadlineMs} ms`, {
                resumable: true,
              }),
            ),
          o.deadlineMs,
        );
  let speedTimer: NodeJS.Timeout | undefined;
  try {
    await mkdir(dirname(o.dest), { recursive: true });
    return await run(
      o,
      controller.signal,
      () => failure,
      fail,
      (t) => {
        clearInterval(speedTimer);
        speedTimer = t;
      },
    );
  } catch (e) {
    const err =
      failure ??
      (e instanceof DownloadError
        ? e
        : new DownloadError('NETWORK', `The download failed: ${(e as Error).message}`, { resumable: true }));
    if (!err.resumable) await discard(o.dest);
    throw err;
  } finally {
    clearTimeout(deadline);
    clearInterval(speedTimer);
    o.signal?.removeEventListener('abort', onAbort);
  }
}

async function run(
  o: DownloadOptions,
  signal: AbortSignal,
  failed: () => DownloadError | undefined,
  fail: (e: DownloadError) => void,
  setSpeedTimer: (t: NodeJS.Timeout) => void,
): Promise<DownloadResult> {
  const part = partOf(o.dest);
  let resumedFrom = 0;
  let complete = false;
  let total: number | undefined;
  let hash = createHash('sha256');
  // At most one restart from zero (content changed, or a part the server cannot continue).
  for (let attempt = 0; attempt < 3 && !complete; attempt++) {
    const { offset, meta } = await existingPart(o);
    hash = createHash('sha256');
    if (offset > 0 && o.expectedSize !== undefined && offset === o.expectedSize) {
      await hashFile(part, hash);
      resumedFrom = offset;
      total = offset;
      complete = true;
      break;
    }
    const headers: Record<string, string> =
      offset > 0 && meta ? { range: `bytes=${offset}-`, 'if-range': meta.validator } : {};
    const res = await request(o, headers, signal);
    if (res.statusCode === 416 && offset > 0) {
      res.resume();
      const size = contentRange(res.headers['content-range'])?.total;
      if (size === offset) {
        await hashFile(part, hash);
        resumedFrom = offset;
        total = offset;
        complete = true;
        break;
      }
      await discard(o.dest);
      continue;
    }
    let start: number;
    if (res.statusCode === 206 && offset > 0) {
      const range = contentRange(res.headers['content-range']);
      if (range?.start !== offset) {
        res.destroy();
        await discard(o.dest);
        continue;
      }
      start = offset;
      total = range.total;
    } else if (res.statusCode === 200) {
      start = 0; // fresh, or the content changed since the part was written (If-Range)
      const len = res.headers['content-length'];
      total = len === undefined ? undefined : Number(len);
    } else {
      res.destroy();
      throw new DownloadError(
        'HTTP_ERROR',
        `The server answered ${res.statusCode} ${res.statusMessage ?? ''}`.trim(),
        {
          resumable: (res.statusCode ?? 0) >= 500,
          ...(res.statusCode === undefined ? {} : { status: res.statusCode }),
        },
      );
    }
    if (total !== undefined && total > o.maxBytes) {
      res.destroy();
      throw new DownloadError(
        'TOO_LARGE',
        `The artifact is ${total} bytes, more than the limit of ${o.maxBytes}`,
      );
    }
    if (total !== undefined && o.expectedSize !== undefined && total !== o.expectedSize) {
      res.destroy();
      throw new DownloadError(
        total > o.expectedSize ? 'TOO_LARGE' : 'SIZE_MISMATCH',
        `The server offers ${total} bytes, the job expects ${o.expectedSize}`,
      );
    }
    const etag = res.headers.etag;
    const validator = etag !== undefined && !etag.startsWith('W/') ? etag : res.headers['last-modified'];
    if (start === 0) {
      await discard(o.dest);
      if (validator !== undefined) {
        const m: PartMeta = {
          validator,
          ...(o.expectedSha256 === undefined ? {} : { expectedSha256: o.expectedSha256 }),
          ...(total === undefined ? {} : { total }),
        };
        await writeFile(metaOf(o.dest), JSON.stringify(m));
      }
    } else {
      await hashFile(part, hash);
    }
    resumedFrom = start;
    const limit = Math.min(o.maxBytes, o.expectedSize ?? Number.POSITIVE_INFINITY);
    const throttle = new Throttle(o.throttleMs ?? 0);
    let received = start;
    let windowBytes = 0;
    let windowSlept = 0;
    const windowMs = o.windowMs ?? 60_000;
    if ((o.minBytesPerSecond ?? 0) > 0) {
      setSpeedTimer(
        setInterval(() => {
          const paused = throttle.sleptMs - windowSlept;
          const needed = ((o.minBytesPerSecond ?? 0) * Math.max(0, windowMs - paused)) / 1000;
          if (windowBytes < needed) {
            fail(
              new DownloadError(
                'TOO_SLOW',
                `Only ${windowBytes} bytes arrived in ${windowMs} ms, below ${o.minBytesPerSecond} bytes/s`,
                { resumable: true },
              ),
            );
          }
          windowBytes = 0;
          windowSlept = throttle.sleptMs;
        }, windowMs),
      );
    }
    const h = hash;
    const onChunk = (chunk: Buffer) => {
      received += chunk.length;
      windowBytes += chunk.length;
      if (received > limit) {
        const why = received > o.maxBytes ? `the limit of ${o.maxBytes}` : `the expected ${o.expectedSize}`;
        throw new DownloadError('TOO_LARGE', `The server sent more than ${why} bytes`);
      }
      h.update(chunk);
      o.onProgress?.(total === undefined ? { received } : { received, total });
    };
    let file: FileHandle | undefined;
    try {
      file = await open(part, start > 0 ? 'a' : 'w');
      await receive(res, file, { onChunk, throttle, signal });
    } catch (e) {
      res.destroy();
      await file?.close().catch(() => {});
      const f = failed();
      if (f) throw f;
      if (e instanceof DownloadError) throw e;
      throw new DownloadError(
        'INCOMPLETE',
        `The download stopped after ${received} bytes: ${(e as Error).message}`,
        {
          resumable: true,
        },
      );
    }
    await file.close();
    if (total !== undefined && received < total) {
      throw new DownloadError('INCOMPLETE', `The connection ended after ${received} of ${total} bytes`, {
        resumable: true,
      });
    }
    total = received;
    complete = true;
  }
  if (!complete || total === undefined) {
    throw new DownloadError('HTTP_ERROR', 'The server could not continue the download', { resumable: false });
  }
  if (o.expectedSize !== undefined && total !== o.expectedSize) {
    throw new DownloadError('SIZE_MISMATCH', `Received ${total} bytes, the job expects ${o.expectedSize}`);
  }
  const sha256 = hash.digest('hex');
  if (o.expectedSha256 !== undefined && sha256 !== o.expectedSha256.toLowerCase()) {
    throw new DownloadError(
      'HASH_MISMATCH',
      `The artifact hashes to ${sha256}, expected ${o.expectedSha256}`,
    );
  }
  await verifyArtifactSignature(sha256, o.signature, o.trustedKeys ?? [], o.requireSignature ?? true);
  await fsyncPath(part);
  await rename(part, o.dest);
  await rm(metaOf(o.dest), { force: true });
  await fsyncPath(dirname(o.dest));
  return { path: o.dest, sha256, size: total, resumedFrom };
}
