/**
 * Job documents in: Otter's own (`{"otter": 1, ...}`), the Software Package Catalog example (seed
 * 000, `{"Steps": {...}}`) and the AWS IoT Device Client's (`{"version": "1.0", "steps": [...]}`, or
 * the old `{"operation": ...}`); one JobPlan out. Anything else throws JobDocumentError, never
 * another error, whatever the input.
 */
import type { JobPlan } from './job-plan.js';
import { JobDocumentError } from './job-plan.js';
import { parseDeviceClientDocument } from './parse-device-client-document.js';
import { parseOtterDocument } from './parse-otter-document.js';
import { parseSeed000Document } from './parse-seed000-document.js';

/** AWS IoT's limit for a job document (JobDocument max length), in UTF-8 bytes. */
export const MAX_DOCUMENT_BYTES = 32768;

/** The format a parsed document claims, by its distinctive members; undefined when none. */
export function detectFormat(doc: Record<string, unknown>): JobPlan['format'] | undefined {
  if ('otter' in doc) return 'otter';
  if ('Steps' in doc) return 'seed000';
  if ('version' in doc && ('steps' in doc || 'finalStep' in doc)) return 'aws-device-client';
  if ('operation' in doc && !('version' in doc)) return 'aws-device-client';
  return undefined;
}

/** Parses a job document given as JSON text or as the already-parsed value (jobDocument of an execution). */
export function parseJobDocument(input: unknown): JobPlan {
  let doc: unknown = input;
  if (typeof input === 'string') {
    if (Buffer.byteLength(input, 'utf8') > MAX_DOCUMENT_BYTES)
      throw new JobDocumentError('DOCUMENT_TOO_LARGE', '$', `larger than ${MAX_DOCUMENT_BYTES} bytes`);
    try {
      doc = JSON.parse(input);
    } catch (e) {
      throw new JobDocumentError('DOCUMENT_NOT_JSON', '$', `not valid JSON: ${(e as Error).message}`);
    }
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new JobDocumentError(
      'DOCUMENT_NOT_OBJECT',
      '$',
      `a job document is a JSON object, not ${Array.isArray(doc) ? 'an array' : doc === null ? 'null' : typeof doc}`,
    );
  const record = doc as Record<string, unknown>;
  const format = detectFormat(record);
  try {
    switch (format) {
      case 'otter':
        return parseOtterDocument(record);
      case 'seed000':
        return parseSeed000Document(record);
      case 'aws-device-client':
        return parseDeviceClientDocument(record);
      default:
        throw new JobDocumentError(
          'DOCUMENT_UNKNOWN_FORMAT',
          '$',
          'not a known job document: expected {"otter": 1, ...}, {"Steps": {...}} or {"version": "1.0", "steps": [...]}',
        );
    }
  } catch (e) {
    if (e instanceof JobDocumentError) throw e;
    // A bug or an exotic value (e.g. a getter or a cycle in a hand-made object) must still reject cleanly.
    throw new JobDocumentError(
      'DOCUMENT_INVALID',
      '$',
      `cannot read the document: ${(e as Error)?.message ?? e}`,
    );
  }
}
