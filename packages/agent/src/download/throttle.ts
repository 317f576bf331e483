import { Transform, type TransformCallback } from 'node:stream';

/** Pauses below this are carried over and taken together, so a throttle never means a timer per chunk. */
const MIN_SLEEP_MS = 20;

/**
 * The throttle's accounting (Ioto's `throttle`): `msPer4KiB` owed for every 4 KiB received, paid in
 * pauses of at least 20 ms. The downloader pauses its socket for what `take` returns.
 */
export class Throttle {
  /** Total time handed out as pauses, in ms (the speed check does not count it against the server). */
  sleptMs = 0;
  private owedMs = 0;

  constructor(readonly msPer4KiB: number) {}

  /** Counts `bytes` received; returns how long to pause now (0: keep reading). */
  take(bytes: number): number {
    if (this.msPer4KiB <= 0) return 0;
    this.owedMs += (bytes / 4096) * this.msPer4KiB;
    if (this.owedMs < MIN_SLEEP_MS) return 0;
    const ms = Math.floor(this.owedMs);
    this.owedMs -= ms;
    this.sleptMs += ms;
    return ms;
  }
}

/**
 * The throttle as a Transform, for streams of your own: passes bytes through, pausing `msPer4KiB`
 * for every 4 KiB; while a pause runs, backpressure stops the source. (The downloader itself does not
 * use a Transform: it pauses the socket with a Throttle.)
 */
export class ThrottleStream extends Transform {
  private readonly throttle: Throttle;

  constructor(msPer4KiB: number) {
    super();
    this.throttle = new Throttle(msPer4KiB);
  }

  /** Total time spent paused, in ms. */
  get sleptMs(): number {
    return this.throttle.sleptMs;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.push(chunk);
    const ms = this.throttle.take(chunk.length);
    if (ms === 0) done();
    else setTimeout(done, ms);
  }
}
