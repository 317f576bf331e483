import { alreadyExists } from '@otter/core';
import type { Page, PageRequest } from './records.js';
import { toPage } from './records.js';
import { type SqlDatabase, type SqlExecutor, UniqueViolation } from './sql/sql-database.js';

/** A named artifact: a name pointing at a content-addressed blob. Timestamps in epoch ms. */
export interface ArtifactRecord {
  name: string;
  sha256: string;
  size: number;
  contentType: string;
  createdAt: number;
}

interface ArtifactRow {
  name: string;
  sha256: string;
  size: number | string;
  content_type: string;
  created_at: number | string;
}

const rowToArtifact = (row: ArtifactRow): ArtifactRecord => ({
  name: row.name,
  sha256: row.sha256,
  size: Number(row.size),
  contentType: row.content_type,
  createdAt: Number(row.created_at),
});

export interface ListArtifactsRequest extends PageRequest {
  prefix?: string | undefined;
}

/** Artifact names → blobs. Names are immutable: a name holds one content until deleted. */
export class ArtifactStore {
  constructor(private readonly db: SqlDatabase) {}

  async get(name: string, db: SqlExecutor = this.db): Promise<ArtifactRecord | undefined> {
    const row = await db.get<ArtifactRow>('SELECT * FROM artifacts WHERE name = ?', [name]);
    return row && rowToArtifact(row);
  }

  /**
   * Names a blob. When the name already holds the same content, returns it with `created: false`;
   * when it holds different content, ResourceAlreadyExistsException.
   */
  async create(record: ArtifactRecord): Promise<{ artifact: ArtifactRecord; created: boolean }> {
    const existing = await this.get(record.name);
    if (existing) return { artifact: sameOrConflict(existing, record), created: false };
    try {
      await this.db.run(
        'INSERT INTO artifacts (name, sha256, size, content_type, created_at) VALUES (?, ?, ?, ?, ?)',
        [record.name, record.sha256, record.size, record.contentType, record.createdAt],
      );
    } catch (error) {
      if (!(error instanceof UniqueViolation)) throw error;
      // Lost a race with another upload of the same name.
      const winner = await this.get(record.name);
      if (!winner) throw error;
      return { artifact: sameOrConflict(winner, record), created: false };
    }
    return { artifact: record, created: true };
  }

  /** Artifacts by name (code point order), optionally only those starting with `prefix`. */
  async list(request: ListArtifactsRequest): Promise<Page<ArtifactRecord>> {
    const prefix = request.prefix ?? '';
    const rows = await this.db.all<ArtifactRow>(
      `SELECT * FROM artifacts WHERE name > ? AND name >= ? AND substr(name, 1, ?) = ?
       ORDER BY name LIMIT ?`,
      [request.after ?? '', prefix, prefix.length, prefix, request.limit + 1],
    );
    return toPage(rows.map(rowToArtifact), request.limit, (a) => a.name);
  }

  /**
   * Removes a name; returns what it held and whether any other name still refers to the same blob
   * (when none does, the caller deletes the blob). Undefined when the name does not exist.
   */
  delete(name: string): Promise<{ artifact: ArtifactRecord; blobInUse: boolean } | undefined> {
    return this.db.transaction(async (tx) => {
      const artifact = await this.get(name, tx);
      if (!artifact) return undefined;
      await tx.run('DELETE FROM artifacts WHERE name = ?', [name]);
      return { artifact, blobInUse: await this.isBlobInUse(artifact.sha256, tx) };
    });
  }

  /** Whether any name refers to this blob. */
  async isBlobInUse(sha256: string, db: SqlExecutor = this.db): Promise<boolean> {
    const row = await db.get<{ one: number }>('SELECT 1 AS one FROM artifacts WHERE sha256 = ? LIMIT 1', [
      sha256,
    ]);
    return row !== undefined;
  }
}

function sameOrConflict(existing: ArtifactRecord, wanted: ArtifactRecord): ArtifactRecord {
  if (existing.sha256 === wanted.sha256) return existing;
  throw alreadyExists(
    `Artifact ${existing.name} already exists with different content (SHA-256 ${existing.sha256}); ` +
      'artifact names are immutable: delete it first',
    existing.name,
  );
}
