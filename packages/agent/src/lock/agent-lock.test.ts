import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AgentLockError, acquireAgentLock, LOCK_FILE } from './agent-lock.js';

const FIXTURE = fileURLToPath(new URL('./lock-holder.fixture.ts', import.meta.url));
const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'otter-agent-lock-'));
  dirs.push(d);
  return d;
};
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Starts a real agent-lock process; resolves with it and its first output line. */
async function holder(
  stateDir: string,
): Promise<{ child: ChildProcess; line: string; code?: number | null }> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, stateDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  while (!out.includes('\n')) {
    const winner = await Promise.race([exited, new Promise((r) => setTimeout(r, 20, 'wait'))]);
    if (winner !== 'wait') return { child, line: out.trim(), code: winner as number | null };
  }
  if (!out.startsWith('locked')) return { child, line: out.trim(), code: await exited };
  return { child, line: out.trim() };
}

describe('agent lock', () => {
  it('refuses a second agent while a real process holds it, then takes over once it is killed', async () => {
    const dir = fresh();
    const first = await holder(dir);
    assert.equal(first.line, `locked ${first.child.pid}`);
    assert.throws(
      () => acquireAgentLock(dir),
      (e: unknown) =>
        e instanceof AgentLockError &&
        e.owner?.pid === first.child.pid &&
        /already running on this device \(pid \d+/.test(e.message),
    );
    const second = await holder(dir);
    assert.equal(second.code, 3);
    assert.match(second.line, new RegExp(`already running on this device \\(pid ${first.child.pid}`));

    first.child.kill('SIGKILL');
    await once(first.child, 'exit');
    const lock = acquireAgentLock(dir);
    assert.equal(lock.tookOver?.pid, first.child.pid);
    assert.equal(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
    const third = await holder(dir);
    assert.equal(third.code, 3, 'our own live lock keeps other processes out');
    lock.release();
    const fourth = await holder(dir);
    assert.equal(fourth.line, `locked ${fourth.child.pid}`);
    fourth.child.kill('SIGKILL');
    await once(fourth.child, 'exit');
  });

  it('treats a reused pid and an old torn lock file as stale', () => {
    const dir = fresh();
    // pid 1 exists but started long before this "owner" did
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: 1, startedAt: Date.now() - 1000 }));
    const lock = acquireAgentLock(dir);
    assert.equal(lock.tookOver?.pid, 1);
    lock.release();
    writeFileSync(join(dir, LOCK_FILE), '');
    assert.throws(() => acquireAgentLock(dir), /is being written/);
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(dir, LOCK_FILE), old, old);
    acquireAgentLock(dir).release();
  });

  it('release leaves a lock that is no longer ours alone', () => {
    const dir = fresh();
    const lock = acquireAgentLock(dir);
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: 999999, startedAt: 1 }));
    lock.release();
    assert.equal(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid, 999999);
  });
});
