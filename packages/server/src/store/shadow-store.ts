import { type ShadowState, versionConflict } from '@otter/core';
import { type Page, type PageRequest, parseJson, toPage } from './records.js';
import { type SqlDatabase, UniqueViolation } from './sql/sql-database.js';
import { reindexThing } from './thing-index.js';
import { requireThing } from './thing-store.js';

/** The classic (unnamed) shadow's `shadow_name`. */
export const CLASSIC_SHADOW = '';

const conflict = (thingName: string, shadowName: string) =>
  versionConflict(
    `Shadow ${shadowName === CLASSIC_SHADOW ? '(classic)' : shadowName} of thing ${thingName} was changed concurrently.`,
  );

/** How long a deleted shadow's version is remembered (AWS: 48 hours). */
export const SHADOW_TOMBSTONE_MS = 48 * 60 * 60 * 1000;

export class ShadowStore {
  constructor(private readonly db: SqlDatabase) {}

  async get(thingName: string, shadowName: string): Promise<ShadowState | undefined> {
    const row = await this.db.get<{ state: string }>(
      'SELECT state FROM shadows WHERE thing_name = ? AND shadow_name = ?',
      [thingName, shadowName],
    );
    return row && parseJson<ShadowState>(row.state);
  }

  /**
   * Stores `state` when the stored shadow still has version `expectedVersion` (`null`: when no
   * shadow exists yet); otherwise VersionConflictException. The thing must exist. Reindexes it.
   */
  async put(
    thingName: string,
    shadowName: string,
    state: ShadowState,
    expectedVersion: number | null,
    now: number,
  ): Promise<void> {
    try {
      await this.db.transaction(async (tx) => {
        await requireThing(tx, thingName);
        if (expectedVersion === null) {
          await tx.run('DELETE FROM shadow_tombstones WHERE thing_name = ? AND shadow_name = ?', [
            thingName,
            shadowName,
          ]);
          await tx.run(
            'INSERT INTO shadows (thing_name, shadow_name, state, version, updated_at) VALUES (?, ?, ?, ?, ?)',
            [thingName, shadowName, JSON.stringify(state), state.version, now],
          );
        } else {
          const { changes } = await tx.run(
            `UPDATE shadows SET state = ?, version = ?, updated_at = ?
             WHERE thing_name = ? AND shadow_name = ? AND version = ?`,
            [JSON.stringify(state), state.version, now, thingName, shadowName, expectedVersion],
          );
          if (changes === 0) throw conflict(thingName, shadowName);
        }
        await reindexThing(tx, thingName);
      });
    } catch (error) {
      if (error instanceof UniqueViolation) throw conflict(thingName, shadowName);
      throw error;
    }
  }

  /** Deletes the shadow and returns what it held, or undefined when there was none. */
  async delete(
    thingName: string,
    shadowName: string,
    expectedVersion: number | undefined,
    now: number,
  ): Promise<ShadowState | undefined> {
    return this.db.transaction(async (tx) => {
      const row = await tx.get<{ state: string; version: number }>(
        'SELECT state, version FROM shadows WHERE thing_name = ? AND shadow_name = ?',
        [thingName, shadowName],
      );
      if (!row) return undefined;
      if (expectedVersion !== undefined && Number(row.version) !== expectedVersion)
        throw conflict(thingName, shadowName);
      await tx.run('DELETE FROM shadows WHERE thing_name = ? AND shadow_name = ?', [thingName, shadowName]);
      await tx.run('DELETE FROM shadow_tombstones WHERE thing_name = ? AND shadow_name = ?', [
        thingName,
        shadowName,
      ]);
      await tx.run(
        'INSERT INTO shadow_tombstones (thing_name, shadow_name, version, deleted_at) VALUES (?, ?, ?, ?)',
        [thingName, shadowName, Number(row.version), now],
      );
      await reindexThing(tx, thingName);
      return parseJson<ShadowState>(row.state);
    });
  }

  /** The version of a shadow deleted less than 48 hours before `now`, from which a re-created one continues. */
  async deletedVersion(thingName: string, shadowName: string, now: number): Promise<number | undefined> {
    const row = await this.db.get<{ version: number }>(
      'SELECT version FROM shadow_tombstones WHERE thing_name = ? AND shadow_name = ? AND deleted_at > ?',
      [thingName, shadowName, now - SHADOW_TOMBSTONE_MS],
    );
    return row && Number(row.version);
  }

  /** Names of the thing's named shadows (the classic shadow is not listed). */
  async listNamed(thingName: string, request: PageRequest): Promise<Page<string>> {
    const rows = await this.db.all<{ shadow_name: string }>(
      `SELECT shadow_name FROM shadows WHERE thing_name = ? AND shadow_name > ?
       ORDER BY shadow_name LIMIT ?`,
      [thingName, request.after ?? CLASSIC_SHADOW, request.limit + 1],
    );
    return toPage(
      rows.map((r) => r.shadow_name),
      request.limit,
      (n) => n,
    );
  }
}
