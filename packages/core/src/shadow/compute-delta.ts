import { cloneJson, getOwn, isJsonObject, type JsonObject, jsonEqual, setOwn } from './json.js';
import { isMetadataObject } from './metadata.js';
import type { MetadataObject } from './shadow-state.js';

/**
 * The `delta` of a shadow: each field of `desired` that `reported` lacks or holds a different
 * value for. Nested objects yield a nested delta of only the differing leaves ("the delta contains
 * the path all the way to the root"); arrays are values and are copied whole when they differ;
 * fields only in `reported` never appear. Empty object when nothing differs.
 * Source: AWS IoT Developer Guide, "Device Shadow service documents" § Delta state.
 */
export function computeDelta(desired: JsonObject | undefined, reported: JsonObject | undefined): JsonObject {
  const out: JsonObject = {};
  if (desired === undefined) return out;
  for (const [key, want] of Object.entries(desired)) {
    const have = reported === undefined ? undefined : getOwn(reported, key);
    if (have === undefined) {
      setOwn(out, key, cloneJson(want));
    } else if (isJsonObject(want) && isJsonObject(have)) {
      const sub = computeDelta(want, have);
      if (Object.keys(sub).length > 0) setOwn(out, key, sub);
    } else if (!jsonEqual(want, have)) {
      setOwn(out, key, cloneJson(want));
    }
  }
  return out;
}

/**
 * Metadata of a delta: "its values are equal to the metadata in the `desired` field"
 * (Developer Guide § Delta state), i.e. the desired metadata pruned to the delta's shape.
 */
export function deltaMetadata(
  delta: JsonObject,
  desiredMetadata: MetadataObject | undefined,
): MetadataObject {
  const out: MetadataObject = {};
  if (desiredMetadata === undefined) return out;
  for (const [key, value] of Object.entries(delta)) {
    const m = getOwn(desiredMetadata, key);
    if (m === undefined) continue;
    setOwn(out, key, isJsonObject(value) && isMetadataObject(m) ? deltaMetadata(value, m) : cloneJson(m));
  }
  return out;
}

/**
 * Whether a field the request's `desired` names (with a value, not `null`) is part of `delta`.
 * AWS publishes `/update/delta` only when "the request state document contains different values
 * for `desired` and `reported` states" (Developer Guide, "Device Shadow MQTT topics" § /update/delta).
 */
export function requestTouchesDelta(delta: JsonObject, requestDesired: JsonObject): boolean {
  for (const [key, value] of Object.entries(requestDesired)) {
    if (value === null) continue;
    const d = getOwn(delta, key);
    if (d === undefined) continue;
    if (!isJsonObject(value) || !isJsonObject(d)) return true;
    if (requestTouchesDelta(d, value)) return true;
  }
  return false;
}
