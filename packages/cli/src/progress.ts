/**
 * Transfer progress on stderr. On a terminal: one line redrawn in place (percent, bytes, rate, ETA),
 * at most every `redrawMs`. Elsewhere (a pipe, a log file, CI): no bar, only the final line.
 */
import { Transform, type TransformCallback } from 'node:stream';

/** The part of a write stream the bar needs (process.stderr, or a test double). */
export interface ProgressOutput {
  isTTY?: boolean | undefined;
  columns?: number | undefined;
  write(text: string): boolean;
}

export interface ProgressOptions {
  /** Expected bytes; 0 or unknown shows no percent and no ETA. */
  total: number;
  /** What is moving, e.g. `uploading firmware.bin`. */
  label: string;
  output?: ProgressOutput | undefined;
  /** Milliseconds; injectable for tests. */
  now?: (() => number) | undefined;
  redrawMs?: number | undefined;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** `1536` → `1.5 KiB`; whole bytes below 1 KiB. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${UNITS[unit]}`;
}

/** Seconds as `42s`, `3m07s`, `2h05m`. */
export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export class Progress {
  readonly #opts: ProgressOptions;
  readonly #out: ProgressOutput;
  readonly #now: () => number;
  readonly #started: number;
  #bytes = 0;
  #lastDraw = Number.NEGATIVE_INFINITY;
  #drawn = false;
  #finished = false;

  constructor(opts: ProgressOptions) {
    this.#opts = opts;
    this.#out = opts.output ?? process.stderr;
    this.#now = opts.now ?? Date.now;
    this.#started = this.#now();
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Counts `n` more bytes; redraws the bar on a terminal when it is time to. */
  add(n: number): void {
    this.#bytes += n;
    if (!this.#out.isTTY || this.#finished) return;
    const now = this.#now();
    if (now - this.#lastDraw < (this.#opts.redrawMs ?? 100)) return;
    this.#lastDraw = now;
    this.#draw(this.line(now));
  }

  /** The bar's text at `now`: label, percent, bytes, rate and ETA. */
  line(now = this.#now()): string {
    const { total, label } = this.#opts;
    const elapsed = (now - this.#started) / 1000;
    const rate = elapsed > 0 ? this.#bytes / elapsed : 0;
    const parts = [label];
    if (total > 0) {
      const pct = Math.min(100, Math.floor((this.#bytes / total) * 100));
      parts.push(`${String(pct).padStart(3)}%`, `${formatBytes(this.#bytes)} / ${formatBytes(total)}`);
    } else {
      parts.push(formatBytes(this.#bytes));
    }
    parts.push(`${formatBytes(Math.round(rate))}/s`);
    if (total > 0) {
      parts.push(rate > 0 ? `ETA ${formatDuration(Math.max(0, total - this.#bytes) / rate)}` : 'ETA --');
    }
    return parts.join('  ');
  }

  /** Ends the bar with a final line: `<label>: <bytes> in <time> (<rate>)`, or `failed`. */
  finish(ok = true): void {
    if (this.#finished) return;
    this.#finished = true;
    const elapsed = (this.#now() - this.#started) / 1000;
    const rate = elapsed > 0 ? this.#bytes / elapsed : this.#bytes;
    const summary = ok
      ? `${this.#opts.label}: ${formatBytes(this.#bytes)} in ${elapsed.toFixed(1)}s (${formatBytes(Math.round(rate))}/s)`
      : `${this.#opts.label}: failed after ${formatBytes(this.#bytes)}`;
    if (this.#out.isTTY) this.#draw(summary);
    else this.#out.write(`${summary}\n`);
    if (this.#out.isTTY) this.#out.write('\n');
  }

  #draw(text: string): void {
    const width = this.#out.columns;
    const fitted = width !== undefined && width > 1 && text.length >= width ? text.slice(0, width - 1) : text;
    // \r back to the start of the line, \x1b[K clears what a longer previous line left behind.
    this.#out.write(`\r${fitted}\x1b[K`);
    this.#drawn = true;
  }

  /** Whether anything was drawn in place (a terminal got the bar). */
  get drawn(): boolean {
    return this.#drawn;
  }
}

/** A pass-through stream that counts what flows through it into `progress`. */
export function progressStream(progress: Progress): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      progress.add(chunk.length);
      callback(null, chunk);
    },
  });
}
