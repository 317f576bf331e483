import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createDatabase } from './create-database.js';
import { MIGRATIONS } from './migrations.js';

test('createDatabase opens and migrates <dataDir>/otter.db when no URL is given', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'otter-db-')), 'data');
  try {
    const db = await createDatabase(undefined, dir);
    assert.equal(db.kind, 'sqlite');
    assert.ok(existsSync(join(dir, 'otter.db')));
    const rows = await db.all<{ id: string }>('SELECT id FROM otter_migrations');
    assert.deepEqual(
      rows.map((r) => r.id),
      MIGRATIONS.map((m) => m.id),
    );
    await db.close();
    const reopened = await createDatabase('sqlite:', dir);
    await reopened.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('createDatabase rejects unknown URL schemes', async () => {
  await assert.rejects(createDatabase('mysql://u:secret@h/db', '/nonexistent'), (e: Error) => {
    assert.doesNotMatch(e.message, /secret/);
    return true;
  });
});
