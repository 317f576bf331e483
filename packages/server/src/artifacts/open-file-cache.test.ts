import assert from 'node:assert/strict';
import { fstatSync, mkdtempSync, readSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { OpenFileCache } from './open-file-cache.js';

describe('OpenFileCache', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otter-fd-cache-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('shares one descriptor between users and closes it once idle', async () => {
    const path = join(dir, 'a');
    writeFileSync(path, 'abc');
    const cache = new OpenFileCache();
    const [one, two] = await Promise.all([cache.acquire(path), cache.acquire(path)]);
    assert.equal(one.fd, two.fd);
    one.release();
    one.release(); // twice is once
    cache.closeIdle(); // still in use by `two`
    assert.equal(fstatSync(two.fd).size, 3);
    two.release();
    const fd = two.fd;
    const ino = fstatSync(fd).ino;
    cache.closeIdle();
    await new Promise((r) => setTimeout(r, 20));
    // Closed: the number is free (or already reused for some other file).
    let after: number | undefined;
    try {
      after = fstatSync(fd).ino;
    } catch (e) {
      assert.equal((e as NodeJS.ErrnoException).code, 'EBADF');
    }
    assert.notEqual(after, ino);
  });

  test('a descriptor outlives an unlink of its file (content-addressed files never change)', async () => {
    const path = join(dir, 'b');
    writeFileSync(path, 'same bytes');
    const cache = new OpenFileCache();
    const file = await cache.acquire(path);
    unlinkSync(path);
    const buf = Buffer.alloc(10);
    assert.equal(readSync(file.fd, buf, 0, 10, 0), 10);
    assert.equal(buf.toString(), 'same bytes');
    file.release();
    cache.closeIdle();
  });

  test('a failed open is not remembered', async () => {
    const path = join(dir, 'later');
    const cache = new OpenFileCache();
    await assert.rejects(cache.acquire(path), { code: 'ENOENT' });
    writeFileSync(path, 'now');
    const file = await cache.acquire(path);
    assert.equal(fstatSync(file.fd).size, 3);
    file.release();
    cache.closeIdle();
  });
});
