/**
 * build-release.ts for real: esbuild bundles the agent, the tarball unpacks into the self-update
 * layout, and `current/bin/otter-agent` (run through the `current` symlink, as systemd does) answers
 * --health and --check with plain node and no node_modules next to it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { buildAgentRelease } from './build-release.js';

const dir = mkdtempSync(join(tmpdir(), 'otter-agent-release-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a built release runs from current/bin/otter-agent; MQTT is a chunk of its own', async () => {
  const tarball = await buildAgentRelease('1.2.3', join(dir, 'otter-agent-1.2.3.tgz'));
  const members = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
  assert.ok(members.includes('bin/otter-agent'), members.join(' '));
  assert.ok(members.includes('lib/otter-agent.mjs'), members.join(' '));
  assert.ok(members.includes('VERSION'));

  const root = join(dir, 'opt');
  mkdirSync(join(root, 'releases', '1.2.3'), { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', join(root, 'releases', '1.2.3')]);
  symlinkSync(join('releases', '1.2.3'), join(root, 'current'));
  assert.ok(readdirSync(join(root, 'current', 'lib', 'chunks')).some((f) => f.startsWith('mqtt-transport-')));

  const config = join(dir, 'agent.json5');
  writeFileSync(
    config,
    "{ thingName: 'd-1', endpoint: 'http://127.0.0.1:9', version: '1.0.0', stateDir: 'state', requireSignature: false }",
  );
  const bin = join(root, 'current', 'bin', 'otter-agent');
  // Run from a folder without node_modules: the release carries everything it needs.
  const health = spawnSync(bin, ['--config', config, '--health'], { cwd: dir, encoding: 'utf8' });
  assert.equal(health.status, 0, health.stderr);
  assert.match(health.stdout, /^healthy: .*agent\.json5 loads, .*state is writable/);
  const check = spawnSync(bin, ['--config', config, '--check'], { cwd: dir, encoding: 'utf8' });
  assert.equal(check.status, 0, check.stderr);
  const bad = spawnSync(bin, ['--config', join(dir, 'missing.json5'), '--health'], {
    cwd: dir,
    encoding: 'utf8',
  });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /cannot read/);
  await assert.rejects(buildAgentRelease('../evil', join(dir, 'x.tgz')), /not a plain release name/);
});
