import { OtterError } from '../errors.js';

/** What was wrong with a Debian version or an apt manifest (the message is for people). */
export const DEBIAN_ERROR_CODES = [
  'INVALID_VERSION',
  'INVALID_JSON',
  'NOT_AN_OBJECT',
  'MISSING_MEMBER',
  'UNKNOWN_MEMBER',
  'WRONG_TYPE',
  'INVALID_MANIFEST_NAME',
  'INVALID_MANIFEST_VERSION',
  'NO_PACKAGES',
  'TOO_MANY_PACKAGES',
  'INVALID_PACKAGE_NAME',
  'VERSION_HAS_EQUALS',
  'REMOVE_WITH_VERSION',
  'DUPLICATE_PACKAGE',
] as const;
export type DebianErrorCode = (typeof DEBIAN_ERROR_CODES)[number];

/**
 * A bad Debian version or apt manifest. An OtterError of type InvalidRequestException (400 if it
 * reaches a client); `code` is the reason code an agent reports, `path` names the offending member.
 */
export class DebianError extends OtterError {
  readonly code: DebianErrorCode;
  readonly path: string;

  constructor(code: DebianErrorCode, message: string, path = '') {
    super('InvalidRequestException', path ? `${path}: ${message}` : message, { reasonCode: code });
    this.code = code;
    this.path = path;
    this.name = 'DebianError';
  }
}

export const isDebianError = (e: unknown): e is DebianError => e instanceof DebianError;
