import { alreadyExists, notFound, type SigningAlgorithm } from '@otter/core';
import { type Page, type PageRequest, toPage } from './records.js';
import { type SqlDatabase, UniqueViolation } from './sql/sql-database.js';

/** A public key that artifact signatures may be checked against. */
export interface SigningKeyRecord {
  name: string;
  /** 32 hex digits: SHA-256 of the SPKI DER, first 16 bytes. */
  keyId: string;
  algorithm: SigningAlgorithm;
  /** SPKI PEM. */
  publicKeyPem: string;
  /** ms since the epoch */
  createdAt: number;
}

/** What `put` needs: a key already parsed and checked (parsePublicKey of @otter/core). */
export type NewSigningKey = Omit<SigningKeyRecord, 'createdAt'>;

interface SigningKeyRow {
  key_id: string;
  name: string;
  algorithm: string;
  public_key_pem: string;
  created_at: number | string;
}

const rowToKey = (row: SigningKeyRow): SigningKeyRecord => ({
  name: row.name,
  keyId: row.key_id,
  algorithm: row.algorithm as SigningAlgorithm,
  publicKeyPem: row.public_key_pem,
  createdAt: Number(row.created_at),
});

/** The registry of public signing keys: one name per key, one key per name. */
export class SigningKeyStore {
  constructor(private readonly db: SqlDatabase) {}

  /**
   * Registers a key under a name. The same key under the same name again is no change
   * (`created: false`); the name holding another key, or the key registered under another name,
   * is ResourceAlreadyExistsException.
   */
  async put(key: NewSigningKey, now: number): Promise<{ key: SigningKeyRecord; created: boolean }> {
    try {
      await this.db.run(
        'INSERT INTO signing_keys (key_id, name, algorithm, public_key_pem, created_at) VALUES (?, ?, ?, ?, ?)',
        [key.keyId, key.name, key.algorithm, key.publicKeyPem, now],
      );
      return { key: { ...key, createdAt: now }, created: true };
    } catch (error) {
      if (!(error instanceof UniqueViolation)) throw error;
    }
    const byName = await this.get(key.name);
    if (byName?.keyId === key.keyId) return { key: byName, created: false };
    if (byName) {
      throw alreadyExists(
        `Signing key ${key.name} already exists with another key (keyId ${byName.keyId}); delete it first`,
        key.name,
      );
    }
    const byId = await this.getByKeyId(key.keyId);
    throw alreadyExists(
      `This public key (keyId ${key.keyId}) is already registered as ${byId?.name ?? 'another name'}`,
      byId?.name ?? key.keyId,
    );
  }

  async get(name: string): Promise<SigningKeyRecord | undefined> {
    const row = await this.db.get<SigningKeyRow>('SELECT * FROM signing_keys WHERE name = ?', [name]);
    return row && rowToKey(row);
  }

  async getByKeyId(keyId: string): Promise<SigningKeyRecord | undefined> {
    const row = await this.db.get<SigningKeyRow>('SELECT * FROM signing_keys WHERE key_id = ?', [keyId]);
    return row && rowToKey(row);
  }

  async describe(name: string): Promise<SigningKeyRecord> {
    const key = await this.get(name);
    if (!key) throw notFound(`Signing key ${name} cannot be found.`);
    return key;
  }

  /** Keys by name. */
  async list(request: PageRequest): Promise<Page<SigningKeyRecord>> {
    const rows = await this.db.all<SigningKeyRow>(
      'SELECT * FROM signing_keys WHERE name > ? ORDER BY name LIMIT ?',
      [request.after ?? '', request.limit + 1],
    );
    return toPage(rows.map(rowToKey), request.limit, (k) => k.name);
  }

  /** True when a key was deleted. */
  async delete(name: string): Promise<boolean> {
    const { changes } = await this.db.run('DELETE FROM signing_keys WHERE name = ?', [name]);
    return changes > 0;
  }
}
