import { getOwn, isJsonObject, setOwn } from './json.js';
import type { LeafMetadata, MetadataNode, MetadataObject } from './shadow-state.js';

/** `{ "timestamp": n }`: the metadata of a single value. */
export const isLeafMetadata = (m: unknown): m is LeafMetadata =>
  isJsonObject(m) && typeof getOwn(m, 'timestamp') === 'number';

/** The metadata of an object (as opposed to a leaf or an array). */
export const isMetadataObject = (m: unknown): m is MetadataObject => isJsonObject(m) && !isLeafMetadata(m);

/**
 * Metadata for a freshly written value: every leaf (including a `null` that deletes) gets
 * `{ timestamp }`, objects mirror their keys and arrays get one entry per element, as AWS's
 * own shadow implementation builds it (aws-greengrass-shadow-manager, ShadowStateMetadata
 * `createMetadataPatch`).
 */
export function metadataFor(value: unknown, timestamp: number): MetadataNode {
  if (Array.isArray(value)) return value.map((v) => metadataFor(v, timestamp));
  if (isJsonObject(value)) {
    const out: MetadataObject = {};
    for (const [k, v] of Object.entries(value)) setOwn(out, k, metadataFor(v, timestamp));
    return out;
  }
  return { timestamp };
}
