import { Transform, type TransformCallback } from 'node:stream';

/** Pauses below this are carried over and taken together, so a throttle never means a timer per chunk. */
const MIN_SLEEP_MS = 20;

/**
 * Passes bytes through, pausing `msPer4KiB` for every 4 KiB (Ioto's `throttle`). Owed time is
 * batched into one timer of at least 20 ms; while it runs, backpressure stops reading the socket.
 */
export class ThrottleStream extends Transform {
  /** Total time spent paused, in ms (the speed check does not count it against the server). */
  sleptMs = 0;
  private owedMs = 0;

  constructor(private readonly msPer4KiB: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.push(chunk);
    if (this.msPer4KiB > 0) this.owedMs += (chunk.length / 4096) * this.msPer4KiB;
    if (this.owedMs < MIN_SLEEP_MS) {
      done();
      return;
    }
    const ms = Math.floor(this.owedMs);
    this.owedMs -= ms;
    this.sleptMs += ms;
    setTimeout(done, ms);
  }
}
