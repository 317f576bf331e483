import { OtterError } from '../errors.js';

/** iot-data model, ShadowName: length 1..64, pattern `[$a-zA-Z0-9:_-]+`. */
export const SHADOW_NAME_MAX_LENGTH = 64;
export const SHADOW_NAME_PATTERN = /^[$a-zA-Z0-9:_-]+$/;
/**
 * Names starting with `$` are reserved for AWS features; the only one in use is `$package`, the
 * named shadow of the Software Package Catalog.
 */
export const RESERVED_SHADOW_NAMES = ['$package'] as const;

const invalid = (message: string) => new OtterError('InvalidRequestException', message);
const constraint = (name: string, rule: string) =>
  invalid(
    `1 validation error detected: Value '${name}' at 'shadowName' failed to satisfy constraint: ${rule}`,
  );

/** Throws InvalidRequestException unless `name` is a valid named-shadow name. */
export function validateShadowName(name: string): void {
  if (name.length < 1) throw constraint(name, 'Member must have length greater than or equal to 1');
  if (name.length > SHADOW_NAME_MAX_LENGTH) {
    throw constraint(name, `Member must have length less than or equal to ${SHADOW_NAME_MAX_LENGTH}`);
  }
  if (!SHADOW_NAME_PATTERN.test(name)) {
    throw constraint(name, 'Member must satisfy regular expression pattern: [$a-zA-Z0-9:_-]+');
  }
  if (name.startsWith('$') && !(RESERVED_SHADOW_NAMES as readonly string[]).includes(name)) {
    throw invalid(`Shadow names starting with '$' are reserved; the only one allowed is '$package': ${name}`);
  }
}
