import type { SqlDatabase } from './sql/sql-database.js';

/** What a client token already stands for when a request claims it. */
export type TokenClaim =
  /** The token is new (or its record expired): run the request, then `complete` or `release`. */
  | { kind: 'claimed' }
  /** The same request finished before: answer with its response again. */
  | { kind: 'replay'; response: unknown }
  /** The token was used for a request with other parameters. */
  | { kind: 'mismatch' }
  /** The same request is still running elsewhere. */
  | { kind: 'pending' };

export interface ClaimOptions {
  now: number;
  /** Records created before this are expired and reclaimed. */
  expiredBefore: number;
  /** Unfinished claims created before this are treated as abandoned (their request died). */
  abandonedBefore: number;
}

interface TokenRow {
  request_hash: string;
  response_json: string | null;
  created_at: number;
}

/**
 * `clientToken` records: (operation, token) → the hash of the request's parameters and, once the
 * request succeeded, its response. A claim is a row without a response, so two concurrent requests
 * with one token never both run.
 */
export class IdempotencyStore {
  constructor(private readonly db: SqlDatabase) {}

  async claim(
    operation: string,
    token: string,
    requestHash: string,
    opts: ClaimOptions,
  ): Promise<TokenClaim> {
    return this.db.transaction(async (tx) => {
      const row = await tx.get<TokenRow>(
        'SELECT request_hash, response_json, created_at FROM idempotency_tokens WHERE operation = ? AND token = ?',
        [operation, token],
      );
      const stale =
        row !== undefined &&
        (Number(row.created_at) < opts.expiredBefore ||
          (row.response_json === null && Number(row.created_at) < opts.abandonedBefore));
      if (row && !stale) {
        if (row.request_hash !== requestHash) return { kind: 'mismatch' };
        if (row.response_json === null) return { kind: 'pending' };
        return { kind: 'replay', response: JSON.parse(row.response_json) as unknown };
      }
      // Expired records of every operation go here, so the table stays as small as 8 hours of traffic.
      await tx.run('DELETE FROM idempotency_tokens WHERE created_at < ?', [opts.expiredBefore]);
      if (stale)
        await tx.run('DELETE FROM idempotency_tokens WHERE operation = ? AND token = ?', [operation, token]);
      const inserted = await tx.run(
        `INSERT INTO idempotency_tokens (operation, token, request_hash, response_json, created_at)
         VALUES (?, ?, ?, NULL, ?) ON CONFLICT (operation, token) DO NOTHING`,
        [operation, token, requestHash, opts.now],
      );
      // Another node claimed the same token between our read and our insert.
      if (inserted.changes === 0) return { kind: 'pending' };
      return { kind: 'claimed' };
    });
  }

  /** Records the response of a claimed request. */
  async complete(operation: string, token: string, responseJson: string): Promise<void> {
    await this.db.run('UPDATE idempotency_tokens SET response_json = ? WHERE operation = ? AND token = ?', [
      responseJson,
      operation,
      token,
    ]);
  }

  /** Forgets a claim whose request failed, so the same token may be retried. */
  async release(operation: string, token: string): Promise<void> {
    await this.db.run(
      'DELETE FROM idempotency_tokens WHERE operation = ? AND token = ? AND response_json IS NULL',
      [operation, token],
    );
  }
}
