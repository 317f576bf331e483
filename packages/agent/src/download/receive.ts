/**
 * The download's data path in one stage: every chunk of the response is checked and hashed by
 * `onChunk` as it arrives, queued, and the queue is written to the part file by one `writev` per
 * batch (libuv's thread pool) while the socket keeps reading. The response is paused only while
 * `highWaterMark` bytes wait for the disk, or while the throttle owes a pause (one timer per ≥ 20 ms,
 * never one per chunk). No Transform streams, no per-chunk promises or timers, no copies.
 */
import type { FileHandle } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { Throttle } from './throttle.js';

/** Bytes queued for the disk before the socket is paused (one batch in flight, one filling). */
export const RECEIVE_HIGH_WATER_MARK = 4 * 1024 * 1024;

export interface ReceiveOptions {
  /** Called for every chunk before it is queued; throwing stops the download with that error. */
  readonly onChunk: (chunk: Buffer) => void;
  readonly throttle?: Throttle;
  readonly signal: AbortSignal;
  readonly highWaterMark?: number;
}

/** Writes every buffer of `batch` at the file's current position (append or fresh file). */
async function writeAll(file: FileHandle, batch: Buffer[]): Promise<void> {
  let rest = batch;
  while (rest.length > 0) {
    const { bytesWritten } = await file.writev(rest);
    let skip = bytesWritten;
    let i = 0;
    while (i < rest.length && skip >= rest[i]!.length) skip -= rest[i++]!.length;
    rest = rest.slice(i);
    if (skip > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(skip);
  }
}

/**
 * Streams `res` into `file`; resolves once the body ended and every byte is written. Rejects with
 * `onChunk`'s error, the write error, the signal's reason, or an Error when the connection closed
 * before the body ended. On rejection the response is destroyed; the file is left to the caller.
 */
export function receive(res: IncomingMessage, file: FileHandle, o: ReceiveOptions): Promise<void> {
  const highWaterMark = o.highWaterMark ?? RECEIVE_HIGH_WATER_MARK;
  return new Promise<void>((resolve, reject) => {
    let queue: Buffer[] = [];
    let queued = 0;
    let writing = false;
    let ended = false;
    let settled = false;
    let throttleTimer: NodeJS.Timeout | undefined;

    const cleanup = () => {
      clearTimeout(throttleTimer);
      throttleTimer = undefined;
      res.off('data', onData);
      res.off('end', onEnd);
      res.off('error', onError);
      res.off('close', onClose);
      o.signal.removeEventListener('abort', onAbort);
    };
    const finish = (error?: unknown) => {
      if (settled) return;
      settled = true;
      cleanup();
      if (error === undefined) {
        resolve();
      } else {
        res.destroy();
        reject(error);
      }
    };
    /** Reads while there is room in the queue and the throttle owes nothing. */
    const flow = () => {
      if (settled || ended) return;
      if (queued >= highWaterMark || throttleTimer !== undefined) res.pause();
      else res.resume();
    };
    const flush = () => {
      if (writing || settled) return;
      if (queue.length === 0) {
        if (ended) finish();
        return;
      }
      const batch = queue;
      queue = [];
      queued = 0;
      writing = true;
      flow();
      writeAll(file, batch).then(() => {
        writing = false;
        flush();
      }, finish);
    };
    const onData = (chunk: Buffer) => {
      if (settled) return;
      try {
        o.onChunk(chunk);
      } catch (e) {
        finish(e);
        return;
      }
      queue.push(chunk);
      queued += chunk.length;
      const pauseMs = o.throttle?.take(chunk.length) ?? 0;
      if (pauseMs > 0) {
        // A paused response emits no data, so no pause is running here; clear one all the same.
        clearTimeout(throttleTimer);
        throttleTimer = setTimeout(() => {
          throttleTimer = undefined;
          flow();
        }, pauseMs);
      }
      flow();
      flush();
    };
    const onEnd = () => {
      ended = true;
      flush();
    };
    const onError = (e: Error) => finish(e);
    const onClose = () => {
      if (!ended) finish(new Error('the connection closed before the body ended'));
    };
    const onAbort = () => finish(o.signal.reason);

    if (o.signal.aborted) {
      onAbort();
      return;
    }
    o.signal.addEventListener('abort', onAbort, { once: true });
    res.on('data', onData);
    res.on('end', onEnd);
    res.on('error', onError);
    res.on('close', onClose);
  });
}
