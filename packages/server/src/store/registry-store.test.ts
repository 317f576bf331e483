import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { migrate } from './migrations.js';
import { openPostgresDatabase } from './postgres/postgres-database.js';
import { runRegistryStoreContract } from './registry-store.contract.js';
import { openSqliteDatabase } from './sqlite/sqlite-database.js';

const dir = mkdtempSync(join(tmpdir(), 'otter-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

runRegistryStoreContract('SQLite', async () => {
  const db = openSqliteDatabase(join(dir, 'otter.db'));
  await migrate(db);
  return db;
});

const url = process.env.OTTER_TEST_DATABASE_URL;
if (url === undefined || url === '') {
  console.log('PostgreSQL store contract skipped: OTTER_TEST_DATABASE_URL not set');
  runRegistryStoreContract('PostgreSQL', () => Promise.reject(new Error('skipped')), {
    skip: 'OTTER_TEST_DATABASE_URL not set',
  });
} else {
  const schema = `otter_test_${randomBytes(6).toString('hex')}`;
  const admin = openPostgresDatabase({ connectionString: url, max: 1 });
  after(async () => {
    await admin.run(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.close();
  });
  runRegistryStoreContract('PostgreSQL', async () => {
    await admin.run(`CREATE SCHEMA ${schema}`);
    const db = openPostgresDatabase({ connectionString: url, options: `-c search_path=${schema}` });
    await migrate(db);
    return db;
  });
}
