import { type ErrorType, OtterError } from '@otter/core/errors';

/** Why a download failed, for the job's reason code (the message is for people). */
export const DOWNLOAD_ERROR_CODES = [
  'HASH_MISMATCH',
  'SIZE_MISMATCH',
  'SIGNATURE_MISSING',
  'SIGNATURE_INVALID',
  'UNTRUSTED_KEY',
  'TOO_LARGE',
  'TOO_SLOW',
  'DEADLINE',
  'INCOMPLETE',
  'HTTP_ERROR',
  'NETWORK',
  'ABORTED',
] as const;
export type DownloadErrorCode = (typeof DOWNLOAD_ERROR_CODES)[number];

const TYPE: Record<DownloadErrorCode, ErrorType> = {
  HASH_MISMATCH: 'DigestMismatchException',
  SIZE_MISMATCH: 'DigestMismatchException',
  SIGNATURE_MISSING: 'InvalidRequestException',
  SIGNATURE_INVALID: 'InvalidRequestException',
  UNTRUSTED_KEY: 'InvalidRequestException',
  TOO_LARGE: 'RequestEntityTooLargeException',
  TOO_SLOW: 'ServiceUnavailableException',
  DEADLINE: 'ServiceUnavailableException',
  INCOMPLETE: 'IncompleteBodyException',
  HTTP_ERROR: 'ServiceUnavailableException',
  NETWORK: 'ServiceUnavailableException',
  ABORTED: 'InternalFailureException',
};

/** A failed download. `resumable`: the `.part` file was kept and a later call continues it. */
export class DownloadError extends OtterError {
  readonly code: DownloadErrorCode;
  readonly resumable: boolean;

  constructor(
    code: DownloadErrorCode,
    message: string,
    options: { resumable?: boolean; status?: number } = {},
  ) {
    super(TYPE[code], message, options.status === undefined ? {} : { httpStatus: options.status });
    this.name = 'DownloadError';
    this.code = code;
    this.resumable = options.resumable ?? false;
  }
}

export const isDownloadError = (e: unknown): e is DownloadError => e instanceof DownloadError;
