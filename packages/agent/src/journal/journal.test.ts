import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { JOURNAL_FILE, Journal, JournalError } from './journal.js';

const FIXTURE = fileURLToPath(new URL('./journal-writer.fixture.ts', import.meta.url));
const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'otter-agent-journal-'));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('journal', () => {
  it('records begin, steps and finish, and survives a reload', () => {
    const dir = fresh();
    let t = 1000;
    const j = new Journal(dir, { now: () => t++ });
    assert.equal(j.load(), undefined);
    j.begin({ jobId: 'job-1', executionNumber: 3, versionNumber: 2, installedBefore: { fw: '1.0.0' } });
    j.step('download', { data: { bytes: 10 }, files: ['/d/fw.bin'] });
    j.step('install', { installedBefore: { lib: '0.9' } });
    const again = new Journal(dir).load();
    assert.equal(again?.jobId, 'job-1');
    assert.equal(again?.executionNumber, 3);
    assert.equal(again?.step, 'install');
    assert.deepEqual(again?.files, ['/d/fw.bin']);
    assert.deepEqual(again?.installedBefore, { fw: '1.0.0', lib: '0.9' });
    assert.deepEqual(
      again?.steps.map((s) => s.name),
      ['begin', 'download', 'install'],
    );
    assert.equal(again?.attempt, 1);
    const done = j.finish('FAILED', 'HASH_MISMATCH');
    assert.equal(done.status, 'FAILED');
    assert.equal(done.reason, 'HASH_MISMATCH');
    assert.throws(() => j.step('more'), JournalError);
    j.clear();
    assert.equal(new Journal(dir).load(), undefined);
  });

  it('counts attempts when the same job is begun again and refuses another job meanwhile', () => {
    const dir = fresh();
    const j = new Journal(dir);
    j.begin({ jobId: 'a', executionNumber: 1, installedBefore: { fw: '1.0.0' } });
    j.step('download');
    const k = new Journal(dir);
    k.load();
    assert.throws(() => k.begin({ jobId: 'b', executionNumber: 1 }), /still IN_PROGRESS/);
    const s = k.begin({ jobId: 'a', executionNumber: 1, installedBefore: { fw: '2.0.0' } });
    assert.equal(s.attempt, 2);
    assert.deepEqual(s.installedBefore, { fw: '1.0.0' }, 'the first record of what was installed wins');
    k.finish('SUCCEEDED');
    assert.equal(k.begin({ jobId: 'b' }).attempt, 1);
  });

  it('ignores a torn temp file and refuses a corrupt journal with a typed error', () => {
    const dir = fresh();
    const j = new Journal(dir);
    j.begin({ jobId: 'a' });
    writeFileSync(join(dir, `${JOURNAL_FILE}.tmp`), '{"v":1,"sum":"ab');
    assert.equal(new Journal(dir).load()?.jobId, 'a');
    assert.equal(existsSync(join(dir, `${JOURNAL_FILE}.tmp`)), false);
    writeFileSync(join(dir, JOURNAL_FILE), '{"v":1,"sum":"00","state":"{}"}');
    assert.throws(
      () => new Journal(dir).load(),
      (e: unknown) => e instanceof JournalError && /checksum/.test(e.message),
    );
    writeFileSync(join(dir, JOURNAL_FILE), '{"v":1,');
    assert.throws(() => new Journal(dir).load(), /corrupt \(not JSON\)/);
  });

  it('is always the old or the new state when a writer is SIGKILLed at random points', async () => {
    const dir = fresh();
    let last = 0;
    for (let round = 0; round < 12; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, dir], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      while (!out.includes('started') && child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, Math.random() * 150));
      child.kill('SIGKILL');
      await once(child, 'exit');
      const state = new Journal(dir).load(); // throws if corrupt
      assert.ok(state, 'a journal exists');
      const i = state.steps.at(-1)?.data?.i as number;
      assert.equal(state.step, `step-${i}`);
      assert.deepEqual(state.files, [`/f/${i}`]);
      assert.ok(i >= last, `progress never goes back (${i} after ${last})`);
      assert.equal(state.attempt, round + 1);
      last = i;
    }
    assert.ok(last > 12, `the writers made progress (${last})`);
  });
});
