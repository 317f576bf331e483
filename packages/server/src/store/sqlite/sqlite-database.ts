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
  /** A read transaction shared by the reads of this event-loop turn is open (see #read). */
  #reading = false;
  readonly #endReadNow = () => this.#endRead();
  readonly #begin: Statement;
  readonly #commit: Statement;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#begin = db.prepare('BEGIN');
    this.#commit = db.prepare('COMMIT');
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

  /**
   * Reads outside a transaction share one read transaction until the end of the event-loop turn
   * (`setImmediate`): opening and closing SQLite's implicit read transaction (its WAL and file
   * locks) costs ~9 µs per statement on the bench database, a primary-key read inside a transaction
   * ~1.5 µs. Nothing uncommitted is ever visible in it: every write outside a transaction, and every
   * transaction, ends it first, and other processes do not write an Otter SQLite file while the
   * server runs (one process; their commits would show from the next turn on).
   */
  #read(): void {
    // Inside a transaction (a read that slipped in as one began: as before, it reads in it).
    if (this.#reading || this.#db.inTransaction) return;
    this.#begin.run();
    this.#reading = true;
    setImmediate(this.#endReadNow);
  }

  #endRead(): void {
    if (!this.#reading) return;
    this.#reading = false;
    if (this.#db.inTransaction) this.#commit.run();
  }

  /** The statement, inside the turn's read transaction when it only reads (else after ending it). */
  #reader(sql: string, options: QueryOptions | undefined): Statement {
    const statement = this.#prepare(sql, options);
    if (statement.readonly) this.#read();
    else this.#endRead();
    return statement;
  }

  async all<T>(sql: string, params: readonly unknown[] = [], options?: QueryOptions): Promise<T[]> {
    if (this.#open > 0) await this.#idle();
    return wrap(() => this.#reader(sql, options).all(...params) as T[]);
  }

  async get<T>(sql: string, params: readonly unknown[] = [], options?: QueryOptions): Promise<T | undefined> {
    if (this.#open > 0) await this.#idle();
    return wrap(() => this.#reader(sql, options).get(...params) as T | undefined);
  }

  async run(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<{ changes: number }> {
    if (this.#open > 0) await this.#idle();
    this.#endRead();
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
      this.#endRead();
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
    this.#endRead();
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
