/**
 * The agent self-update handler with real tarballs (system tar), symlinks and health-check processes
 * in temp folders: a good update, failing and hanging health checks, a crash (SIGKILL of a real
 * process) between unpack and switch, and releases it must refuse without changing anything.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type AgentUpdateState, createAgentUpdateHandler, readCurrentAgentRelease } from './agent-update.js';
import { createExec } from './exec.js';
import { createHandlerRegistry } from './registry.js';
import { testContext } from './test-context.fixture.js';

const FIXTURE = fileURLToPath(new URL('./agent-update-child.fixture.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'otter-agent-update-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const root = join(dir, 'opt');
let n = 0;

/** A release tarball whose bin/otter-agent prints its version and runs `health` for --health. */
function release(
  version: string,
  health = 'exit 0',
  opts: { folder?: string; extra?: (d: string) => void } = {},
) {
  const src = join(dir, `src-${++n}`);
  const base = opts.folder === undefined ? src : join(src, opts.folder);
  mkdirSync(join(base, 'bin'), { recursive: true });
  const bin = join(base, 'bin', 'otter-agent');
  writeFileSync(
    bin,
    `#!/bin/sh\nif [ "$1" = "--health" ]; then ${health}; fi\necho "otter-agent ${version}"\n`,
  );
  chmodSync(bin, 0o755);
  writeFileSync(join(base, 'VERSION'), version);
  opts.extra?.(base);
  const tarball = join(dir, `release-${n}.tgz`);
  execFileSync('tar', ['-czf', tarball, '-C', src, '.']);
  return [{ name: 'otter-agent.tgz', path: tarball }];
}

/** An install root with release 1.0.0 current, installed the way the handler does it. */
function installOld(): void {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(join(root, 'releases', '1.0.0', 'bin'), { recursive: true });
  const bin = join(root, 'releases', '1.0.0', 'bin', 'otter-agent');
  writeFileSync(bin, '#!/bin/sh\necho "otter-agent 1.0.0"\n');
  chmodSync(bin, 0o755);
  symlinkSync(join('releases', '1.0.0'), join(root, 'current'));
}

const currentBin = () =>
  execFileSync(join(root, 'current', 'bin', 'otter-agent'), { encoding: 'utf8' }).trim();
const releases = () => readdirSync(join(root, 'releases')).sort();
const handler = createAgentUpdateHandler({ installRoot: root, healthTimeoutMs: 1000 });

describe('agent self-update handler', () => {
  beforeEach(installOld);

  it('unpacks, switches current, health-checks, asks for a restart; rollback goes back', async () => {
    const ctx = testContext({}, release('2.0.0', 'echo healthy; exit 0'));
    assert.equal(await handler.isInstalled?.(ctx), false);
    const r = await handler.install(ctx);
    assert.equal(r.status, 'SUCCEEDED', r.reason);
    assert.equal(r.restartRequired, true);
    assert.equal(r.details?.restartRequired, 'true');
    assert.equal(r.details?.previousVersion, '1.0.0');
    assert.equal(readlinkSync(join(root, 'current')), join('releases', '2.0.0'));
    assert.equal(await readCurrentAgentRelease(root), '2.0.0');
    assert.deepEqual(releases(), ['1.0.0', '2.0.0']);
    assert.equal(ctx.saved.length, 1);
    assert.deepEqual(ctx.saved[0], { installRoot: root, version: '2.0.0', previousVersion: '1.0.0' });
    assert.equal(await handler.isInstalled?.(ctx), true);
    // What systemd would start after the restart, and its health check, run directly.
    assert.equal(currentBin(), 'otter-agent 2.0.0');
    const health = await createExec()(join(root, 'current', 'bin', 'otter-agent'), ['--health']);
    assert.equal(health.code, 0);
    assert.equal(health.stdout.trim(), 'healthy');

    // The restarted agent never reported healthy: the loop rolls back with the saved state.
    const back = await handler.rollback?.({ ...ctx, savedState: ctx.saved[0] });
    assert.equal(back?.status, 'SUCCEEDED', back?.reason);
    assert.equal(currentBin(), 'otter-agent 1.0.0');
    assert.deepEqual(releases(), ['1.0.0']);
    const again = await handler.rollback?.({ ...ctx, savedState: ctx.saved[0] });
    assert.equal(again?.status, 'SUCCEEDED');
    assert.equal(currentBin(), 'otter-agent 1.0.0');
  });

  it('accepts one top-level folder, keeps only current and previous releases, is a no-op when current', async () => {
    const first = await handler.install(
      testContext({}, release('2.0.0', 'exit 0', { folder: 'otter-agent-2.0.0' })),
    );
    assert.equal(first.status, 'SUCCEEDED', first.reason);
    assert.equal(readFileSync(join(root, 'current', 'VERSION'), 'utf8'), '2.0.0');
    const second = await handler.install(testContext({ version: '3.0.0' }, release('3.0.0')));
    assert.equal(second.status, 'SUCCEEDED', second.reason);
    assert.deepEqual(releases(), ['2.0.0', '3.0.0']);
    const same = await handler.install(testContext({ version: '3.0.0' }, release('3.0.0')));
    assert.equal(same.status, 'SUCCEEDED');
    assert.equal(same.restartRequired, undefined);
    assert.equal(currentBin(), 'otter-agent 3.0.0');
  });

  it('switches back to the old release when the health check fails or hangs', async () => {
    for (const [health, code] of [
      ['echo broken >&2; exit 3', 'HEALTH_CHECK_FAILED'],
      ['sleep 30', 'HEALTH_CHECK_TIMEOUT'],
    ] as const) {
      const started = Date.now();
      const r = await handler.install(testContext({}, release('2.0.0', health)));
      assert.equal(r.status, 'FAILED');
      assert.equal(r.reasonCode, code, r.reason);
      assert.equal(r.restartRequired, undefined);
      assert.match(r.details?.rollback ?? '', /current is 1\.0\.0 again/);
      assert.equal(currentBin(), 'otter-agent 1.0.0');
      assert.deepEqual(releases(), ['1.0.0']);
      assert.deepEqual(readdirSync(root).sort(), ['current', 'releases']);
      assert.ok(Date.now() - started < 10_000, 'the hanging health check was killed');
    }
    const broken = await handler.install(testContext({}, release('2.0.0', 'exit 1')));
    assert.match(broken.reason ?? '', /exited 1/);
  });

  it('a process killed between unpack and switch leaves the old release current; rollback cleans up', async () => {
    const stateFile = join(dir, 'state.json');
    const [file] = release('2.0.0');
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        FIXTURE,
        JSON.stringify({ root, tarball: file?.path, version: '2.0.0', stateFile, crashAt: 'unpacked' }),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const [code, signal] = await once(child, 'exit');
    assert.equal(signal, 'SIGKILL', `exit code ${code}`);
    assert.equal(currentBin(), 'otter-agent 1.0.0');
    assert.equal(
      readFileSync(join(root, 'releases', '1.0.0', 'bin', 'otter-agent'), 'utf8').includes('1.0.0'),
      true,
    );
    assert.deepEqual(releases(), ['1.0.0', '2.0.0']); // unpacked, never switched to
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as AgentUpdateState;
    const back = await handler.rollback?.(testContext({}, [], { savedState: state }));
    assert.equal(back?.status, 'SUCCEEDED', back?.reason);
    assert.match(back?.details?.rollback ?? '', /current was still 1\.0\.0/);
    assert.deepEqual(releases(), ['1.0.0']);
    // Killed after the switch (before the health check): rollback switches back.
    const after = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        FIXTURE,
        JSON.stringify({ root, tarball: file?.path, version: '2.0.0', stateFile, crashAt: 'switched' }),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await once(after, 'exit');
    assert.equal(currentBin(), 'otter-agent 2.0.0');
    const back2 = await handler.rollback?.(
      testContext({}, [], { savedState: JSON.parse(readFileSync(stateFile, 'utf8')) }),
    );
    assert.equal(back2?.status, 'SUCCEEDED', back2?.reason);
    assert.equal(currentBin(), 'otter-agent 1.0.0');
    assert.deepEqual(releases(), ['1.0.0']);
    // And the update then goes through.
    const r = await handler.install(testContext({}, [file!]));
    assert.equal(r.status, 'SUCCEEDED', r.reason);
  });

  it('refuses bad releases and parameters without changing anything', async () => {
    const notTar = join(dir, 'not-a-tarball.tgz');
    writeFileSync(notTar, 'hello');
    const evil = join(dir, 'evil.tar');
    const evilSrc = join(dir, 'evil-src');
    mkdirSync(join(evilSrc, 'bin'), { recursive: true });
    writeFileSync(join(evilSrc, 'bin', 'otter-agent'), '#!/bin/sh\n');
    execFileSync('tar', ['-cf', evil, '-P', '-C', evilSrc, '--transform=s,^bin,../bin,', 'bin']);
    const cases: [Record<string, unknown>, { name: string; path: string }[], string][] = [
      [{}, [{ name: 'x', path: notTar }], 'INVALID_RELEASE'],
      [{}, [{ name: 'x', path: evil }], 'INVALID_RELEASE'],
      [
        {},
        release('2.0.0', 'exit 0', { extra: (d) => symlinkSync('/etc/passwd', join(d, 'passwd')) }),
        'INVALID_RELEASE',
      ],
      [
        {},
        release('2.0.0', 'exit 0', { extra: (d) => symlinkSync('../../x', join(d, 'bin', 'up')) }),
        'INVALID_RELEASE',
      ],
      [
        {},
        release('2.0.0', 'exit 0', { extra: (d) => rmSync(join(d, 'bin'), { recursive: true }) }),
        'INVALID_RELEASE',
      ],
      [{ version: '../2.0.0' }, release('2.0.0'), 'INVALID_VERSION'],
      [{ version: 'current/x' }, release('2.0.0'), 'INVALID_VERSION'],
      [{ version: 7 }, release('2.0.0'), 'INVALID_VERSION'],
      [{ colour: 'red' }, release('2.0.0'), 'INVALID_PARAMS'],
      [{ file: 'other.tgz' }, release('2.0.0'), 'FILE_NOT_FOUND'],
      [{}, [], 'FILE_NOT_FOUND'],
    ];
    for (const [params, files, reasonCode] of cases) {
      const ctx = testContext(params, files);
      const r = await handler.install(ctx);
      assert.equal(r.status, 'REJECTED', `${reasonCode}: ${r.reason}`);
      assert.equal(r.reasonCode, reasonCode, r.reason);
      assert.equal(currentBin(), 'otter-agent 1.0.0');
      assert.deepEqual(releases(), ['1.0.0']);
      assert.deepEqual(readdirSync(root).sort(), ['current', 'releases']);
    }
    const noJobVersion = await handler.install(testContext({}, release('2.0.0'), { job: { jobId: 'j' } }));
    assert.equal(noJobVersion.reasonCode, 'INVALID_VERSION');
    const missing = createAgentUpdateHandler({ installRoot: join(dir, 'nowhere') });
    const r = await missing.install(testContext({}, release('2.0.0')));
    assert.equal(r.status, 'FAILED');
    assert.equal(r.reasonCode, 'AGENT_ROOT_MISSING');
    assert.equal(existsSync(join(dir, 'nowhere')), false);
    const bad = await handler.rollback?.(testContext({}, [], { savedState: { version: '../x' } }));
    assert.equal(bad?.reasonCode, 'NO_SAVED_STATE');
  });

  it('is the built-in `agent` handler once the registry knows the install root', () => {
    const registry = createHandlerRegistry({ allowedRoots: [], agentUpdate: { installRoot: root } });
    assert.equal(registry.lookup('agent').handler?.name, 'agent');
    const unconfigured = createHandlerRegistry({ allowedRoots: [] });
    assert.equal(unconfigured.lookup('agent').error?.reasonCode, 'HANDLER_NOT_AVAILABLE');
    const off = createHandlerRegistry({
      allowedRoots: [],
      enabled: ['file'],
      agentUpdate: { installRoot: root },
    });
    assert.equal(off.lookup('agent').error?.reasonCode, 'HANDLER_DISABLED');
  });
});
