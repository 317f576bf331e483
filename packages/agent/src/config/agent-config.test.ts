import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { generateSigningKey } from '@otter/core';
import { AgentConfigError, loadAgentConfig, validateAgentConfig } from './agent-config.js';
import { cronWindowState, parseCronWindow } from './cron-window.js';
import { parseDurationSeconds } from './duration.js';
import { SCHEMA_FILE, schemaJson } from './print-schema.js';

const dir = mkdtempSync(join(tmpdir(), 'otter-agent-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const key = generateSigningKey('ED25519');
writeFileSync(join(dir, 'release.pub.pem'), key.publicKeyPem);

const minimal = {
  thingName: 'dev-1',
  endpoint: 'http://127.0.0.1:8080',
  version: '1.0.0',
  trustedKeys: ['release.pub.pem'],
};

async function issuesOf(input: unknown): Promise<string[]> {
  try {
    await validateAgentConfig(input, { baseDir: dir });
  } catch (e) {
    assert.ok(e instanceof AgentConfigError, String(e));
    assert.equal(e.type, 'ValidationException');
    return e.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail('expected an AgentConfigError');
}

describe('agent configuration', () => {
  it('fills defaults and resolves paths against the file folder', async () => {
    writeFileSync(
      join(dir, 'agent.json5'),
      `// comments and trailing commas are JSON5
      { thingName: 'dev-1', endpoint: 'http://127.0.0.1:8080', version: '1.0.0',
        trustedKeys: ['release.pub.pem'], stateDir: 'state', update: { period: '15min', jitter: 30 }, }`,
    );
    const c = await loadAgentConfig(join(dir, 'agent.json5'));
    assert.equal(c.transport, 'http');
    assert.equal(c.stateDir, join(dir, 'state'));
    assert.equal(c.downloadDir, join(dir, 'state', 'downloads'));
    assert.equal(c.update.periodSeconds, 900);
    assert.equal(c.update.jitterSeconds, 30);
    assert.equal(c.update.throttleMs, 0);
    assert.equal(c.update.schedule.aws, 'cron(* * * * ? *)');
    assert.deepEqual(c.services, { update: true });
    assert.deepEqual(c.handlers.enabled, ['apt', 'script', 'file', 'agent']);
    assert.equal(c.requireSignature, true);
    assert.equal(c.trustedKeys.length, 1);
    assert.equal(c.trustedKeys[0]?.keyId, key.keyId);
    assert.equal(c.download.maxBytes, 4294967296);
    assert.equal(c.logLevel, 'info');
    assert.deepEqual(c.rebootCommand, ['systemctl', 'reboot']);
    assert.equal(c.rebootTimeoutSeconds, 600);
  });

  it('accepts inline PEM keys and leaves its input untouched', async () => {
    const input = { ...minimal, trustedKeys: [key.publicKeyPem] };
    const before = JSON.stringify(input);
    const c = await validateAgentConfig(input, { baseDir: dir });
    assert.equal(c.trustedKeys[0]?.source, 'inline #0');
    assert.equal(JSON.stringify(input), before);
  });

  it('reads handlers.fileRoots, packageName, mqtt.tokenFile and selfUpdate', async () => {
    mkdirSync(join(dir, 'opt'), { recursive: true });
    writeFileSync(join(dir, 'token'), 'secret\n');
    const plain = await validateAgentConfig(minimal, { baseDir: dir });
    assert.deepEqual(plain.handlers.fileRoots, []);
    assert.equal(plain.selfUpdate, undefined);
    assert.equal(plain.packageName, undefined);
    assert.deepEqual(plain.mqtt, {});
    const c = await validateAgentConfig(
      {
        ...minimal,
        handlers: { fileRoots: ['app', '/srv/data'] },
        packageName: 'sensor-fw',
        mqtt: { tokenFile: 'token' },
        selfUpdate: { installRoot: 'opt', healthCommand: ['/bin/true'] },
      },
      { baseDir: dir },
    );
    assert.deepEqual(c.handlers.fileRoots, [join(dir, 'app'), '/srv/data']);
    assert.equal(c.packageName, 'sensor-fw');
    assert.equal(c.mqtt.tokenFile, join(dir, 'token'));
    assert.deepEqual(c.selfUpdate, {
      installRoot: join(dir, 'opt'),
      healthCommand: ['/bin/true'],
      healthTimeoutSeconds: 30,
      restartDeadlineSeconds: 120,
      maxUnconfirmedStarts: 3,
    });
  });

  it('refuses bad self-update, package and token settings', async () => {
    const issues = await issuesOf({
      ...minimal,
      packageName: 'no spaces please',
      mqtt: { tokenFile: 'missing-token' },
      selfUpdate: { installRoot: 'no-such-root', healthTimeoutSeconds: 0 },
    });
    const has = (prefix: string) =>
      assert.ok(
        issues.some((i) => i.startsWith(prefix)),
        `${prefix}\n${issues.join('\n')}`,
      );
    has('packageName: must be');
    has('selfUpdate.healthTimeoutSeconds:');
    const files = await issuesOf({
      ...minimal,
      mqtt: { tokenFile: 'missing-token' },
      selfUpdate: { installRoot: 'no-such-root' },
    });
    assert.ok(
      files.some((i) => i.startsWith('mqtt.tokenFile: cannot read')),
      files.join('\n'),
    );
    assert.ok(
      files.some((i) => i.startsWith('selfUpdate.installRoot: cannot read')),
      files.join('\n'),
    );
    assert.ok(
      (await issuesOf({ ...minimal, selfUpdate: {} })).includes('selfUpdate.installRoot: is required'),
    );
  });

  it('names the path of every problem', async () => {
    const issues = await issuesOf({
      ...minimal,
      thingName: 'bad name',
      colour: 'blue',
      transport: 'carrier-pigeon',
      update: { schedule: '61 * * * *', period: 'soon', throttle: -1 },
      download: { maxBytes: 'lots' },
    });
    assert.ok(
      issues.some((i) => i.startsWith('thingName: must be')),
      issues.join('\n'),
    );
    assert.ok(issues.includes('colour: unknown key'), issues.join('\n'));
    assert.ok(issues.includes('transport: must be one of http, mqtt'), issues.join('\n'));
    assert.ok(
      issues.some((i) => i.startsWith('update.period: must be seconds')),
      issues.join('\n'),
    );
    assert.ok(
      issues.some((i) => i.startsWith('update.throttle:')),
      issues.join('\n'),
    );
    assert.ok(
      issues.some((i) => i.startsWith('download.maxBytes:')),
      issues.join('\n'),
    );
  });

  it('checks cron windows, jitter, keys, files and cross-field rules', async () => {
    const issues = await issuesOf({
      ...minimal,
      endpoint: 'https://otter.local:8785',
      transport: 'mqtt',
      update: { schedule: '61 * * * *', apply: '0 22 1 * MON', period: 60, jitter: 120 },
      trustedKeys: ['missing.pem', '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'],
      caFile: 'nope.pem',
      managedRespawn: true,
    });
    const has = (prefix: string) =>
      assert.ok(
        issues.some((i) => i.startsWith(prefix)),
        `${prefix}\n${issues.join('\n')}`,
      );
    has("update.schedule: invalid cron expression '61 * * * *'");
    has('update.apply: invalid cron expression');
    has('update.jitter: must not exceed update.period');
    has('trustedKeys.0: cannot read');
    has('trustedKeys.1:');
    has('caFile: cannot read');
    has('certificateFile: is required for an https endpoint');
    has('mqttUrl: is required when transport is mqtt');
    has('scriptsDir: is required when managedRespawn is true');
    assert.deepEqual(await issuesOf({ ...minimal, trustedKeys: [] }), [
      'trustedKeys: needs at least one public key while requireSignature is true',
    ]);
    await assert.doesNotReject(() =>
      validateAgentConfig({ ...minimal, trustedKeys: [], requireSignature: false }),
    );
    assert.deepEqual((await issuesOf({ thingName: 'x', version: 'v1' })).sort(), [
      'endpoint: is required',
      "version: must be the device software's version (SemVer 2.0)",
    ]);
    assert.match(
      (
        await issuesOf({
          ...minimal,
          trustedKeys: [readFileSync(join(dir, 'release.pub.pem'), 'utf8').replace('PUBLIC', 'PRIVATE')],
        })
      )[0] ?? '',
      /^trustedKeys\.0: /,
    );
  });

  it('managedRespawn needs executable pre-update and post-update scripts', async () => {
    const scripts = join(dir, 'scripts');
    mkdirSync(scripts, { recursive: true });
    writeFileSync(join(scripts, 'pre-update'), '#!/bin/sh\nexit 0\n');
    chmodSync(join(scripts, 'pre-update'), 0o755);
    writeFileSync(join(scripts, 'post-update'), '#!/bin/sh\nexit 0\n');
    const issues = await issuesOf({ ...minimal, scriptsDir: 'scripts', managedRespawn: true });
    assert.equal(issues.length, 1);
    assert.match(issues[0] ?? '', /^managedRespawn: .*post-update must exist and be executable/);
    chmodSync(join(scripts, 'post-update'), 0o755);
    const c = await validateAgentConfig(
      { ...minimal, scriptsDir: 'scripts', managedRespawn: true },
      { baseDir: dir },
    );
    assert.equal(c.scriptsDir, scripts);
  });

  it('reports unreadable and malformed files', async () => {
    await assert.rejects(() => loadAgentConfig(join(dir, 'absent.json5')), /cannot read .*ENOENT/);
    writeFileSync(join(dir, 'broken.json5'), '{ thingName: ');
    await assert.rejects(() => loadAgentConfig(join(dir, 'broken.json5')), /\(root\): not valid JSON5/);
  });

  it('docs/agent-config.schema.json is the code schema', async () => {
    assert.deepEqual(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')), JSON.parse(schemaJson()));
  });
});

describe('cron windows and durations', () => {
  it('translates 5-field cron to AWS cron', async () => {
    assert.equal((await parseCronWindow('* 22-23 * * *')).aws, 'cron(* 22-23 * * ? *)');
    assert.equal((await parseCronWindow('0 1 * * 1-5')).aws, 'cron(0 1 ? * 2-6 *)');
    assert.equal((await parseCronWindow('0 1 * * 0')).aws, 'cron(0 1 ? * 1 *)');
    assert.equal((await parseCronWindow('0 1 * * 5-7')).aws, 'cron(0 1 ? * 6-7,1 *)');
    assert.equal((await parseCronWindow('0 1 15 * *')).aws, 'cron(0 1 15 * ? *)');
    assert.equal((await parseCronWindow('cron(0 22 ? * MON-FRI *)')).aws, 'cron(0 22 ? * MON-FRI *)');
    await assert.rejects(() => parseCronWindow('0 1 15 * 1'), /not both/);
    await assert.rejects(() => parseCronWindow('* * *'), /expected 5 fields/);
    await assert.rejects(() => parseCronWindow('0 1 * * 8'), /day-of-week must be 0-7/);
  });

  it('says whether a minute is inside the window', async () => {
    const w = await parseCronWindow('* 22-23 * * *');
    assert.equal(cronWindowState(w, Date.UTC(2026, 0, 5, 22, 30)).open, true);
    assert.equal(cronWindowState(w, Date.UTC(2026, 0, 5, 23, 59, 30)).open, true);
    const closed = cronWindowState(w, Date.UTC(2026, 0, 5, 12, 0));
    assert.equal(closed.open, false);
    assert.equal(closed.opensAt, Date.UTC(2026, 0, 5, 22, 0));
    // Sunday (0) = 2026-01-04
    const sundays = await parseCronWindow('* * * * 0');
    assert.equal(cronWindowState(sundays, Date.UTC(2026, 0, 4, 10, 0)).open, true);
    assert.equal(cronWindowState(sundays, Date.UTC(2026, 0, 5, 10, 0)).open, false);
  });

  it('loads the cron parser only for a window that is not every minute', () => {
    // A fresh process: the whole agent library, a default (every-minute) configuration, an agent.
    const script = `
      import { createRequire } from 'node:module';
      const lib = await import(${JSON.stringify(new URL('../index.ts', import.meta.url).href)});
      const loaded = () => ({ flag: lib.cronParserLoaded(),
        cjs: Object.keys(createRequire(import.meta.url).cache).some((k) => /node_modules.(cron-parser|luxon)/.test(k)) });
      const raw = { thingName: 'd', endpoint: 'http://127.0.0.1:9', version: '1.0.0', requireSignature: false,
        stateDir: process.argv[1] };
      const config = await lib.validateAgentConfig(raw);
      lib.createAgent(config);
      const before = loaded();
      await lib.validateAgentConfig({ ...raw, update: { apply: '* 1-4 * * *' } });
      console.log(JSON.stringify({ before, after: loaded() }));
    `;
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script, join(dir, 'state-lazy')],
      { encoding: 'utf8' },
    );
    assert.deepEqual(JSON.parse(out), {
      before: { flag: false, cjs: false },
      after: { flag: true, cjs: true },
    });
  });

  it('parses durations', async () => {
    assert.equal(parseDurationSeconds(90), 90);
    assert.equal(parseDurationSeconds('90'), 90);
    assert.equal(parseDurationSeconds('15min'), 900);
    assert.equal(parseDurationSeconds('6hr'), 21600);
    assert.equal(parseDurationSeconds('1 day'), 86400);
    assert.throws(() => parseDurationSeconds('1 fortnight'), /invalid duration/);
  });
});
