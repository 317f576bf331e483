import { OtterError } from '../errors.js';
import { isPlainObject, type JsonObject, utf8Length } from './json.js';
import type { RequestState } from './shadow-state.js';

/**
 * Limits and error messages of the Device Shadow service. Messages are AWS's own, from the
 * Developer Guide, "Device Shadow error messages" (400: "Invalid JSON", "Missing required node:
 * state", "State node must be an object", "Desired node must be an object", "Reported node must be
 * an object", "Invalid version", "Invalid clientToken", "JSON contains too many levels of nesting;
 * maximum is 6", "State contains an invalid node"; 415: "Unsupported documented encoding; supported
 * encoding is UTF-8").
 */
export const SHADOW_MAX_DEPTH = 6;
/** "The client token can be no longer than 64 bytes" (Developer Guide § Client tokens). */
export const SHADOW_MAX_CLIENT_TOKEN_BYTES = 64;

/** A request state document, validated. */
export interface ShadowUpdateRequest {
  /** `null` clears both sections ("Setting the device's shadow state to null does not delete the shadow"). */
  state: RequestState | null;
  version?: number;
  clientToken?: string;
}

const invalid = (message: string) => new OtterError('InvalidRequestException', message);
const tooDeep = (max: number) => invalid(`JSON contains too many levels of nesting; maximum is ${max}`);

/** Turns raw bytes or text into a JSON value; anything else is taken as already parsed. */
function decode(body: unknown): unknown {
  let text: string;
  if (body instanceof Uint8Array) {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      throw new OtterError(
        'UnsupportedDocumentEncodingException',
        'Unsupported documented encoding; supported encoding is UTF-8',
      );
    }
  } else if (typeof body === 'string') {
    text = body;
  } else {
    return body;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalid('Invalid JSON');
  }
}

/**
 * Checks one value of a section. `level` is the nesting level of the container holding it, the
 * `state` node being level 1 — the way AWS counts (aws-greengrass-shadow-manager, JsonUtil
 * `calculateDepth`, DEFAULT_DOCUMENT_STATE_DEPTH = 6): objects and arrays each add a level.
 */
function checkValue(v: unknown, level: number, path: string, inArray: boolean, maxDepth: number): void {
  if (v === null) {
    // "Arrays can't have null values" (Developer Guide § Array values in shadow documents).
    if (inArray) throw invalid(`Invalid JSON: arrays can't contain null values (${path})`);
    return;
  }
  if (typeof v === 'string' || typeof v === 'boolean') return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw invalid(`Invalid JSON: ${path} is not a JSON number`);
    return;
  }
  if (Array.isArray(v)) {
    if (level + 1 > maxDepth) throw tooDeep(maxDepth);
    v.forEach((x, i) => {
      checkValue(x, level + 1, `${path}[${i}]`, true, maxDepth);
    });
    return;
  }
  if (isPlainObject(v)) {
    if (level + 1 > maxDepth) throw tooDeep(maxDepth);
    for (const [k, x] of Object.entries(v)) checkValue(x, level + 1, `${path}.${k}`, inArray, maxDepth);
    return;
  }
  throw invalid(`Invalid JSON: ${path} is not a JSON value`);
}

function parseSection(name: 'desired' | 'reported', v: unknown, maxDepth: number): JsonObject | null {
  if (v === null) return null;
  if (!isPlainObject(v))
    throw invalid(name === 'desired' ? 'Desired node must be an object' : 'Reported node must be an object');
  checkValue(v, 1, `state.${name}`, false, maxDepth);
  return v as JsonObject;
}

/**
 * Validates an UpdateThingShadow body (raw bytes, text, or a parsed value). Fields outside
 * `state`, `version` and `clientToken` are ignored ("JSON content outside of those sections is
 * ignored", Developer Guide, "Diagnosing problems with shadows"); inside `state` only `desired`
 * and `reported` are allowed (AWS answers `State contains an invalid node: 'delta'`).
 */
export function parseShadowUpdateRequest(body: unknown, maxDepth = SHADOW_MAX_DEPTH): ShadowUpdateRequest {
  const doc = decode(body);
  if (!isPlainObject(doc)) throw invalid('Invalid JSON');
  if (!Object.hasOwn(doc, 'state')) throw invalid('Missing required node: state');
  const rawState = doc.state;
  if (rawState !== null && !isPlainObject(rawState)) throw invalid('State node must be an object');

  const out: ShadowUpdateRequest = { state: null };
  if (Object.hasOwn(doc, 'clientToken')) {
    const token = doc.clientToken;
    if (typeof token !== 'string' || utf8Length(token) > SHADOW_MAX_CLIENT_TOKEN_BYTES) {
      throw invalid('Invalid clientToken');
    }
    out.clientToken = token;
  }
  if (Object.hasOwn(doc, 'version')) {
    const version = doc.version;
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
      throw invalid('Invalid version');
    }
    out.version = version;
  }
  if (rawState === null) return out;

  const state: RequestState = {};
  for (const [key, value] of Object.entries(rawState)) {
    if (key !== 'desired' && key !== 'reported') throw invalid(`State contains an invalid node: '${key}'`);
    state[key] = parseSection(key, value, maxDepth);
  }
  out.state = state;
  return out;
}

/** The request's `clientToken` when it is a valid one, for echoing it in error documents. */
export function clientTokenOf(body: unknown): string | undefined {
  let doc: unknown;
  try {
    doc = decode(body);
  } catch {
    return undefined;
  }
  if (!isPlainObject(doc)) return undefined;
  const token = doc.clientToken;
  return typeof token === 'string' && utf8Length(token) <= SHADOW_MAX_CLIENT_TOKEN_BYTES ? token : undefined;
}
