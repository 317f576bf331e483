/**
 * The one normalized plan every job document format becomes, and the typed error for documents the
 * agent refuses (the execution then ends REJECTED with the error's reason code).
 */
import { OtterError } from '@otter/core/errors';

export const DOCUMENT_FORMATS = ['otter', 'seed000', 'aws-device-client'] as const;
export type DocumentFormat = (typeof DOCUMENT_FORMATS)[number];

/** A file the agent downloads and verifies before any step runs. */
export interface PlanFile {
  /** Unique within the plan; steps refer to files by this name. */
  readonly name: string;
  readonly url: string;
  /** 64 lower-case hex digits. */
  readonly sha256?: string;
  readonly size?: number;
  /** base64 signature over the SHA-256 digest (docs/signing.md). */
  readonly signature?: string;
  readonly signatureAlgorithm?: string;
  readonly signingKeyId?: string;
}

/** One handler run. */
export interface PlanStep {
  /** `apt`, `script`, `file`, `agent` or `custom:<name>` (see handlers/registry.ts). */
  readonly handler: string;
  readonly params: Readonly<Record<string, unknown>>;
  /** A label for logs and statusDetails. */
  readonly name?: string;
  /** Go on with the next step when this one fails (Device Client `ignoreStepFailure`). */
  readonly ignoreFailure?: boolean;
  /** Runs only when every other step succeeded (Device Client `finalStep`); always last. */
  readonly final?: boolean;
  readonly timeoutSeconds?: number;
}

export interface JobPlan {
  readonly format: DocumentFormat;
  /** The document format's version: otter `1`, aws-device-client `1.0` (`0` for the old schema), seed000 `1`. */
  readonly version: string;
  /** The software version the update installs, when the document says (OTTER_VERSION). */
  readonly softwareVersion?: string;
  readonly files: readonly PlanFile[];
  readonly steps: readonly PlanStep[];
  /** `on-success`: reboot once every step succeeded. */
  readonly reboot?: 'on-success';
  /** Include handlers' stdout tails in statusDetails (Device Client `includeStdOut`). */
  readonly includeStdOut?: boolean;
}

export const DOCUMENT_ERROR_CODES = [
  'DOCUMENT_NOT_JSON',
  'DOCUMENT_TOO_LARGE',
  'DOCUMENT_NOT_OBJECT',
  'DOCUMENT_UNKNOWN_FORMAT',
  'DOCUMENT_UNSUPPORTED_VERSION',
  'DOCUMENT_INVALID',
  'DOCUMENT_DUPLICATE_FILE',
  'DOCUMENT_UNKNOWN_FILE',
  'DOCUMENT_UNSUPPORTED',
] as const;
export type DocumentErrorCode = (typeof DOCUMENT_ERROR_CODES)[number];

/** A job document the agent refuses; `code` is the REJECTED reason code, `path` the offending member. */
export class JobDocumentError extends OtterError {
  readonly code: DocumentErrorCode;
  /** JSON path of the offending member (`$.steps[1].params.dest`), `$` for the whole document. */
  readonly path: string;

  constructor(code: DocumentErrorCode, path: string, message: string) {
    super('InvalidRequestException', `${code} at ${path}: ${message}`);
    this.name = 'JobDocumentError';
    this.code = code;
    this.path = path;
  }
}

export const isJobDocumentError = (e: unknown): e is JobDocumentError => e instanceof JobDocumentError;

/** `$.a.b[2]` from a JSON pointer (`/a/b/2`); keys that are not identifiers are quoted. */
export function jsonPath(pointer: string): string {
  if (pointer === '') return '$';
  return `$${pointer
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) =>
      /^\d+$/.test(p) ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`,
    )
    .join('')}`;
}

/** Appends a member to a JSON path. */
export const at = (path: string, key: string | number): string =>
  typeof key === 'number'
    ? `${path}[${key}]`
    : /^[A-Za-z_$][\w$]*$/.test(key)
      ? `${path}.${key}`
      : `${path}[${JSON.stringify(key)}]`;
