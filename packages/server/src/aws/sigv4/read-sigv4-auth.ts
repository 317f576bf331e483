/**
 * Reads the SigV4 parameters of a request (Authorization header or presigned query string) and
 * checks their shape; the cryptography is in verify-sigv4.ts.
 */
import { OtterError } from '@otter/core';
import { parseQuery, type QueryParam } from './canonical-request.js';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
/** Longest validity of a presigned URL AWS accepts: one week. */
export const MAX_PRESIGNED_EXPIRES_SECONDS = 604_800;

/** Lower-case header names, as node:http gives them. */
export type HeaderMap = Readonly<Record<string, string | readonly string[] | undefined>>;

export interface CredentialScope {
  accessKeyId: string;
  /** YYYYMMDD */
  date: string;
  region: string;
  service: string;
}

export interface SigV4AuthParams {
  readonly scope: CredentialScope;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
  readonly amzDate: string | undefined;
  /** presigned requests only: X-Amz-Expires in seconds */
  readonly expiresSeconds?: number;
  readonly params: readonly QueryParam[];
}

export const invalid = (message: string) => new OtterError('InvalidSignatureException', message);

const PRESIGN_PARAMS = new Set(['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature']);
const PRESIGN_REQUIRED = [
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Signature',
  'X-Amz-Date',
  'X-Amz-SignedHeaders',
  'X-Amz-Expires',
] as const;
const HEADER_REQUIRED = ['Credential', 'SignedHeaders', 'Signature'] as const;

/** Echoed client input is cut short so a hostile header cannot bloat error bodies and logs. */
export const quote = (text: string): string => `'${text.length > 80 ? `${text.slice(0, 80)}…` : text}'`;

export function singleHeader(headers: HeaderMap, name: string): string | undefined {
  const value = headers[name];
  if (typeof value === 'string' || value === undefined) return value;
  if (value.length > 1) throw invalid(`The request has more than one '${name}' header.`);
  return value[0];
}

function parseCredential(credential: string, where: string): CredentialScope {
  const parts = credential.split('/');
  const [accessKeyId, date, region, service, terminator] = parts;
  if (parts.length !== 5 || !accessKeyId || !date || !region || !service || terminator === undefined) {
    throw invalid(
      `${where} is malformed: expecting "<AccessKeyId>/<YYYYMMDD>/<region>/<service>/aws4_request", got ${quote(credential)}.`,
    );
  }
  if (terminator !== 'aws4_request') {
    throw invalid(
      `Credential should be scoped with a valid terminator: 'aws4_request', not ${quote(terminator)}.`,
    );
  }
  if (!/^\d{8}$/.test(date)) {
    throw invalid(`Credential should be scoped to a valid date (YYYYMMDD), not ${quote(date)}.`);
  }
  return { accessKeyId, date, region, service };
}

function parseSignedHeaders(list: string): string[] {
  const names = list.split(';').map((name) => name.trim().toLowerCase());
  if (names.some((name) => name === '')) {
    throw invalid(`SignedHeaders contains an empty header name: ${quote(list)}.`);
  }
  return names;
}

function readHeaderAuth(authorization: string, headers: HeaderMap, params: QueryParam[]): SigV4AuthParams {
  const space = authorization.indexOf(' ');
  const algorithm = space < 0 ? authorization : authorization.slice(0, space);
  if (algorithm !== SIGV4_ALGORITHM) {
    throw invalid(`Unsupported Authorization type ${quote(algorithm)}: only ${SIGV4_ALGORITHM} is accepted.`);
  }
  const fields = new Map<string, string>();
  for (const part of space < 0 ? [] : authorization.slice(space + 1).split(',')) {
    const field = part.trim();
    const eq = field.indexOf('=');
    if (eq > 0) fields.set(field.slice(0, eq), field.slice(eq + 1));
  }
  const missing = HEADER_REQUIRED.filter((name) => !fields.get(name));
  if (missing.length > 0) {
    throw invalid(missing.map((name) => `Authorization header requires '${name}' parameter.`).join(' '));
  }
  return {
    scope: parseCredential(fields.get('Credential')!, 'Authorization header Credential'),
    signedHeaders: parseSignedHeaders(fields.get('SignedHeaders')!),
    signature: fields.get('Signature')!,
    amzDate: singleHeader(headers, 'x-amz-date'),
    params,
  };
}

function readQueryAuth(params: QueryParam[]): SigV4AuthParams {
  const get = (name: string) => params.find((param) => param.name === name)?.value;
  const missing = PRESIGN_REQUIRED.filter((name) => !get(name));
  if (missing.length > 0) {
    throw invalid(
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, ' +
        `X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters; missing ${missing.join(', ')}.`,
    );
  }
  if (get('X-Amz-Algorithm') !== SIGV4_ALGORITHM) {
    throw invalid(`X-Amz-Algorithm only supports "${SIGV4_ALGORITHM}".`);
  }
  const expires = get('X-Amz-Expires')!;
  const expiresSeconds = /^\d{1,7}$/.test(expires) ? Number(expires) : Number.NaN;
  if (!(expiresSeconds >= 1 && expiresSeconds <= MAX_PRESIGNED_EXPIRES_SECONDS)) {
    throw invalid(
      `X-Amz-Expires must be between 1 and ${MAX_PRESIGNED_EXPIRES_SECONDS} seconds, got ${quote(expires)}.`,
    );
  }
  return {
    scope: parseCredential(get('X-Amz-Credential')!, 'X-Amz-Credential'),
    signedHeaders: parseSignedHeaders(get('X-Amz-SignedHeaders')!),
    signature: get('X-Amz-Signature')!,
    amzDate: get('X-Amz-Date'),
    expiresSeconds,
    params,
  };
}

/** The request's SigV4 parameters, or undefined when it carries no signature at all. */
export function readSigV4Auth(req: { headers: HeaderMap; rawQuery: string }): SigV4AuthParams | undefined {
  const params = parseQuery(req.rawQuery);
  const authorization = singleHeader(req.headers, 'authorization');
  const presigned = params.some((param) => PRESIGN_PARAMS.has(param.name));
  if (presigned && authorization) {
    throw invalid(
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter ' +
        'or the Authorization header should be specified.',
    );
  }
  if (presigned) return readQueryAuth(params);
  if (authorization) return readHeaderAuth(authorization, req.headers, params);
  return undefined;
}
