/**
 * The launcher (`<installRoot>/launcher`) with real processes: a new release whose entry point
 * exits non-zero at once is started `maxUnconfirmedStarts` times, then the launcher switches
 * `current` back and starts the previous release; the handler's confirm (run by the old agent at
 * its start) says FAILED RELEASE_CRASHED and its rollback removes the crashed release. A release
 * that confirms itself clears the count.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../loop/logger.js';
import { createAgentUpdateHandler, writeAgentLauncher } from './agent-update.js';
import { createExec } from './exec.js';
import type { HandlerContext } from './handler.js';

const work = mkdtempSync(join(tmpdir(), 'otter-agent-launcher-'));
after(() => rmSync(work, { recursive: true, force: true }));

function release(root: string, version: string, script: string): void {
  mkdirSync(join(root, 'releases', version, 'bin'), { recursive: true });
  const bin = join(root, 'releases', version, 'bin', 'otter-agent');
  writeFileSync(bin, `#!/bin/sh\n${script}\n`);
  chmodSync(bin, 0o755);
}

const ctx = (root: string, savedState: unknown): HandlerContext => ({
  workDir: root,
  files: [],
  params: {},
  logger: silentLogger,
  signal: new AbortController().signal,
  exec: createExec(),
  savedState,
  job: { jobId: 'j' },
});

/** The install as the handler leaves it before the restart: current on 2.0.0, marked unconfirmed. */
async function installed(name: string, newScript: string) {
  const root = join(work, name);
  release(root, '1.0.0', 'echo "old release $*"; exit 0');
  release(root, '2.0.0', newScript);
  const state = { installRoot: root, version: '2.0.0', previousVersion: '1.0.0' };
  const launcher = await writeAgentLauncher(root);
  // What install() does after the health check: switch, then mark the release unconfirmed.
  symlinkSync(join('releases', '2.0.0'), join(root, 'current'));
  writeFileSync(join(root, 'unconfirmed'), '2.0.0 1.0.0 3\n');
  return { root, state, launcher };
}

describe('agent launcher: automatic rollback of a crashing release', () => {
  it('rolls back after 3 starts without confirmation; confirm says RELEASE_CRASHED', async () => {
    const { root, state, launcher } = await installed('crash', 'echo "new release crashes" >&2; exit 1');
    const codes: (number | null)[] = [];
    const outputs: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = spawnSync(launcher, ['--config', 'x'], { encoding: 'utf8' });
      codes.push(r.status);
      outputs.push(r.stdout + r.stderr);
    }
    assert.deepEqual(codes, [1, 1, 1, 0], outputs.join('\n'));
    assert.match(outputs[3] ?? '', /started 3 times without confirming itself; back to 1\.0\.0/);
    assert.match(outputs[3] ?? '', /old release --config x/);
    assert.equal(readlinkSync(join(root, 'current')), join('releases', '1.0.0'));
    assert.equal(existsSync(join(root, 'unconfirmed')), false);

    // The old agent starts with the journal at `restarting`: confirm, then the loop rolls back.
    const handler = createAgentUpdateHandler({ installRoot: root, healthCommand: ['true'] });
    const confirmed = await handler.confirm(ctx(root, state));
    assert.equal(confirmed.status, 'FAILED');
    assert.equal(confirmed.reasonCode, 'RELEASE_CRASHED');
    assert.match(confirmed.reason ?? '', /started 3 times .* back to 1\.0\.0/);
    const rolledBack = await handler.rollback?.(ctx(root, state));
    assert.equal(rolledBack?.status, 'SUCCEEDED');
    assert.equal(existsSync(join(root, 'releases', '2.0.0')), false, 'the crashed release is removed');
    assert.equal(existsSync(join(root, 'rolled-back')), false);
    // Later starts run the old release with nothing to count.
    const again = spawnSync(launcher, [], { encoding: 'utf8' });
    assert.equal(again.status, 0);
    assert.match(again.stdout, /old release/);
  });

  it('a release that confirms itself is not rolled back', async () => {
    const { root, state, launcher } = await installed('ok', 'echo "new release $*"; exit 0');
    assert.equal(spawnSync(launcher, [], { encoding: 'utf8' }).status, 0);
    const handler = createAgentUpdateHandler({ installRoot: root, healthCommand: ['true'] });
    const confirmed = await handler.confirm(ctx(root, state));
    assert.equal(confirmed.status, 'SUCCEEDED', confirmed.reason);
    assert.equal(existsSync(join(root, 'unconfirmed')), false);
    assert.equal(existsSync(join(root, 'unconfirmed-starts')), false);
    for (let i = 0; i < 5; i++) {
      const r = spawnSync(launcher, [], { encoding: 'utf8' });
      assert.match(r.stdout, /new release/);
    }
    assert.equal(readlinkSync(join(root, 'current')), join('releases', '2.0.0'));
  });
});
