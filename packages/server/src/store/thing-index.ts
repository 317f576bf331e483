import {
  computeDelta,
  type IndexedShadow,
  type IndexedThing,
  indexFields,
  type ShadowState,
} from '@otter/core';
import { parseJson, rowToThing, type ThingRow } from './records.js';
import type { SqlExecutor } from './sql/sql-database.js';

/** Loads what fleet indexing knows about a thing, or undefined when it does not exist. */
export async function loadIndexedThing(
  tx: SqlExecutor,
  thingName: string,
): Promise<IndexedThing | undefined> {
  const row = await tx.get<ThingRow>('SELECT * FROM things WHERE thing_name = ?', [thingName]);
  if (!row) return undefined;
  const thing = rowToThing(row);
  const groups = await tx.all<{ group_name: string }>(
    'SELECT group_name FROM thing_group_members WHERE thing_name = ? ORDER BY group_name',
    [thingName],
  );
  const shadows = await tx.all<{ shadow_name: string; state: string }>(
    'SELECT shadow_name, state FROM shadows WHERE thing_name = ? ORDER BY shadow_name',
    [thingName],
  );
  const namedShadows: Record<string, IndexedShadow> = {};
  let classic: IndexedShadow | undefined;
  for (const s of shadows) {
    const indexed = toIndexedShadow(parseJson<ShadowState>(s.state));
    if (s.shadow_name === '') classic = indexed;
    else namedShadows[s.shadow_name] = indexed;
  }
  const { connectivity } = thing;
  return {
    thingName: thing.thingName,
    thingId: thing.thingId,
    ...(thing.thingTypeName === undefined ? {} : { thingTypeName: thing.thingTypeName }),
    thingGroupNames: groups.map((g) => g.group_name),
    attributes: thing.attributes,
    ...(classic === undefined ? {} : { shadow: classic }),
    namedShadows,
    connectivity: {
      connected: connectivity.connected,
      ...(connectivity.timestamp === undefined ? {} : { timestamp: connectivity.timestamp }),
      ...(connectivity.disconnectReason === undefined
        ? {}
        : { disconnectReason: connectivity.disconnectReason }),
    },
  };
}

function toIndexedShadow(shadow: ShadowState): IndexedShadow {
  const { desired, reported } = shadow.state;
  return {
    ...(desired === undefined ? {} : { desired }),
    ...(reported === undefined ? {} : { reported }),
    hasDelta: Object.keys(computeDelta(desired, reported)).length > 0,
    version: shadow.version,
  };
}

/**
 * Rebuilds a thing's `thing_index` rows from its registry data, groups, shadows and
 * connectivity. Call inside every transaction that changes any of those.
 */
export async function reindexThing(tx: SqlExecutor, thingName: string): Promise<void> {
  await tx.run('DELETE FROM thing_index WHERE thing_name = ?', [thingName]);
  const thing = await loadIndexedThing(tx, thingName);
  if (!thing) return;
  for (const row of indexFields(thing)) {
    await tx.run('INSERT INTO thing_index (thing_name, field, value_text, value_num) VALUES (?, ?, ?, ?)', [
      thingName,
      row.field,
      row.text,
      row.num,
    ]);
  }
}
