import Database from 'better-sqlite3';
import type { QueryOptions, SqlDatabase, SqlExecutor } from '../sql/sql-database.js';
import { UniqueViolation } from '../sql/sql-database.js';

type Statement = Database.Statement<unknown[], unknown>;

/** Opens a SQLite database (file path or `:memory:`) in WAL mode with foreign keys on. */
export function openSqliteDatabase(path: string): SqlDatabase {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.pragma('synchronous = NORMAL');
  // 64 MiB of page cache instead of SQLite's 2 MiB: the check-in's index probes and execution rows
  // stay in memory instead of being re-read from the WAL and database files on every request.
  db.pragma('cache_size = -65536');
  return new SqliteDatabase(db);
}

class SqliteDatabase implements SqlDatabase {
  readonly kind = 'sqlite' as const;
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Statement>();
  /** Tail of the transaction queue; `#open` counts queued or running transactions. */
  #tail: Promise<void> = Promise.resolve();
  #open = 0;
  readonly #direct: SqlExecutor;

  constructor(db: Database.Database) {
    this.#db = db;
    const prepare = (sql: string, options?: QueryOptions) => this.#prepare(sql, options);
    this.#direct = {
      kind: 'sqlite',
      all: async <T>(sql: string, params: readonly unknown[] = [], options?: QueryOptions) =>
        wrap(() => prepare(sql, options).all(...params) as T[]),
      get: async <T>(sql: string, params: readonly unknown[] = [], options?: QueryOptions) =>
        wrap(() => prepare(sql, options).get(...params) as T | undefined),
      run: async (sql: string, params: readonly unknown[] = [], options?: QueryOptions) =>
        wrap(() => ({ changes: prepare(sql, options).run(...params).changes })),
    };
  }

  #prepare(sql: string, options?: QueryOptions): Statement {
    if (options?.placeholders === 'numbered') throw new Error('SQLite statements use ? placeholders');
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      if (this.#statements.size > 500) this.#statements.clear();
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Calls outside a transaction wait while one is open, so they never see uncommitted rows. */
  async #idle(): Promise<void> {
    while (this.#open > 0) await this.#tail;
  }

  async all<T>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<T[]> {
    if (this.#open > 0) await this.#idle();
    return this.#direct.all<T>(sql, params, options);
  }

  async get<T>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<T | undefined> {
    if (this.#open > 0) await this.#idle();
    return this.#direct.get<T>(sql, params, options);
  }

  async run(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<{ changes: number }> {
    if (this.#open > 0) await this.#idle();
    return this.#direct.run(sql, params, options);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    this.#open++;
    const previous = this.#tail;
    let release = (): void => {};
    this.#tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      await previous;
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.#direct);
        this.#db.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
        throw error;
      }
    } finally {
      this.#open--;
      release();
    }
  }

  async close(): Promise<void> {
    await this.#idle();
    this.#statements.clear();
    this.#db.close();
  }
}

function wrap<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
      throw new UniqueViolation((error as Error).message, { cause: error });
    throw error;
  }
}
