/** Custom handlers and the registry, with real executables in a handlers folder. */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseJobDocument } from '../documents/index.js';
import { createCustomHandler } from './custom.js';
import { createHandlerRegistry } from './registry.js';
import { testContext } from './test-context.fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'otter-custom-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const handlers = join(dir, 'handlers');
mkdirSync(handlers);
const out = join(dir, 'out.txt');
function handler(name: string, body: string, mode = 0o700): void {
  writeFileSync(join(handlers, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(handlers, name), mode);
}
const registry = createHandlerRegistry({ handlersDir: handlers, allowedRoots: [dir], scriptsDir: dir });

describe('custom handlers', () => {
  it('gets argv and the JSON context on stdin', async () => {
    handler('deploy', `printf '%s|' "$@" > ${out}; cat >> ${out}`);
    const file = { name: 'a.bin', path: join(dir, 'a.bin') };
    const ctx = testContext({ args: ['x', 'y z'] }, [file]);
    const r = await createCustomHandler('deploy', { handlersDir: handlers }).install(ctx);
    assert.equal(r.status, 'SUCCEEDED', r.reason);
    const [argv, json] = readFileSync(out, 'utf8').split('|{');
    assert.equal(argv, 'x|y z');
    assert.deepEqual(JSON.parse(`{${json}`), {
      jobId: 'job-1',
      thingName: 'dev-1',
      version: '2.0.0',
      handler: 'deploy',
      params: { args: ['x', 'y z'] },
      files: [file],
      workDir: ctx.workDir,
    });
  });

  it('exit 65 is REJECTED, other codes FAILED, a hang FAILED at the timeout', async () => {
    const h = createCustomHandler('h', { handlersDir: handlers });
    handler('h', 'echo "bad image" >&2; exit 65');
    let r = await h.install(testContext({}));
    assert.deepEqual(
      [r.status, r.reasonCode, r.details?.stderr],
      ['REJECTED', 'HANDLER_REJECTED', 'bad image'],
    );
    handler('h', 'exit 2');
    r = await h.install(testContext({}));
    assert.deepEqual([r.status, r.reasonCode], ['FAILED', 'HANDLER_FAILED']);
    handler('h', 'sleep 30');
    r = await h.install(testContext({}, [], { timeoutMs: 300 }));
    assert.deepEqual([r.status, r.reasonCode], ['FAILED', 'HANDLER_TIMEOUT']);
  });

  it('runs a Device Client document: runAsUser first, allowStdErr, includeStdOut, exit 65 is FAILED', async () => {
    handler('install-packages.sh', 'echo "user=$1 pkgs=$2"; echo warn >&2; echo warn2 >&2');
    const plan = parseJobDocument({
      version: '1.0',
      includeStdOut: true,
      steps: [
        {
          action: {
            name: 'Install',
            type: 'runHandler',
            input: { handler: 'install-packages.sh', args: ['wget'], path: 'default' },
            runAsUser: 'root',
            allowStdErr: 2,
          },
        },
      ],
    });
    const step = plan.steps[0]!;
    const found = registry.lookup(step.handler);
    assert.ok(found.handler);
    let r = await found.handler.install(testContext(step.params));
    assert.equal(r.status, 'SUCCEEDED', r.reason);
    assert.equal(r.details?.stdout, 'user=root pkgs=wget');
    r = await found.handler.install(testContext({ ...step.params, allowStdErr: 1 }));
    assert.equal(r.reasonCode, 'STDERR_NOT_ALLOWED');
    handler('install-packages.sh', 'exit 65');
    r = await found.handler.install(testContext(step.params));
    assert.equal(r.status, 'FAILED');
  });

  it('a missing handler is REJECTED, an unsafe one FAILED, bad names REJECTED', async () => {
    let r = await createCustomHandler('absent', { handlersDir: handlers }).install(testContext({}));
    assert.deepEqual([r.status, r.reasonCode], ['REJECTED', 'HANDLER_NOT_FOUND']);
    handler('open', 'exit 0', 0o777);
    r = await createCustomHandler('open', { handlersDir: handlers }).install(testContext({}));
    assert.deepEqual([r.status, r.reasonCode], ['FAILED', 'HANDLER_INSECURE']);
    for (const name of ['..', '.', '../x', 'a/b', '']) {
      r = await createCustomHandler(name, { handlersDir: handlers }).install(testContext({}));
      assert.deepEqual([r.status, r.reasonCode], ['REJECTED', 'INVALID_HANDLER_NAME'], name);
    }
    r = await createCustomHandler('h', { handlersDir: handlers }).install(testContext({ args: [1] }));
    assert.deepEqual([r.status, r.reasonCode], ['REJECTED', 'INVALID_PARAMS']);
  });
});

describe('handler registry', () => {
  it('finds built-in and custom handlers', () => {
    for (const name of ['apt', 'script', 'file', 'custom:deploy'])
      assert.equal(registry.lookup(name).handler?.name, name);
  });

  it('refuses unknown, disabled, unconfigured and badly named handlers with a reason', () => {
    const limited = createHandlerRegistry({ allowedRoots: [], enabled: ['file'] });
    const cases: Array<[ReturnType<typeof createHandlerRegistry>, string, string]> = [
      [registry, 'rpm', 'UNKNOWN_HANDLER'],
      [registry, 'constructor', 'UNKNOWN_HANDLER'],
      [registry, 'agent', 'HANDLER_NOT_AVAILABLE'],
      [registry, 'custom:../bin/sh', 'INVALID_HANDLER_NAME'],
      [registry, 'custom:..', 'INVALID_HANDLER_NAME'],
      [registry, 'custom:', 'INVALID_HANDLER_NAME'],
      [limited, 'apt', 'HANDLER_DISABLED'],
      [limited, 'custom:deploy', 'HANDLER_NOT_CONFIGURED'],
    ];
    for (const [reg, name, code] of cases) {
      const r = reg.lookup(name);
      assert.equal(r.handler, undefined, name);
      assert.equal(r.error?.status, 'REJECTED');
      assert.equal(r.error?.reasonCode, code, name);
      assert.ok(r.error?.reason);
    }
  });
});
