import type { SqlDatabase } from './sql/sql-database.js';

/** `thing`, `thingType`, `thingGroup`, … — whatever the caller's ARN names. */
export type TaggedResourceType = string;

export class TagStore {
  constructor(private readonly db: SqlDatabase) {}

  /** Adds or overwrites tags. */
  async tag(
    resourceType: TaggedResourceType,
    resourceName: string,
    tags: Readonly<Record<string, string>>,
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      for (const [key, value] of Object.entries(tags)) {
        await tx.run(
          `INSERT INTO tags (resource_type, resource_name, key, value) VALUES (?, ?, ?, ?)
           ON CONFLICT (resource_type, resource_name, key) DO UPDATE SET value = excluded.value`,
          [resourceType, resourceName, key, value],
        );
      }
    });
  }

  async untag(
    resourceType: TaggedResourceType,
    resourceName: string,
    keys: readonly string[],
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      for (const key of keys)
        await tx.run('DELETE FROM tags WHERE resource_type = ? AND resource_name = ? AND key = ?', [
          resourceType,
          resourceName,
          key,
        ]);
    });
  }

  /** All tags of the resource, ordered by key. */
  async list(resourceType: TaggedResourceType, resourceName: string): Promise<Record<string, string>> {
    const rows = await this.db.all<{ key: string; value: string }>(
      'SELECT key, value FROM tags WHERE resource_type = ? AND resource_name = ? ORDER BY key',
      [resourceType, resourceName],
    );
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }
}
