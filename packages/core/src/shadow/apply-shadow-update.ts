import { OtterError } from '../errors.js';
import { computeDelta, deltaMetadata, requestTouchesDelta } from './compute-delta.js';
import { cloneJson, getOwn, isJsonObject, type JsonObject, setOwn, utf8Length } from './json.js';
import { isMetadataObject, metadataFor } from './metadata.js';
import { parseShadowUpdateRequest, SHADOW_MAX_DEPTH } from './parse-update-request.js';
import {
  type DeltaDocument,
  epochSeconds,
  type MetadataObject,
  type RequestState,
  SHADOW_SECTIONS,
  type ShadowSnapshot,
  type ShadowState,
  type UpdateAcceptedDocument,
  type UpdateDocumentsDocument,
} from './shadow-state.js';

/**
 * "The device's shadow supports 8 KB of data only … metadata … does not count toward the limit
 * of 8 KB. Only the data for desired and reported state … counts" (Developer Guide, "Diagnosing
 * problems with shadows"); the same 8 KB applies to each named shadow. Counted like AWS's own
 * implementation: UTF-8 bytes of `desired` plus `reported` as compact JSON
 * (aws-greengrass-shadow-manager, UpdateThingShadowRequestHandler, DEFAULT_DOCUMENT_SIZE = 8 * 1024).
 */
export const SHADOW_MAX_DOCUMENT_BYTES = 8 * 1024;

export interface ShadowUpdateOptions {
  /** Limit for `desired` + `reported`, of the request and of the result. Default 8192. */
  maxDocumentBytes?: number;
  /** Maximum nesting, the `state` node being level 1. Default 6. */
  maxDepth?: number;
  /**
   * Version of a recently deleted shadow of the same name: a re-created shadow continues from it
   * ("the version number of the new device shadow document will follow that of the deleted one").
   */
  deletedVersion?: number;
}

export interface ShadowUpdateResult {
  /** The shadow to store. Never undefined: `"state": null` empties a shadow but does not delete it. */
  next: ShadowState;
  accepted: UpdateAcceptedDocument;
  documents: UpdateDocumentsDocument;
  /** Present when a field the request's `desired` sets differs from `reported`. */
  delta?: DeltaDocument;
}

const tooLarge = () =>
  new OtterError('RequestEntityTooLargeException', 'The payload exceeds the maximum size allowed');

const sectionsBytes = (s: { desired?: JsonObject | null; reported?: JsonObject | null }): number =>
  (s.desired ? utf8Length(JSON.stringify(s.desired)) : 0) +
  (s.reported ? utf8Length(JSON.stringify(s.reported)) : 0);

/**
 * Merges `patch` into `target` (both mutated: callers pass copies). `null` deletes a field, objects
 * merge recursively, anything else — arrays included — replaces the old value whole ("an update to
 * an array replaces the whole array"). Otter stores no empty objects: one that a merge leaves empty
 * is dropped, so `{}` in a patch is a no-op (AWS documents this only for whole sections).
 */
function mergeInto(target: JsonObject, meta: MetadataObject, patch: JsonObject, timestamp: number): void {
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete target[key];
      delete meta[key];
      continue;
    }
    if (!isJsonObject(value)) {
      setOwn(target, key, cloneJson(value));
      setOwn(meta, key, metadataFor(value, timestamp));
      continue;
    }
    const old = getOwn(target, key);
    const oldMeta = getOwn(meta, key);
    const child: JsonObject = isJsonObject(old) ? old : {};
    const childMeta: MetadataObject = isJsonObject(old) && isMetadataObject(oldMeta) ? oldMeta : {};
    mergeInto(child, childMeta, value, timestamp);
    if (Object.keys(child).length === 0) {
      delete target[key];
      delete meta[key];
    } else {
      setOwn(target, key, child);
      setOwn(meta, key, childMeta);
    }
  }
}

const snapshot = (s: ShadowState): ShadowSnapshot => ({
  state: cloneJson(s.state),
  metadata: cloneJson(s.metadata),
  version: s.version,
});

/**
 * Applies an UpdateThingShadow request (or an MQTT `/update` message) to a shadow, `undefined`
 * when none exists yet. Returns the shadow to store and the messages AWS IoT would send; throws
 * OtterError (InvalidRequestException, ConflictException, RequestEntityTooLargeException,
 * UnsupportedDocumentEncodingException). Pure: inputs are never mutated, outputs share nothing
 * with them.
 */
export function applyShadowUpdate(
  current: ShadowState | undefined,
  requestBody: unknown,
  nowMs: number,
  opts: ShadowUpdateOptions = {},
): ShadowUpdateResult {
  const request = parseShadowUpdateRequest(requestBody, opts.maxDepth ?? SHADOW_MAX_DEPTH);
  const maxBytes = opts.maxDocumentBytes ?? SHADOW_MAX_DOCUMENT_BYTES;
  if (request.state && sectionsBytes(request.state) > maxBytes) throw tooLarge();

  // "If used, the Device Shadow service processes the update only if the specified version matches
  // the latest version it has" — otherwise HTTP 409 "Version conflict". The data-plane model calls
  // that error ConflictException (iot-data UpdateThingShadow: "The specified version does not match
  // the version of the document").
  const baseVersion = current?.version ?? opts.deletedVersion ?? 0;
  if (request.version !== undefined && request.version !== baseVersion) {
    throw new OtterError('ConflictException', 'Version conflict');
  }

  const timestamp = epochSeconds(nowMs);
  const patch: RequestState = request.state ?? { desired: null, reported: null };
  const next: ShadowState = { state: {}, metadata: {}, version: baseVersion + 1, timestamp };
  for (const section of SHADOW_SECTIONS) {
    const value = cloneJson(current?.state[section]);
    const meta = cloneJson(current?.metadata[section]);
    const p = patch[section];
    if (p === null) continue; // "If an update causes the desired or reported properties to become null, it is removed"
    const target = value ?? {};
    const targetMeta = meta ?? {};
    if (p !== undefined) mergeInto(target, targetMeta, p, timestamp);
    if (Object.keys(target).length > 0) {
      next.state[section] = target;
      next.metadata[section] = targetMeta;
    }
  }
  if (sectionsBytes(next.state) > maxBytes) throw tooLarge();

  const token = request.clientToken === undefined ? {} : { clientToken: request.clientToken };
  const echoed = cloneJson(request.state);
  const accepted: UpdateAcceptedDocument = {
    state: echoed,
    metadata: metadataFor(echoed, timestamp),
    version: next.version,
    timestamp,
    ...token,
  };
  const documents: UpdateDocumentsDocument = {
    previous: current === undefined ? null : snapshot(current),
    current: snapshot(next),
    timestamp,
    ...token,
  };
  const result: ShadowUpdateResult = { next, accepted, documents };

  const requestDesired = patch.desired;
  const delta = computeDelta(next.state.desired, next.state.reported);
  if (isJsonObject(requestDesired) && requestTouchesDelta(delta, requestDesired)) {
    result.delta = {
      state: delta,
      metadata: deltaMetadata(delta, next.metadata.desired),
      version: next.version,
      timestamp,
      ...token,
    };
  }
  return result;
}
