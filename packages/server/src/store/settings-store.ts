import { parseJson } from './records.js';
import type { SqlDatabase } from './sql/sql-database.js';

/** JSON values by key, e.g. the fleet indexing configuration. */
export class SettingsStore {
  constructor(private readonly db: SqlDatabase) {}

  async get<T>(key: string): Promise<T | undefined> {
    const row = await this.db.get<{ value: string }>('SELECT value FROM settings WHERE key = ?', [key]);
    return row && parseJson<T>(row.value);
  }

  async put(key: string, value: unknown): Promise<void> {
    await this.db.run(
      'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      [key, JSON.stringify(value)],
    );
  }
}
