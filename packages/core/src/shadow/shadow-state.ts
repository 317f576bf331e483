import type { JsonObject } from './json.js';

/** The two writable sections of a shadow's `state`. */
export const SHADOW_SECTIONS = ['desired', 'reported'] as const;
export type ShadowSection = (typeof SHADOW_SECTIONS)[number];

/** Metadata of one leaf value: when it was last written, in epoch seconds. */
export interface LeafMetadata {
  timestamp: number;
}
/** Metadata mirrors the state tree: objects map keys, arrays get one entry per element. */
export type MetadataNode = LeafMetadata | MetadataObject | MetadataNode[];
export interface MetadataObject {
  [key: string]: MetadataNode;
}

/** A shadow as Otter stores it (the GetThingShadow document minus `delta`). */
export interface ShadowState {
  state: { desired?: JsonObject; reported?: JsonObject };
  metadata: { desired?: MetadataObject; reported?: MetadataObject };
  /** Starts at 1 and grows by 1 with every accepted update. */
  version: number;
  /** Epoch seconds of the last accepted update. */
  timestamp: number;
}

/** The `state` of a request: a section set to `null` is removed. */
export interface RequestState {
  desired?: JsonObject | null;
  reported?: JsonObject | null;
}

/** `/update/accepted` payload, also the UpdateThingShadow HTTP response body. */
export interface UpdateAcceptedDocument {
  state: RequestState | null;
  metadata: MetadataNode;
  version: number;
  timestamp: number;
  clientToken?: string;
}

/** One side of an `/update/documents` message. */
export interface ShadowSnapshot {
  state: ShadowState['state'];
  metadata: ShadowState['metadata'];
  version: number;
}

/** `/update/documents` payload. `previous` is null when the update created the shadow. */
export interface UpdateDocumentsDocument {
  previous: ShadowSnapshot | null;
  current: ShadowSnapshot;
  timestamp: number;
  clientToken?: string;
}

/** `/update/delta` payload. */
export interface DeltaDocument {
  state: JsonObject;
  metadata: MetadataObject;
  version: number;
  timestamp: number;
  clientToken?: string;
}

/** GetThingShadow response body and `/get/accepted` payload. */
export interface ShadowGetDocument {
  state: { desired?: JsonObject; reported?: JsonObject; delta?: JsonObject };
  metadata: ShadowState['metadata'];
  version: number;
  timestamp: number;
}

/** DeleteThingShadow response body and `/delete/accepted` payload. */
export interface ShadowDeleteDocument {
  version: number;
  timestamp: number;
}

/** The error response document of `/update/rejected` and friends. */
export interface ShadowErrorDocument {
  code: number;
  message: string;
  timestamp: number;
  clientToken?: string;
}

/** Epoch seconds, as every shadow timestamp is. */
export const epochSeconds = (nowMs: number): number => Math.floor(nowMs / 1000);
