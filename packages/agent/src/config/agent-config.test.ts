import assert from 'node:assert/strict';
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

function issuesOf(input: unknown): string[] {
  try {
    validateAgentConfig(input, { baseDir: dir });
  } catch (e) {
    assert.ok(e instanceof AgentConfigError, String(e));
    assert.equal(e.type, 'ValidationException');
    return e.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail('expected an AgentConfigError');
}

describe('agent configuration', () => {
  it('fills defaults and resolves paths against the file folder', () => {
    writeFileSync(
      join(dir, 'agent.json5'),
      `// comments and trailing commas are JSON5
      { thingName: 'dev-1', endpoint: 'http://127.0.0.1:8080', version: '1.0.0',
        trustedKeys: ['release.pub.pem'], stateDir: 'state', update: { period: '15min', jitter: 30 }, }`,
    );
    const c = loadAgentConfig(join(dir, 'agent.json5'));
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
  });

  it('accepts inline PEM keys and leaves its input untouched', () => {
    const input = { ...minimal, trustedKeys: [key.publicKeyPem] };
    const before = JSON.stringify(input);
    const c = validateAgentConfig(input, { baseDir: dir });
    assert.equal(c.trustedKeys[0]?.source, 'inline #0');
    assert.equal(JSON.stringify(input), before);
  });

  it('reads handlers.fileRoots, packageName, mqtt.tokenFile and selfUpdate', () => {
    mkdirSync(join(dir, 'opt'), { recursive: true });
    writeFileSync(join(dir, 'token'), 'secret\n');
    const plain = validateAgentConfig(minimal, { baseDir: dir });
    assert.deepEqual(plain.handlers.fileRoots, []);
    assert.equal(plain.selfUpdate, undefined);
    assert.equal(plain.packageName, undefined);
    assert.deepEqual(plain.mqtt, {});
    const c = validateAgentConfig(
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
    });
  });

  it('refuses bad self-update, package and token settings', () => {
    const issues = issuesOf({
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
    const files = issuesOf({
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
    assert.ok(issuesOf({ ...minimal, selfUpdate: {} }).includes('selfUpdate.installRoot: is required'));
  });

  it('names the path of every problem', () => {
    const issues = issuesOf({
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

  it('checks cron windows, jitter, keys, files and cross-field rules', () => {
    const issues = issuesOf({
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
    assert.deepEqual(issuesOf({ ...minimal, trustedKeys: [] }), [
      'trustedKeys: needs at least one public key while requireSignature is true',
    ]);
    assert.doesNotThrow(() => validateAgentConfig({ ...minimal, trustedKeys: [], requireSignature: false }));
    assert.deepEqual(issuesOf({ thingName: 'x', version: 'v1' }).sort(), [
      'endpoint: is required',
      "version: must be the device software's version (SemVer 2.0)",
    ]);
    assert.match(
      issuesOf({
        ...minimal,
        trustedKeys: [readFileSync(join(dir, 'release.pub.pem'), 'utf8').replace('PUBLIC', 'PRIVATE')],
      })[0] ?? '',
      /^trustedKeys\.0: /,
    );
  });

  it('managedRespawn needs executable pre-update and post-update scripts', () => {
    const scripts = join(dir, 'scripts');
    mkdirSync(scripts, { recursive: true });
    writeFileSync(join(scripts, 'pre-update'), '#!/bin/sh\nexit 0\n');
    chmodSync(join(scripts, 'pre-update'), 0o755);
    writeFileSync(join(scripts, 'post-update'), '#!/bin/sh\nexit 0\n');
    const issues = issuesOf({ ...minimal, scriptsDir: 'scripts', managedRespawn: true });
    assert.equal(issues.length, 1);
    assert.match(issues[0] ?? '', /^managedRespawn: .*post-update must exist and be executable/);
    chmodSync(join(scripts, 'post-update'), 0o755);
    const c = validateAgentConfig(
      { ...minimal, scriptsDir: 'scripts', managedRespawn: true },
      { baseDir: dir },
    );
    assert.equal(c.scriptsDir, scripts);
  });

  it('reports unreadable and malformed files', () => {
    assert.throws(() => loadAgentConfig(join(dir, 'absent.json5')), /cannot read .*ENOENT/);
    writeFileSync(join(dir, 'broken.json5'), '{ thingName: ');
    assert.throws(() => loadAgentConfig(join(dir, 'broken.json5')), /\(root\): not valid JSON5/);
  });

  it('docs/agent-config.schema.json is the code schema', () => {
    assert.deepEqual(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')), JSON.parse(schemaJson()));
  });
});

describe('cron windows and durations', () => {
  it('translates 5-field cron to AWS cron', () => {
    assert.equal(parseCronWindow('* 22-23 * * *').aws, 'cron(* 22-23 * * ? *)');
    assert.equal(parseCronWindow('0 1 * * 1-5').aws, 'cron(0 1 ? * 2-6 *)');
    assert.equal(parseCronWindow('0 1 * * 0').aws, 'cron(0 1 ? * 1 *)');
    assert.equal(parseCronWindow('0 1 * * 5-7').aws, 'cron(0 1 ? * 6-7,1 *)');
    assert.equal(parseCronWindow('0 1 15 * *').aws, 'cron(0 1 15 * ? *)');
    assert.equal(parseCronWindow('cron(0 22 ? * MON-FRI *)').aws, 'cron(0 22 ? * MON-FRI *)');
    assert.throws(() => parseCronWindow('0 1 15 * 1'), /not both/);
    assert.throws(() => parseCronWindow('* * *'), /expected 5 fields/);
    assert.throws(() => parseCronWindow('0 1 * * 8'), /day-of-week must be 0-7/);
  });

  it('says whether a minute is inside the window', () => {
    const w = parseCronWindow('* 22-23 * * *');
    assert.equal(cronWindowState(w, Date.UTC(2026, 0, 5, 22, 30)).open, true);
    assert.equal(cronWindowState(w, Date.UTC(2026, 0, 5, 23, 59, 30)).open, true);
    const closed = cronWindowState(w, Date.UTC(2026, 0, 5, 12, 0));
    assert.equal(closed.open, false);
    assert.equal(closed.opensAt, Date.UTC(2026, 0, 5, 22, 0));
    // Sunday (0) = 2026-01-04
    const sundays = parseCronWindow('* * * * 0');
    assert.equal(cronWindowState(sundays, Date.UTC(2026, 0, 4, 10, 0)).open, true);
    assert.equal(cronWindowState(sundays, Date.UTC(2026, 0, 5, 10, 0)).open, false);
  });

  it('parses durations', () => {
    assert.equal(parseDurationSeconds(90), 90);
    assert.equal(parseDurationSeconds('90'), 90);
    assert.equal(parseDurationSeconds('15min'), 900);
    assert.equal(parseDurationSeconds('6hr'), 21600);
    assert.equal(parseDurationSeconds('1 day'), 86400);
    assert.throws(() => parseDurationSeconds('1 fortnight'), /invalid duration/);
  });
});
