import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, test } from 'node:test';
import { formatBytes, formatDuration, Progress, type ProgressOutput, progressStream } from './progress.js';

function output(isTTY: boolean, columns?: number): ProgressOutput & { text: string } {
  const out = {
    isTTY,
    columns,
    text: '',
    write(s: string) {
      out.text += s;
      return true;
    },
  };
  return out;
}

describe('progress', () => {
  test('formatBytes and formatDuration', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1536), '1.50 KiB');
    assert.equal(formatBytes(50 * 1024 * 1024), '50.0 MiB');
    assert.equal(formatBytes(3 * 1024 ** 3), '3.00 GiB');
    assert.equal(formatDuration(42.4), '42s');
    assert.equal(formatDuration(187), '3m07s');
    assert.equal(formatDuration(7500), '2h05m');
  });

  test('on a terminal: one line redrawn in place with percent, bytes, rate and ETA', () => {
    let now = 0;
    const out = output(true, 200);
    const p = new Progress({ total: 4096, label: 'uploading fw.bin', output: out, now: () => now });
    now = 1000;
    p.add(1024);
    now = 1050; // within the redraw interval: no redraw
    p.add(1024);
    now = 2000;
    p.add(1024);
    const draws = out.text.split('\r').filter(Boolean);
    assert.equal(draws.length, 2);
    assert.equal(draws[0], 'uploading fw.bin   25%  1.00 KiB / 4.00 KiB  1.00 KiB/s  ETA 3s\x1b[K');
    assert.equal(draws[1], 'uploading fw.bin   75%  3.00 KiB / 4.00 KiB  1.50 KiB/s  ETA 1s\x1b[K');
    assert.doesNotMatch(out.text, /\n/);
    p.add(1024);
    p.finish();
    assert.ok(out.text.endsWith('\ruploading fw.bin: 4.00 KiB in 2.0s (2.00 KiB/s)\x1b[K\n'), out.text);
    p.finish(); // idempotent
    assert.equal(out.text.split('\n').length, 2);
  });

  test('a narrow terminal gets a cut line, never a wrapped one', () => {
    let now = 0;
    const out = output(true, 20);
    const p = new Progress({
      total: 100,
      label: 'uploading a-rather-long-name.bin',
      output: out,
      now: () => now,
    });
    now = 500;
    p.add(10);
    assert.equal(out.text, `\r${'uploading a-rather-long-name.bin'.slice(0, 19)}\x1b[K`);
  });

  test('not a terminal: no bar, only the final line', () => {
    let now = 0;
    const out = output(false);
    const p = new Progress({ total: 2048, label: 'uploading fw.bin', output: out, now: () => now });
    for (let i = 0; i < 10; i++) {
      now += 100;
      p.add(205);
    }
    assert.equal(out.text, '');
    p.finish(false);
    assert.equal(out.text, 'uploading fw.bin: failed after 2.00 KiB\n');
    assert.equal(p.drawn, false);
  });

  test('progressStream counts every byte that flows through, unchanged', async () => {
    const out = output(false);
    const p = new Progress({ total: 0, label: 'x', output: out });
    const chunks: Buffer[] = [];
    await pipeline(
      Readable.from([Buffer.alloc(10, 1), Buffer.alloc(5, 2)]),
      progressStream(p),
      new Writable({
        write(chunk: Buffer, _e, cb) {
          chunks.push(chunk);
          cb();
        },
      }),
    );
    assert.equal(p.bytes, 15);
    assert.deepEqual(Buffer.concat(chunks), Buffer.concat([Buffer.alloc(10, 1), Buffer.alloc(5, 2)]));
    assert.match(p.line(), /^x {2}15 B {2}/);
  });
});
