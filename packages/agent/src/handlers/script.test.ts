/** The script handler runs real sh scripts with the downloaded file, env, timeout and exit codes. */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createScriptHandler } from './script.js';
import { testContext } from './test-context.fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'otter-script-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const scripts = join(dir, 'scripts');
const out = join(dir, 'out.txt');
function script(name: string, body: string, mode = 0o755): void {
  writeFileSync(join(scripts, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(scripts, name), mode);
}

mkdirSync(scripts);
const update = join(dir, 'update.bin');
writeFileSync(update, 'NEW');
const files = [{ name: 'fw.bin', path: update }];
const handler = createScriptHandler({ scriptsDir: scripts, timeoutMs: 5000 });

describe('script handler', () => {
  it('runs scripts/update with the file path and the OTTER_* environment', async () => {
    script(
      'update',
      `echo "$1|$2|$OTTER_UPDATE_FILE|$OTTER_UPDATE_NAME|$OTTER_JOB_ID|$OTTER_VERSION|$OTTER_THING_NAME|$(cat "$1")" > ${out}`,
    );
    const r = await handler.install(testContext({ args: ['--now'] }, files));
    assert.equal(r.status, 'SUCCEEDED', r.reason);
    assert.equal(readFileSync(out, 'utf8').trim(), `${update}|--now|${update}|fw.bin|job-1|2.0.0|dev-1|NEW`);
  });

  it('a non-zero exit is FAILED with the stderr tail and exit code', async () => {
    script('update', 'echo "disk full" >&2; exit 3');
    const r = await handler.install(testContext({}, files));
    assert.equal(r.status, 'FAILED');
    assert.equal(r.reasonCode, 'SCRIPT_FAILED');
    assert.equal(r.details?.stderr, 'disk full');
    assert.equal(r.details?.exitCode, '3');
  });

  it('a hang is killed at the timeout (its children too) and FAILED', async () => {
    script('update', 'sleep 30; echo late');
    const started = Date.now();
    const r = await handler.install(testContext({}, files, { timeoutMs: 300 }));
    assert.equal(r.status, 'FAILED');
    assert.equal(r.reasonCode, 'SCRIPT_TIMEOUT');
    assert.ok(Date.now() - started < 10_000, 'returned long before the sleep ended');
  });

  it('a missing, non-executable or world-writable script is FAILED before running', async () => {
    let r = await handler.install(testContext({ script: 'nope' }, files));
    assert.equal(r.reasonCode, 'SCRIPT_MISSING');
    script('plain', 'exit 0', 0o644);
    r = await handler.install(testContext({ script: 'plain' }, files));
    assert.equal(r.reasonCode, 'SCRIPT_NOT_EXECUTABLE');
    script('open', 'exit 0', 0o777);
    r = await handler.install(testContext({ script: 'open' }, files));
    assert.equal(r.reasonCode, 'SCRIPT_INSECURE');
    r = await createScriptHandler({}).install(testContext({}, files));
    assert.equal(r.reasonCode, 'SCRIPTS_DIR_NOT_CONFIGURED');
  });

  it('runs a script shipped in the update (scriptFile)', async () => {
    const shipped = join(dir, 'install.sh');
    writeFileSync(shipped, `#!/bin/sh\necho "shipped $1" > ${out}\n`);
    const r = await handler.install(
      testContext({ scriptFile: 'install.sh', file: 'fw.bin' }, [
        ...files,
        { name: 'install.sh', path: shipped },
      ]),
    );
    assert.equal(r.status, 'SUCCEEDED', r.reason);
    assert.equal(readFileSync(out, 'utf8').trim(), `shipped ${update}`);
  });

  it('bad params are REJECTED and run nothing', async () => {
    script('update', `echo ran > ${out}`);
    writeFileSync(out, 'untouched');
    for (const [params, code] of [
      [{ script: '../update' }, 'INVALID_PARAMS'],
      [{ script: '..' }, 'INVALID_PARAMS'],
      [{ args: 'x' }, 'INVALID_PARAMS'],
      [{ bogus: 1 }, 'INVALID_PARAMS'],
      [{ file: 'other.bin' }, 'FILE_NOT_FOUND'],
    ] as const) {
      const r = await handler.install(testContext(params, files));
      assert.equal(r.status, 'REJECTED', JSON.stringify(params));
      assert.equal(r.reasonCode, code);
    }
    assert.equal(readFileSync(out, 'utf8'), 'untouched');
  });
});
