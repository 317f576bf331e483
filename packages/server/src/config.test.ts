import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadServerConfig, SERVER_SETTINGS } from './config.js';

const dir = mkdtempSync(join(tmpdir(), 'otter-config-'));
const file = (text: string) => {
  const p = join(dir, `c${Math.random()}.json5`);
  writeFileSync(p, text);
  return p;
};

test('defaults, then file, then environment', () => {
  const d = loadServerConfig({});
  assert.equal(d.port, 8780);
  assert.equal(d.accountId, '123456789012');
  assert.equal(d.databaseUrl, undefined);
  const f = file("{ port: 9000, logLevel: 'warn', /* JSON5 */ }");
  const c = loadServerConfig({ OTTER_PORT: '9001' }, f);
  assert.equal(c.port, 9001);
  assert.equal(c.logLevel, 'warn');
});

test('bad settings fail fast with the key named', () => {
  assert.throws(
    () => loadServerConfig({}, file('{ prot: 1 }')),
    (e: Error) => e instanceof ConfigError && /prot/.test(e.message),
  );
  assert.throws(() => loadServerConfig({ OTTER_PORT: '70000' }), /OTTER_PORT/);
  assert.throws(() => loadServerConfig({ OTTER_ACCOUNT_ID: '12' }), /accountId/);
  assert.throws(() => loadServerConfig({ OTTER_ACCESS_KEY_ID: 'AKIA1' }), /secretAccessKey/);
  assert.throws(() => loadServerConfig({ OTTER_ALLOW_ANONYMOUS: 'maybe' }), /true or false/);
  assert.throws(() => loadServerConfig({}, join(dir, 'missing.json5')), /cannot read config file/);
});

test('docs/configuration.md lists every setting and its variable', () => {
  const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
  for (const [key, s] of Object.entries(SERVER_SETTINGS)) {
    assert.ok(
      doc.includes(`| \`${key}\` | \`${s.env}\` |`),
      `docs/configuration.md is missing ${key} / ${s.env}`,
    );
  }
});
