import { randomUUID } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  open as openCallback,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { link, mkdir, open, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
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

/** Reads and writes in 1 MiB chunks: few syscalls and few event-loop turns per GiB. */
const CHUNK = 1024 * 1024;
/** A temporary file untouched this long belongs to no live upload (uploads write continuously). */
const STALE_TMP_MS = 60 * 60 * 1000;

/**
 * Blobs as files: `root/blobs/<aa>/<sha256>`, written through `root/tmp/<pid>.<random>` and made
 * visible by an atomic link/rename only once complete, fsynced and verified.
 */
export class FsBlobStore implements BlobStore {
  readonly kind = 'fs' as const;
  readonly #tmp: string;
  readonly #blobs: string;

  constructor(readonly root: string) {
    this.#tmp = join(root, 'tmp');
    this.#blobs = join(root, 'blobs');
    mkdirSync(this.#tmp, { recursive: true });
    mkdirSync(this.#blobs, { recursive: true });
    this.#cleanStaleTmp();
  }

  async put(body: Readable, opts: PutBlobOptions): Promise<PutBlobResult> {
    let meter: BlobMeter;
    try {
      meter = new BlobMeter(opts);
    } catch (e) {
      body.destroy();
      throw e;
    }
    const tmpPath = join(this.#tmp, `${process.pid}.${randomUUID()}`);
    // `flush: true` fsyncs before the stream reports close.
    const out = createWriteStream(tmpPath, { flags: 'wx', flush: true, highWaterMark: CHUNK });
    try {
      await pipeline(body, meter, out);
      const { sha256, size } = meter.result();
      const created = await this.#publish(tmpPath, sha256);
      return { sha256, size, created };
    } catch (e) {
      // The pipeline can reject while the file is still being opened; removing it before the
      // stream has closed would let the pending open create it again afterwards.
      if (!out.closed) {
        await new Promise<void>((resolve) => {
          out.once('close', () => resolve());
          out.destroy();
        });
      }
      await rm(tmpPath, { force: true });
      throw e;
    }
  }

  async stat(sha256: string): Promise<BlobInfo | undefined> {
    if (!SHA256_HEX.test(sha256)) return undefined;
    try {
      const st = await stat(this.localPath(sha256));
      return { sha256, size: st.size };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async read(sha256: string, range?: ByteRange): Promise<Readable> {
    if (!SHA256_HEX.test(sha256)) throw new BlobNotFoundError(sha256);
    if (range !== undefined && (range.start < 0 || range.end < range.start)) {
      throw new RangeError(`invalid byte range ${range.start}-${range.end}`);
    }
    let fd: number;
    try {
      fd = await openFd(this.localPath(sha256), 'r');
    } catch (e) {
      if (isNotFound(e)) throw new BlobNotFoundError(sha256);
      throw e;
    }
    // A numeric fd keeps the classic fs.read path, markedly faster than FileHandle streams.
    return createReadStream('', {
      fd,
      highWaterMark: CHUNK,
      ...(range === undefined ? {} : { start: range.start, end: range.end }),
    });
  }

  localPath(sha256: string): string {
    if (!SHA256_HEX.test(sha256)) throw new BlobNotFoundError(sha256);
    return join(this.#blobs, sha256.slice(0, 2), sha256);
  }

  async delete(sha256: string): Promise<void> {
    if (!SHA256_HEX.test(sha256)) return;
    await rm(this.localPath(sha256), { force: true });
  }

  async close(): Promise<void> {}

  /** Moves a verified temporary file to its content address; false when that blob already existed. */
  async #publish(tmpPath: string, sha256: string): Promise<boolean> {
    const dir = join(this.#blobs, sha256.slice(0, 2));
    const dest = join(dir, sha256);
    await mkdir(dir, { recursive: true });
    try {
      // link fails atomically when the blob exists, so concurrent equal uploads agree on `created`.
      await link(tmpPath, dest);
      await unlink(tmpPath);
    } catch (e) {
      if (errnoCode(e) === 'EEXIST') {
        await unlink(tmpPath);
        return false;
      }
      // File systems without hard links: fall back to rename (atomic replace of identical bytes).
      if (await exists(dest)) {
        await unlink(tmpPath);
        return false;
      }
      await rename(tmpPath, dest);
    }
    await syncDir(dir);
    return true;
  }

  #cleanStaleTmp(): void {
    const now = Date.now();
    for (const name of readdirSync(this.#tmp)) {
      const path = join(this.#tmp, name);
      try {
        const pid = Number(name.split('.')[0]);
        const ownerGone = Number.isInteger(pid) && pid !== process.pid && !processAlive(pid);
        if (ownerGone || now - statSync(path).mtimeMs > STALE_TMP_MS)
          rmSync(path, { force: true, recursive: true });
      } catch {
        // Another node cleaned it first.
      }
    }
  }
}

const openFd = promisify(openCallback);

const errnoCode = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;

const isNotFound = (e: unknown) => errnoCode(e) === 'ENOENT';

const exists = async (path: string) => {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
};

const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
};

const syncDir = async (dir: string) => {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
};
