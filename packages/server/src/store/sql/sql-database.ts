/**
 * The small SQL interface the store is written against. Adapters live in `../sqlite` and
 * `../postgres`; nothing above the store sees a driver type.
 *
 * Placeholders: statements use `?` everywhere. The one exception is a statement embedding a fleet
 * query compiled for a `numbered` dialect (PostgreSQL `$1..$n`): pass `{ placeholders: 'numbered' }`
 * and the adapter leaves the text as is. No SQL literal we write ever contains `?`.
 */
export type SqlKind = 'sqlite' | 'postgres';

export interface QueryOptions {
  /** `numbered`: the SQL already uses `$1..$n` (PostgreSQL only). Default `positional` (`?`). */
  placeholders?: 'positional' | 'numbered';
}

export interface SqlExecutor {
  readonly kind: SqlKind;
  all<T>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<T[]>;
  get<T>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<T | undefined>;
  run(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<{ changes: number }>;
}

export interface SqlDatabase extends SqlExecutor {
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. Use
   * only `tx` inside `fn` (calling the database itself from inside waits for the transaction).
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A unique or primary-key constraint was violated; the store turns it into a domain error. */
export class UniqueViolation extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UniqueViolation';
  }
}

/** Rewrites `?` placeholders to `$1..$n`. */
export function toNumberedPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}
