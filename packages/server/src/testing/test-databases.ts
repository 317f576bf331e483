import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { migrate } from '../store/migrations.js';
import { openPostgresDatabase } from '../store/postgres/postgres-database.js';
import type { SqlDatabase } from '../store/sql/sql-database.js';
import { openSqliteDatabase } from '../store/sqlite/sqlite-database.js';

export interface TestDatabase {
  name: 'SQLite' | 'PostgreSQL';
  /** Why this database's suite is skipped, or false. */
  skip: string | false;
  /** The migrated database of this suite (one per suite: a file, or a schema of its own). */
  open(): Promise<SqlDatabase>;
}

/**
 * The databases a store suite runs on, for `what` (named in the skip note): SQLite in a temporary
 * folder always, PostgreSQL in a fresh schema when OTTER_TEST_DATABASE_URL is set. Call at the top
 * level of a test file; the folder and schema are removed after the file's tests.
 */
export function testDatabases(what: string): TestDatabase[] {
  const dir = mkdtempSync(join(tmpdir(), 'otter-store-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const sqlite: TestDatabase = {
    name: 'SQLite',
    skip: false,
    open: async () => {
      const db = openSqliteDatabase(join(dir, 'otter.db'));
      await migrate(db);
      return db;
    },
  };
  const url = process.env.OTTER_TEST_DATABASE_URL;
  if (url === undefined || url === '') {
    console.log(`PostgreSQL ${what} skipped: OTTER_TEST_DATABASE_URL not set`);
    const skipped = () => Promise.reject(new Error('skipped'));
    return [sqlite, { name: 'PostgreSQL', skip: 'OTTER_TEST_DATABASE_URL not set', open: skipped }];
  }
  const schema = `otter_test_${randomBytes(6).toString('hex')}`;
  const admin = openPostgresDatabase({ connectionString: url, max: 1 });
  after(async () => {
    await admin.run(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.close();
  });
  const postgres: TestDatabase = {
    name: 'PostgreSQL',
    skip: false,
    open: async () => {
      await admin.run(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      const db = openPostgresDatabase({ connectionString: url, options: `-c search_path=${schema}` });
      await migrate(db);
      return db;
    },
  };
  return [sqlite, postgres];
}
