/** The file handler: atomic placement, previous copy, rollback, and destinations it must refuse. */
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createFileHandler, type FileSavedState } from './file.js';
import { testContext } from './test-context.fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'otter-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const root = join(dir, 'root');
const outside = join(dir, 'outside');
mkdirSync(join(root, 'etc'), { recursive: true });
mkdirSync(outside);
const src = join(dir, 'new.conf');
writeFileSync(src, 'NEW');
const files = [{ name: 'app.conf', path: src }];
const handler = createFileHandler({ allowedRoots: [root] });

describe('file handler', () => {
  it('replaces a file atomically, keeps the previous copy and its mode, saves state first', async () => {
    const dest = join(root, 'etc', 'app.conf');
    writeFileSync(dest, 'OLD', { mode: 0o600 });
    const ctx = testContext({ dest }, files);
    const r = await handler.install(ctx);
    assert.equal(r.status, 'SUCCEEDED', r.reason);
    assert.equal(readFileSync(dest, 'utf8'), 'NEW');
    assert.equal(readFileSync(`${dest}.otter-prev`, 'utf8'), 'OLD');
    assert.equal(statSync(dest).mode & 0o777, 0o600);
    assert.equal(existsSync(`${dest}.otter-new`), false);
    assert.equal(ctx.saved.length, 1);
    assert.equal((ctx.saved[0] as FileSavedState).hadPrevious, true);
    assert.equal(await handler.isInstalled?.(ctx), true);

    const back = await handler.rollback?.({ ...ctx, savedState: ctx.saved[0] });
    assert.equal(back?.status, 'SUCCEEDED');
    assert.equal(readFileSync(dest, 'utf8'), 'OLD');
    // A second rollback (a restart during the first) changes nothing.
    const again = await handler.rollback?.({ ...ctx, savedState: ctx.saved[0] });
    assert.equal(again?.status, 'SUCCEEDED');
    assert.equal(readFileSync(dest, 'utf8'), 'OLD');
  });

  it('places a new file with the asked mode; rollback removes it', async () => {
    const dest = join(root, 'fresh.bin');
    const ctx = testContext({ file: 'app.conf', dest, mode: '0750' }, files);
    const r = await handler.install(ctx);
    assert.equal(r.status, 'SUCCEEDED', r.reason);
    assert.equal(statSync(dest).mode & 0o777, 0o750);
    const back = await handler.rollback?.({ ...ctx, savedState: ctx.saved[0] });
    assert.equal(back?.status, 'SUCCEEDED');
    assert.equal(existsSync(dest), false);
  });

  it('rollback after a crash before the rename leaves the old file alone', async () => {
    const dest = join(root, 'etc', 'crash.conf');
    writeFileSync(dest, 'OLD');
    writeFileSync(`${dest}.otter-new`, 'NE'); // half-written when the power went
    writeFileSync(`${dest}.otter-prev`, 'OL'); // half-copied
    const state: FileSavedState = {
      dest,
      hadPrevious: true,
      newSha256: 'f'.repeat(64),
      prevSha256: 'e'.repeat(64),
    };
    const r = await handler.rollback?.(testContext({ dest }, files, { savedState: state }));
    assert.equal(r?.status, 'SUCCEEDED');
    assert.equal(readFileSync(dest, 'utf8'), 'OLD');
    assert.equal(existsSync(`${dest}.otter-new`), false);
  });

  it('refuses destinations outside the allowed roots, traversal and symlink escapes, touching nothing', async () => {
    symlinkSync(outside, join(root, 'escape'));
    const cases: Array<[string, string]> = [
      [join(outside, 'x'), 'DEST_NOT_ALLOWED'],
      [`${root}/etc/../../outside/x`, 'PATH_TRAVERSAL'],
      ['etc/app.conf', 'PATH_NOT_ABSOLUTE'],
      [join(root, 'escape', 'x'), 'DEST_NOT_ALLOWED'],
      [join(root, 'etc'), 'DEST_NOT_A_FILE'],
      [join(root, 'escape'), 'DEST_NOT_A_FILE'],
      [`${root}-sibling/x`, 'DEST_DIR_MISSING'],
      [join(root, 'x.otter-prev'), 'INVALID_PARAMS'],
    ];
    for (const [dest, code] of cases) {
      const ctx = testContext({ dest }, files);
      const r = await handler.install(ctx);
      assert.equal(r.reasonCode, code, dest);
      assert.equal(r.status, code === 'DEST_DIR_MISSING' ? 'FAILED' : 'REJECTED', dest);
      assert.equal(ctx.saved.length, 0, 'no state saved');
    }
    assert.equal(existsSync(join(outside, 'x')), false);
    for (const [params, code] of [
      [{}, 'INVALID_PARAMS'],
      [{ dest: join(root, 'a'), mode: 'rw' }, 'INVALID_PARAMS'],
      [{ dest: join(root, 'a'), uid: -1 }, 'INVALID_PARAMS'],
      [{ dest: join(root, 'a'), file: 'other' }, 'FILE_NOT_FOUND'],
    ] as const) {
      const r = await handler.install(testContext(params, files));
      assert.equal(r.status, 'REJECTED');
      assert.equal(r.reasonCode, code);
    }
    const r = await createFileHandler({ allowedRoots: [] }).install(
      testContext({ dest: join(root, 'a') }, files),
    );
    assert.equal(r.reasonCode, 'DEST_NOT_ALLOWED');
  });

  it('rollback without saved state is FAILED NO_SAVED_STATE', async () => {
    const r = await handler.rollback?.(testContext({}, files));
    assert.equal(r?.reasonCode, 'NO_SAVED_STATE');
  });
});
