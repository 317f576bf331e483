import { OtterError } from '../errors.js';

/** What went wrong, for callers that react to one case (the message is for people). */
export const SIGNING_ERROR_CODES = [
  'INVALID_PEM',
  'ENCRYPTED_KEY',
  'UNSUPPORTED_KEY',
  'WRONG_KEY_KIND',
  'ALGORITHM_MISMATCH',
  'UNKNOWN_ALGORITHM',
  'INVALID_DIGEST',
] as const;
export type SigningErrorCode = (typeof SIGNING_ERROR_CODES)[number];

/**
 * Bad input to a signing function (a key, an algorithm name, a digest). An OtterError of type
 * InvalidRequestException, so a server that lets it through answers 400 with this message.
 */
export class SigningError extends OtterError {
  readonly code: SigningErrorCode;

  constructor(code: SigningErrorCode, message: string) {
    super('InvalidRequestException', message);
    this.code = code;
    this.name = 'SigningError';
  }
}

/** A key that cannot be used: not PEM, encrypted, RSA / P-384 / …, private where public was asked. */
export class SigningKeyError extends SigningError {
  constructor(code: SigningErrorCode, message: string) {
    super(code, message);
    this.name = 'SigningKeyError';
  }
}

export const isSigningError = (e: unknown): e is SigningError => e instanceof SigningError;
