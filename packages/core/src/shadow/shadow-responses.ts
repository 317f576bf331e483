import type { OtterError } from '../errors.js';
import { computeDelta } from './compute-delta.js';
import { cloneJson } from './json.js';
import { clientTokenOf } from './parse-update-request.js';
import {
  epochSeconds,
  type ShadowDeleteDocument,
  type ShadowErrorDocument,
  type ShadowGetDocument,
  type ShadowState,
} from './shadow-state.js';

/**
 * The GetThingShadow response (and `/get/accepted` payload): the stored document plus `delta`
 * when `desired` differs from `reported` ("Present only if the desired data differs from the
 * shadow's current reported data"). `timestamp` is when the response was generated: `nowMs`
 * when given, else the time of the last update.
 */
export function shadowGetResponse(shadow: ShadowState, nowMs?: number): ShadowGetDocument {
  const state: ShadowGetDocument['state'] = cloneJson(shadow.state);
  const delta = computeDelta(shadow.state.desired, shadow.state.reported);
  if (Object.keys(delta).length > 0) state.delta = delta;
  return {
    state,
    metadata: cloneJson(shadow.metadata),
    version: shadow.version,
    timestamp: nowMs === undefined ? shadow.timestamp : epochSeconds(nowMs),
  };
}

/**
 * The DeleteThingShadow response (and `/delete/accepted` payload): the version of the deleted
 * document and the time of deletion. Deleting does not reset the version: keep it and pass it as
 * `deletedVersion` to `applyShadowUpdate` when the shadow is re-created.
 */
export function shadowDeleteResponse(shadow: ShadowState, nowMs: number): ShadowDeleteDocument {
  return { version: shadow.version, timestamp: epochSeconds(nowMs) };
}

/**
 * The error response document published on `/update/rejected` (and the other `/rejected` topics):
 * `{ code, message, timestamp, clientToken? }`, the token echoed when the request had a valid one.
 */
export function shadowRejectedDocument(
  error: OtterError,
  nowMs: number,
  requestBody?: unknown,
): ShadowErrorDocument {
  const clientToken = requestBody === undefined ? undefined : clientTokenOf(requestBody);
  return {
    code: error.status,
    message: error.message,
    timestamp: epochSeconds(nowMs),
    ...(clientToken === undefined ? {} : { clientToken }),
  };
}
