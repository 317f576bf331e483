import { read } from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { OpenFile } from '../artifacts/open-file-cache.js';

/** Bytes per read and per socket write: few syscalls and event-loop turns per GiB. */
export const SEND_CHUNK = 1024 * 1024;
/** Idle chunk buffers kept for reuse (at most this many MiB stay allocated between bursts). */
const MAX_IDLE_BUFFERS = 64;

/**
 * Chunk buffers reused across responses. Allocating a fresh 1 MiB buffer per read (as
 * `fs.createReadStream` does) makes V8 account gigabytes of short-lived external memory, which
 * triggers back-to-back major GCs: with 32 downloads that cost more CPU than the copies themselves.
 */
const idle: Buffer[] = [];
const takeBuffer = (): Buffer => idle.pop() ?? Buffer.allocUnsafeSlow(SEND_CHUNK);
const giveBack = (buffer: Buffer): void => {
  if (idle.length < MAX_IDLE_BUFFERS) idle.push(buffer);
};

const readAt = (fd: number, buffer: Buffer, length: number, position: number) =>
  new Promise<number>((resolve, reject) =>
    read(fd, buffer, 0, length, position, (e, n) => (e ? reject(e) : resolve(n))),
  );

/**
 * Writes bytes `start`..`end` (inclusive) of the open `file` to `res`, whose status and headers
 * (with the exact Content-Length) are already set, then releases `file`. Two chunk buffers per
 * response: one is read from the page cache while the other is handed to the socket; a buffer is
 * read into again only once the socket has taken all of it (the write callback), so nothing is
 * queued beyond two chunks however slow the client. A client that goes away stops the loop; a read
 * error (or a file shorter than promised) destroys the connection, as the length was already sent.
 */
export async function sendFileRange(
  res: ServerResponse,
  file: OpenFile,
  start: number,
  end: number,
): Promise<void> {
  const buffers = [takeBuffer(), takeBuffer()] as const;
  /** Buffers a write still holds; never reused if the connection died before the write finished. */
  const busy = new Set<Buffer>();
  let gone = res.destroyed;
  /** Settles the pending write's wait when the connection closes first (its callback may never run). */
  let wake: (() => void) | undefined;
  const onClose = () => {
    gone = true;
    wake?.();
  };
  res.on('close', onClose);
  let pending: Promise<void> | undefined;
  try {
    let position = start;
    for (let i = 0; position <= end && !gone; i++) {
      const buffer = buffers[i % 2]!;
      const length = Math.min(SEND_CHUNK, end - position + 1);
      const n = await readAt(file.fd, buffer, length, position);
      if (n === 0) throw new Error(`file ended at byte ${position} of ${end + 1}`);
      position += n;
      // The other buffer's write must finish before it is read into on the next turn; this one's
      // write runs while that next read does.
      if (pending) await pending;
      if (gone) break;
      busy.add(buffer);
      pending = new Promise<void>((resolve) => {
        wake = resolve;
        res.write(n === buffer.length ? buffer : buffer.subarray(0, n), (e) => {
          if (e) gone = true;
          else busy.delete(buffer);
          resolve();
        });
      });
    }
    if (pending) await pending;
    if (!gone) res.end();
  } catch (e) {
    res.destroy(e as Error);
    throw e;
  } finally {
    res.off('close', onClose);
    file.release();
    for (const b of buffers) if (!busy.has(b)) giveBack(b);
  }
}
