/**
 * The apt handler's checks that need no repository: bad manifests are REJECTED before any command
 * runs, missing tools fail cleanly, isInstalled asks the real dpkg-query. apt.real.test.ts runs apt.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createAptHandler } from './apt.js';
import { createExec } from './exec.js';
import type { DownloadedFile, Exec, HandlerContext } from './handler.js';

const dir = mkdtempSync(join(tmpdir(), 'otter-apt-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const HAS_DPKG_QUERY = existsSync('/usr/bin/dpkg-query');

function context(params: Record<string, unknown>, files: DownloadedFile[] = []) {
  const calls: string[] = [];
  const real = createExec();
  const exec: Exec = (cmd, args, options) => {
    calls.push([cmd, ...args].join(' '));
    return real(cmd, args, options);
  };
  const noop = () => {};
  const ctx: HandlerContext = {
    workDir: dir,
    files,
    params,
    logger: { debug: noop, info: noop, warn: noop, error: noop },
    signal: new AbortController().signal,
    exec,
  };
  return { ctx, calls };
}

const handler = createAptHandler({ aptGet: '/nonexistent/apt-get', aptCache: '/nonexistent/apt-cache' });

describe('apt handler: bad manifests are REJECTED and change nothing', () => {
  const cases: Array<[string, unknown, string]> = [
    [
      'duplicate packages',
      { name: 'm', version: '1', packages: [{ name: 'foo' }, { name: 'foo', version: '1' }] },
      'DUPLICATE_PACKAGE',
    ],
    [
      'a bad version',
      { name: 'm', version: '1', packages: [{ name: 'foo', version: 'latest' }] },
      'INVALID_VERSION',
    ],
    [
      '"=" in a version',
      { name: 'm', version: '1', packages: [{ name: 'foo', version: '=1.0' }] },
      'VERSION_HAS_EQUALS',
    ],
    [
      'a removal with a version',
      { name: 'm', version: '1', packages: [{ name: 'foo-', version: '1.0' }] },
      'REMOVE_WITH_VERSION',
    ],
    [
      'an unknown member',
      { name: 'm', version: '1', packages: [{ name: 'foo' }], extra: 1 },
      'UNKNOWN_MEMBER',
    ],
  ];
  for (const [what, manifest, code] of cases) {
    it(what, async () => {
      const { ctx, calls } = context({ manifest });
      const r = await handler.install(ctx);
      assert.equal(r.status, 'REJECTED');
      assert.equal(r.reasonCode, code);
      assert.ok(r.reason);
      assert.deepEqual(calls, [], 'no command ran');
    });
  }

  it('reads the manifest from the downloaded file; malformed JSON is INVALID_JSON', async () => {
    writeFileSync(join(dir, 'bad.json'), '{"name": "m", ');
    const { ctx, calls } = context({}, [{ name: 'manifest.json', path: join(dir, 'bad.json') }]);
    const r = await handler.install(ctx);
    assert.deepEqual([r.status, r.reasonCode], ['REJECTED', 'INVALID_JSON']);
    assert.deepEqual(calls, []);
  });

  it('no manifest at all is MANIFEST_MISSING', async () => {
    const r = await handler.install(context({}).ctx);
    assert.deepEqual([r.status, r.reasonCode], ['REJECTED', 'MANIFEST_MISSING']);
  });
});

describe('apt handler: commands', { skip: HAS_DPKG_QUERY ? false : 'skipped: dpkg-query not found' }, () => {
  const manifest = { name: 'm', version: '1', packages: [{ name: 'otter-test-absent', version: '1.0' }] };

  it('a missing apt-get fails with the reason, before changing anything', async () => {
    const { ctx, calls } = context({ manifest });
    const r = await handler.install(ctx);
    assert.equal(r.status, 'FAILED');
    assert.equal(r.reasonCode, 'APT_UPDATE_FAILED');
    assert.match(r.reason ?? '', /apt-get update could not start/);
    assert.ok(calls[0]?.startsWith('dpkg-query -W'), 'recorded the installed versions first');
    assert.equal(r.details?.rollback, undefined, 'nothing to roll back');
  });

  it('saves the installed-before versions through ctx.saveState before changing anything', async () => {
    const saved: unknown[] = [];
    const { ctx } = context({
      manifest: { ...manifest, packages: [{ name: 'dpkg' }, { name: 'otter-test-absent' }] },
    });
    await handler.install({ ...ctx, saveState: async (s) => void saved.push(s) });
    const state = saved[0] as { before: Record<string, string> };
    assert.equal(saved.length, 1);
    assert.deepEqual(Object.keys(state.before), ['dpkg']);
  });

  it('isInstalled asks dpkg-query', async () => {
    const yes = context({
      manifest: { name: 'm', version: '1', packages: [{ name: 'dpkg' }, { name: 'otter-test-absent-' }] },
    });
    assert.equal(await handler.isInstalled!(yes.ctx), true);
    assert.equal(await handler.isInstalled!(context({ manifest }).ctx), false);
  });
});

describe('createExec', () => {
  const exec = createExec();
  it('kills a command at its timeout', async () => {
    const started = Date.now();
    const r = await exec('sleep', ['10'], { timeoutMs: 100 });
    assert.equal(r.timedOut, true);
    assert.equal(r.signal, 'SIGTERM');
    assert.ok(Date.now() - started < 5000);
  });
  it('reports a command that cannot start', async () => {
    const r = await exec('/nonexistent/tool', []);
    assert.equal(r.code, null);
    assert.match(r.error ?? '', /ENOENT/);
  });
  it('passes the environment and collects output', async () => {
    const r = await exec('sh', ['-c', 'echo "$OTTER_X"; echo oops >&2; exit 3'], { env: { OTTER_X: 'hi' } });
    assert.deepEqual([r.code, r.stdout, r.stderr], [3, 'hi\n', 'oops\n']);
  });
});
