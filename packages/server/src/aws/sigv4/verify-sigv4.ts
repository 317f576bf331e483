/**
 * Server-side verification of AWS Signature Version 4, in the Authorization header or in the query
 * string (presigned URLs), compatible with the AWS SDK v3 signer (@smithy/signature-v4) and with
 * botocore (the `aws` CLI). Errors carry the types and, where AWS has one, the wording AWS uses.
 */
import * as crypto from 'node:crypto';
import { createHash, timingSafeEqual } from 'node:crypto';
import { OtterError } from '@otter/core';
import { canonicalHeaders, canonicalPath, canonicalQueries } from './canonical-request.js';
import {
  type CredentialScope,
  type HeaderMap,
  invalid,
  quote,
  readSigV4Auth,
  SIGV4_ALGORITHM,
  type SigV4AuthParams,
  singleHeader,
} from './read-sigv4-auth.js';
import { deriveSigningKey, hmac, SigningKeyCache } from './signing-key-cache.js';

export type { CredentialScope } from './read-sigv4-auth.js';
export { MAX_PRESIGNED_EXPIRES_SECONDS, SIGV4_ALGORITHM } from './read-sigv4-auth.js';

export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

export interface SignedRequest {
  method: string;
  /** path exactly as received on the wire (still percent-encoded), without the query string */
  rawPath: string;
  /** raw query string as received, without '?', may be '' */
  rawQuery: string;
  /**
   * Lower-case names, as node:http gives them. Pass `req.headersDistinct` to have repeated signed
   * headers joined with `,` exactly as the signer did; `req.headers` joins them with `, `.
   */
  headers: HeaderMap;
  /** hex SHA-256 of the body bytes actually received */
  bodySha256: string;
}

export interface SigV4Identity {
  accessKeyId: string;
  region: string;
  service: string;
  /** ms since the epoch, from X-Amz-Date */
  signedAt: number;
}

export interface SigV4Options {
  lookupSecret(accessKeyId: string): string | undefined;
  /** ms, from the server's clock */
  now: number;
  /** allowed clock difference in either direction, e.g. 5 min */
  maxSkewMs: number;
}

const keyCache = new SigningKeyCache(64);

const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. ' +
  'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/**
 * The credential scope of a signed request, for routing before the body is read; undefined when the
 * request is unsigned. Throws the same InvalidSignatureException as verifySigV4 when the
 * Authorization header or the presigning parameters are malformed. Verifies nothing.
 */
export function parseCredentialScope(
  req: Pick<SignedRequest, 'headers' | 'rawQuery'>,
): CredentialScope | undefined {
  return readSigV4Auth(req)?.scope;
}

/** `20260101T002000Z`: ISO 8601 basic format, whole seconds. */
export const toAmzDate = (ms: number): string =>
  new Date(ms)
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

function parseAmzDate(value: string | undefined): { amzDate: string; signedAt: number } {
  if (value === undefined) {
    throw invalid(
      "Authorization header requires existence of a 'X-Amz-Date' header ('Date' is not supported).",
    );
  }
  const match = AMZ_DATE.exec(value);
  let ms = Number.NaN;
  if (match) {
    const year = +match[1]!;
    const month = +match[2]!;
    const day = +match[3]!;
    const hour = +match[4]!;
    const minute = +match[5]!;
    const second = +match[6]!;
    ms = Date.UTC(year, month - 1, day, hour, minute, second);
    // Every field must come back unchanged: rejects dates like 20260230T250000Z that Date.UTC
    // would silently roll over, and years 0000-0099 that it maps to 1900-1999 (as the string round
    // trip through toAmzDate did, without formatting a date on every request).
    const d = new Date(ms);
    if (
      d.getUTCFullYear() !== year ||
      d.getUTCMonth() !== month - 1 ||
      d.getUTCDate() !== day ||
      d.getUTCHours() !== hour ||
      d.getUTCMinutes() !== minute ||
      d.getUTCSeconds() !== second
    )
      ms = Number.NaN;
  }
  if (Number.isNaN(ms)) {
    throw invalid(`Date must be in ISO-8601 'basic format' (yyyyMMdd'T'HHmmss'Z'). Got ${quote(value)}.`);
  }
  return { amzDate: value, signedAt: ms };
}

const skewText = (ms: number): string => (ms % 60_000 === 0 ? `${ms / 60_000} min.` : `${ms / 1000} sec.`);

function checkClock(
  auth: SigV4AuthParams,
  amzDate: string,
  signedAt: number,
  { now, maxSkewMs }: SigV4Options,
): void {
  if (signedAt > now + maxSkewMs) {
    throw invalid(
      `Signature not yet current: ${amzDate} is still later than ${toAmzDate(now + maxSkewMs)} ` +
        `(${toAmzDate(now)} + ${skewText(maxSkewMs)})`,
    );
  }
  if (auth.expiresSeconds === undefined) {
    if (signedAt < now - maxSkewMs) {
      throw invalid(
        `Signature expired: ${amzDate} is now earlier than ${toAmzDate(now - maxSkewMs)} ` +
          `(${toAmzDate(now)} - ${skewText(maxSkewMs)})`,
      );
    }
  } else if (now > signedAt + auth.expiresSeconds * 1000) {
    throw invalid(
      `Request has expired: signed at ${amzDate} for ${auth.expiresSeconds} seconds, ` +
        `so valid until ${toAmzDate(signedAt + auth.expiresSeconds * 1000)}; it is now ${toAmzDate(now)}.`,
    );
  }
}

/** The payload hash the client signed over, when it declared one. */
function declaredPayloadHash(req: SignedRequest, auth: SigV4AuthParams): string | undefined {
  const header = singleHeader(req.headers, 'x-amz-content-sha256');
  if (header !== undefined || auth.expiresSeconds === undefined) return header;
  // A presigning SDK hoists x-amz-* headers into the query string.
  return auth.params.find((param) => param.name.toLowerCase() === 'x-amz-content-sha256')?.value;
}

/** `crypto.hash` (Node ≥ 20.12) hashes in one call, without a Hash object per request. */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string | Buffer) => string }).hash;

/** Lower-case hex SHA-256 of a string (as UTF-8) or of bytes. */
export const sha256Hex: (data: string | Buffer) => string = oneShotHash
  ? (data) => oneShotHash('sha256', data)
  : (data) => createHash('sha256').update(data).digest('hex');

function sameSignature(expectedHex: string, provided: string): boolean {
  const expected = Buffer.from(expectedHex, 'utf8');
  const actual = Buffer.from(provided, 'utf8');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/**
 * Verifies a SigV4-signed request and returns who signed it; throws an OtterError
 * (MissingAuthenticationTokenException, UnrecognizedClientException, InvalidSignatureException).
 */
export function verifySigV4(req: SignedRequest, opts: SigV4Options): SigV4Identity {
  const auth = readSigV4Auth(req);
  if (auth === undefined) {
    throw new OtterError('MissingAuthenticationTokenException', 'Missing Authentication Token');
  }
  const { scope, signedHeaders } = auth;
  const { amzDate, signedAt } = parseAmzDate(auth.amzDate);
  if (amzDate.slice(0, 8) !== scope.date) {
    throw invalid(
      'Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: ' +
        `'${scope.date}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`,
    );
  }
  if (!signedHeaders.includes('host')) {
    throw invalid("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }

  const secret = opts.lookupSecret(scope.accessKeyId);
  if (secret === undefined) {
    throw new OtterError(
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    );
  }
  checkClock(auth, amzDate, signedAt, opts);

  const payloadHash = declaredPayloadHash(req, auth) ?? req.bodySha256;
  const cacheId = SigningKeyCache.id(secret, scope.date, scope.region, scope.service);
  const signingKey =
    keyCache.get(cacheId) ?? deriveSigningKey(secret, scope.date, scope.region, scope.service);
  const credentialScope = `${scope.date}/${scope.region}/${scope.service}/aws4_request`;
  const head = `${req.method}\n${canonicalPath(req.rawPath)}\n`;
  const tail = `\n${canonicalHeaders(req.headers, signedHeaders)}\n${signedHeaders.join(';')}\n${payloadHash}`;
  let matched = false;
  for (const query of canonicalQueries(auth.params)) {
    const stringToSign = `${SIGV4_ALGORITHM}\n${amzDate}\n${credentialScope}\n${sha256Hex(head + query + tail)}`;
    if (sameSignature(hmac(signingKey, stringToSign).toString('hex'), auth.signature)) matched = true;
  }
  if (!matched) throw invalid(SIGNATURE_MISMATCH);
  keyCache.set(cacheId, signingKey);

  // The signature covers the declared hash; this binds it to the bytes that actually arrived.
  if (payloadHash !== UNSIGNED_PAYLOAD && payloadHash !== req.bodySha256) {
    throw invalid("The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
  return { accessKeyId: scope.accessKeyId, region: scope.region, service: scope.service, signedAt };
}
