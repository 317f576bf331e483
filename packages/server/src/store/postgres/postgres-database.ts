import pg from 'pg';
import type { QueryOptions, SqlDatabase, SqlExecutor } from '../sql/sql-database.js';
import { toNumberedPlaceholders, UniqueViolation } from '../sql/sql-database.js';

const INT8_OID = 20;
const SERIALIZATION_FAILURES = new Set(['40001', '40P01']);

/** BIGINT (int8) columns come back as JS numbers; other types keep pg's parsers. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

export interface PostgresOptions {
  connectionString: string;
  /** e.g. `-c search_path=otter_test_x` */
  options?: string;
  max?: number;
}

export function openPostgresDatabase(options: PostgresOptions): SqlDatabase {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    types,
    ...(options.options === undefined ? {} : { options: options.options }),
  });
  // An idle connection that the server drops (restart, failover, admin termination) must not crash
  // Otter: the pool discards it and the next query opens a new one.
  pool.on('error', () => {});
  return new PostgresDatabase(pool);
}

type Queryable = Pick<pg.Pool, 'query'>;

/** Statement texts seen so far: their `$n` form and, for queries, a name to prepare them under. */
const statements = new Map<string, { text: string; name?: string }>();
/** Distinct texts given a name; beyond this (dynamic IN lists, …) statements run unnamed. */
const MAX_NAMED = 2000;
const PREPARABLE = /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i;

/**
 * The statement to send: named queries are parsed and planned once per connection (pg remembers
 * which connection prepared which name) instead of on every call, as `pgbench -M prepared` does.
 */
function statementOf(sql: string, options?: QueryOptions): { text: string; name?: string } {
  const key = options?.placeholders === 'numbered' ? `$${sql}` : sql;
  let statement = statements.get(key);
  if (!statement) {
    const text = options?.placeholders === 'numbered' ? sql : toNumberedPlaceholders(sql);
    if (statements.size >= MAX_NAMED) return { text };
    statement = PREPARABLE.test(text) ? { text, name: `otter_${statements.size + 1}` } : { text };
    statements.set(key, statement);
  }
  return statement;
}

function executor(client: Queryable): SqlExecutor {
  const query = async (sql: string, params: readonly unknown[], options?: QueryOptions) => {
    const { text, name } = statementOf(sql, options);
    try {
      return name === undefined
        ? await client.query(text, params as unknown[])
        : await client.query({ name, text, values: params as unknown[] });
    } catch (error) {
      if ((error as { code?: unknown }).code === '23505')
        throw new UniqueViolation((error as Error).message, { cause: error });
      throw error;
    }
  };
  return {
    kind: 'postgres',
    all: async <T>(sql: string, params: readonly unknown[] = [], options?: QueryOptions) =>
      (await query(sql, params, options)).rows as T[],
    get: async <T>(sql: string, params: readonly unknown[] = [], options?: QueryOptions) =>
      (await query(sql, params, options)).rows[0] as T | undefined,
    run: async (sql: string, params: readonly unknown[] = [], options?: QueryOptions) => ({
      changes: (await query(sql, params, options)).rowCount ?? 0,
    }),
  };
}

class PostgresDatabase implements SqlDatabase {
  readonly kind = 'postgres' as const;
  readonly #pool: pg.Pool;
  readonly #direct: SqlExecutor;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
    this.#direct = executor(pool);
  }

  all<T>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<T[]> {
    return this.#direct.all<T>(sql, params, options);
  }
  get<T>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<T | undefined> {
    return this.#direct.get<T>(sql, params, options);
  }
  run(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<{ changes: number }> {
    return this.#direct.run(sql, params, options);
  }

  /** One client, BEGIN/COMMIT; retried once when the database reports a serialization failure. */
  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const client = await this.#pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(executor(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        const code = (error as { code?: unknown }).code;
        if (attempt === 0 && typeof code === 'string' && SERIALIZATION_FAILURES.has(code)) continue;
        throw error;
      } finally {
        client.release();
      }
    }
  }

  close(): Promise<void> {
    return this.#pool.end();
  }
}
