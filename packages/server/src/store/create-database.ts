import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { migrate } from './migrations.js';
import { openPostgresDatabase } from './postgres/postgres-database.js';
import type { SqlDatabase } from './sql/sql-database.js';
import { openSqliteDatabase } from './sqlite/sqlite-database.js';

/**
 * Opens the database named by `url` and runs migrations: SQLite at `<dataDir>/otter.db` when
 * `url` is undefined or `sqlite:` (`sqlite:/path/file.db` or `sqlite::memory:` name a file),
 * PostgreSQL for `postgres://` and `postgresql://`.
 */
export async function createDatabase(url: string | undefined, dataDir: string): Promise<SqlDatabase> {
  let db: SqlDatabase;
  if (url === undefined || url.startsWith('sqlite:')) {
    const path = url?.slice('sqlite:'.length).replace(/^\/\//, '') || join(dataDir, 'otter.db');
    if (path === join(dataDir, 'otter.db')) mkdirSync(dataDir, { recursive: true });
    db = openSqliteDatabase(path);
  } else if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    db = openPostgresDatabase({ connectionString: url });
  } else {
    throw new Error(`Unsupported database URL: ${url.replace(/\/\/[^@]*@/, '//***@')}`);
  }
  try {
    await migrate(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}
