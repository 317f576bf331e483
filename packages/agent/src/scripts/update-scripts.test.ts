/** Pre/post-update scripts (managedRespawn) with real sh scripts. */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createUpdateScripts } from './update-scripts.js';

const base = mkdtempSync(join(tmpdir(), 'otter-scripts-'));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
function folder(scripts: Record<string, [string, number?]>): string {
  const dir = mkdtempSync(join(base, `s${n++}-`));
  for (const [name, [body, mode]] of Object.entries(scripts)) {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), mode ?? 0o700);
  }
  return dir;
}

describe('pre/post-update scripts', () => {
  it('disabled: nothing runs, even without scripts', async () => {
    const s = createUpdateScripts({ enabled: false });
    assert.deepEqual(await s.runPre(), { ok: true, ran: false });
    assert.deepEqual(await s.runPost(), { ok: true, ran: false });
  });

  it('enabled: both run with the environment', async () => {
    const out = join(base, 'env.txt');
    const dir = folder({
      'pre-update': [`echo "$OTTER_PHASE $OTTER_JOB_ID $OTTER_VERSION" >> ${out}`],
      'post-update': [`echo "$OTTER_PHASE $OTTER_INSTALL_RESULT" >> ${out}`],
    });
    const s = createUpdateScripts({ enabled: true, scriptsDir: dir });
    assert.deepEqual(await s.runPre({ jobId: 'j1', version: '2.0.0' }), { ok: true, ran: true });
    assert.deepEqual(await s.runPost({ installResult: 'SUCCEEDED' }), { ok: true, ran: true });
    assert.equal(readFileSync(out, 'utf8'), 'pre-update j1 2.0.0\npost-update SUCCEEDED\n');
  });

  it('a missing pre or post script fails runPre before anything runs', async () => {
    const marker = join(base, 'ran.txt');
    let s = createUpdateScripts({ enabled: true, scriptsDir: folder({ 'post-update': ['exit 0'] }) });
    let r = await s.runPre();
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reasonCode, 'PRE_SCRIPT_MISSING');
    s = createUpdateScripts({ enabled: true, scriptsDir: folder({ 'pre-update': [`touch ${marker}`] }) });
    r = await s.runPre();
    assert.equal(!r.ok && r.reasonCode, 'POST_SCRIPT_MISSING');
    assert.throws(() => readFileSync(marker), 'the pre script did not run');
    r = await createUpdateScripts({ enabled: true }).runPre();
    assert.equal(!r.ok && r.reasonCode, 'PRE_SCRIPT_MISSING');
  });

  it('not executable, insecure, failing and hanging scripts are refused with their reason', async () => {
    const post = { 'post-update': ['exit 0'] as [string] };
    const cases: Array<[Record<string, [string, number?]>, string]> = [
      [{ 'pre-update': ['exit 0', 0o600], ...post }, 'PRE_SCRIPT_NOT_EXECUTABLE'],
      [{ 'pre-update': ['exit 0', 0o777], ...post }, 'PRE_SCRIPT_INSECURE'],
      [{ 'pre-update': ['echo stopping failed >&2; exit 1'], ...post }, 'PRE_SCRIPT_FAILED'],
      [{ 'pre-update': ['sleep 30'], ...post }, 'PRE_SCRIPT_TIMEOUT'],
    ];
    for (const [scripts, code] of cases) {
      const r = await createUpdateScripts({
        enabled: true,
        scriptsDir: folder(scripts),
        timeoutMs: 300,
      }).runPre();
      assert.equal(!r.ok && r.reasonCode, code);
    }
    const r = await createUpdateScripts({
      enabled: true,
      scriptsDir: folder({ 'pre-update': ['exit 0'], 'post-update': ['echo no daemon >&2; exit 4'] }),
    }).runPost();
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reasonCode, 'POST_SCRIPT_FAILED');
    assert.equal(!r.ok && r.details?.stderr, 'no daemon');
  });
});
