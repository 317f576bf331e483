import { parseDecimal } from './ast.js';

/** What fleet indexing knows about one thing: registry data, shadows and connectivity. */
export interface IndexedThing {
  thingName: string;
  thingId: string;
  thingTypeName?: string;
  thingGroupNames: readonly string[];
  attributes: Readonly<Record<string, string>>;
  /** The classic (unnamed) shadow. */
  shadow?: IndexedShadow;
  /** Named shadows by name, including the reserved `$package`. */
  namedShadows: Readonly<Record<string, IndexedShadow>>;
  connectivity?: { connected: boolean; timestamp?: number; disconnectReason?: string };
}

export interface IndexedShadow {
  reported?: unknown;
  desired?: unknown;
  hasDelta?: boolean;
  version?: number;
}

/**
 * One row of a thing's index document, as stored in the `thing_index` table. `text` is the
 * value as text (numbers in `String(n)` form, booleans `true`/`false`); `num` is set for numbers
 * and for strings that spell a finite decimal (AWS attributes are strings, yet numeric ranges
 * on them work).
 */
export interface IndexField {
  field: string;
  text: string | null;
  num: number | null;
}

/**
 * Flattens a thing into index rows: nested objects join keys with dots, arrays give one row per
 * element under the same field, `null` gives no row.
 */
export function indexFields(thing: IndexedThing): IndexField[] {
  const rows: IndexField[] = [];
  const add = (field: string, value: unknown): void => flatten(field, value, rows);
  add('thingName', thing.thingName);
  add('thingId', thing.thingId);
  add('thingTypeName', thing.thingTypeName);
  add('thingGroupNames', thing.thingGroupNames);
  for (const [key, value] of Object.entries(thing.attributes)) add(`attributes.${key}`, value);
  if (thing.shadow) addShadow('shadow', thing.shadow, rows);
  for (const [name, shadow] of Object.entries(thing.namedShadows))
    addShadow(`shadow.name.${name}`, shadow, rows);
  if (thing.connectivity) {
    add('connectivity.connected', thing.connectivity.connected);
    add('connectivity.timestamp', thing.connectivity.timestamp);
    add('connectivity.disconnectReason', thing.connectivity.disconnectReason);
  }
  return rows;
}

function addShadow(prefix: string, shadow: IndexedShadow, rows: IndexField[]): void {
  flatten(`${prefix}.reported`, shadow.reported, rows);
  flatten(`${prefix}.desired`, shadow.desired, rows);
  flatten(`${prefix}.hasDelta`, shadow.hasDelta, rows);
  flatten(`${prefix}.version`, shadow.version, rows);
}

function flatten(field: string, value: unknown, rows: IndexField[]): void {
  switch (typeof value) {
    case 'string':
      rows.push({ field, text: value, num: parseDecimal(value) });
      return;
    case 'number':
      // JSON has no NaN or Infinity; should one arrive, it is searchable as text only.
      if (Number.isFinite(value)) rows.push({ field, text: String(value), num: value === 0 ? 0 : value });
      else rows.push({ field, text: String(value), num: null });
      return;
    case 'boolean':
      rows.push({ field, text: value ? 'true' : 'false', num: null });
      return;
    case 'object':
      if (value === null) return;
      if (Array.isArray(value)) {
        for (const element of value) flatten(field, element, rows);
        return;
      }
      for (const [key, inner] of Object.entries(value)) flatten(`${field}.${key}`, inner, rows);
      return;
    default:
      return; // undefined, bigint, functions: not JSON, not indexed
  }
}
