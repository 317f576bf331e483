export {
  applyShadowUpdate,
  SHADOW_MAX_DOCUMENT_BYTES,
  type ShadowUpdateOptions,
  type ShadowUpdateResult,
} from './apply-shadow-update.js';
export { computeDelta, deltaMetadata } from './compute-delta.js';
export type { JsonObject as ShadowJsonObject, JsonValue as ShadowJsonValue } from './json.js';
export {
  parseShadowUpdateRequest,
  SHADOW_MAX_CLIENT_TOKEN_BYTES,
  SHADOW_MAX_DEPTH,
  type ShadowUpdateRequest,
} from './parse-update-request.js';
export {
  RESERVED_SHADOW_NAMES,
  SHADOW_NAME_MAX_LENGTH,
  SHADOW_NAME_PATTERN,
  validateShadowName,
} from './shadow-name.js';
export { shadowDeleteResponse, shadowGetResponse, shadowRejectedDocument } from './shadow-responses.js';
export * from './shadow-state.js';
