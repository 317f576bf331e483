/**
 * The parts of an AWS SigV4 canonical request, rebuilt from a request as it arrived on the wire.
 * Pure string/byte work; the signing itself lives in verify-sigv4.ts.
 */

/** `%XX` for every byte, the RFC 3986 unreserved characters literally (AWS "UriEncode"). */
const BYTE_ENCODING: readonly string[] = Array.from({ length: 256 }, (_, byte) => {
  const char = String.fromCharCode(byte);
  return /[A-Za-z0-9\-_.~]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
});

const ALREADY_ENCODED = /^[A-Za-z0-9\-_.~]*$/;
const ALREADY_ENCODED_PATH = /^[A-Za-z0-9\-_.~/]*$/;

function encodeBytes(bytes: Uint8Array, keepSlash: boolean): string {
  let out = '';
  for (const byte of bytes) out += keepSlash && byte === 0x2f ? '/' : BYTE_ENCODING[byte];
  return out;
}

/** AWS UriEncode of the UTF-8 bytes of `text`; `/` stays literal when `keepSlash`. */
export function uriEncode(text: string, keepSlash = false): string {
  if ((keepSlash ? ALREADY_ENCODED_PATH : ALREADY_ENCODED).test(text)) return text;
  return encodeBytes(Buffer.from(text, 'utf8'), keepSlash);
}

const hexValue = (byte: number | undefined): number => {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
};

/**
 * Percent-decodes to bytes without ever throwing: a `%` not followed by two hex digits is kept
 * literally, and decoded bytes need not be valid UTF-8 (they are re-encoded byte by byte).
 * `+` is a literal plus, as in RFC 3986; the SDKs send spaces as `%20`.
 */
export function percentDecode(raw: string): Buffer {
  const source = Buffer.from(raw, 'utf8');
  if (!raw.includes('%')) return source;
  const out = Buffer.allocUnsafe(source.length);
  let length = 0;
  for (let i = 0; i < source.length; i++) {
    const high = source[i] === 0x25 ? hexValue(source[i + 1]) : -1;
    const low = high < 0 ? -1 : hexValue(source[i + 2]);
    if (low < 0) {
      out[length++] = source[i]!;
    } else {
      out[length++] = high * 16 + low;
      i += 2;
    }
  }
  return out.subarray(0, length);
}

/**
 * Canonical URI for every service but S3, as both @smithy/signature-v4 (`uriEscapePath: true`) and
 * botocore compute it: remove `.`/`..` and empty segments from the path as sent on the wire, then
 * URI-encode it once more (so `/things/a%3Ab` becomes `/things/a%253Ab`).
 */
export function canonicalPath(rawPath: string): string {
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  if (segments.length === 0) return '/';
  const trailing = rawPath.endsWith('/') ? '/' : '';
  return uriEncode(`/${segments.join('/')}${trailing}`, true);
}

export interface QueryParam {
  /** decoded name */
  readonly name: string;
  /** decoded value */
  readonly value: string;
  /** name and value URI-encoded afresh (the AWS spec form) */
  readonly encodedName: string;
  readonly encodedValue: string;
  /** name and value exactly as they were on the wire */
  readonly rawName: string;
  readonly rawValue: string;
}

/** Splits a raw query string into parameters; empty pairs (`a=1&&b=2`) are dropped. */
export function parseQuery(rawQuery: string): QueryParam[] {
  if (rawQuery === '') return [];
  const params: QueryParam[] = [];
  for (const raw of rawQuery.split('&')) {
    if (raw === '') continue;
    const eq = raw.indexOf('=');
    const rawName = eq < 0 ? raw : raw.slice(0, eq);
    const rawValue = eq < 0 ? '' : raw.slice(eq + 1);
    const name = percentDecode(rawName);
    const value = percentDecode(rawValue);
    params.push({
      name: name.toString('utf8'),
      value: value.toString('utf8'),
      encodedName: encodeBytes(name, false),
      encodedValue: encodeBytes(value, false),
      rawName,
      rawValue,
    });
  }
  return params;
}

const isSignatureParam = (param: QueryParam): boolean => param.name.toLowerCase() === 'x-amz-signature';

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Sorted by name, then by value (not as `name=value` strings: `a-b=1` must follow `a=1`). */
function join(pairs: Array<readonly [string, string]>): string {
  return pairs
    .sort(([nameA, valueA], [nameB, valueB]) => byCodeUnit(nameA, nameB) || byCodeUnit(valueA, valueB))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

/**
 * Canonical query string candidates. The first is the AWS spec form (every name and value decoded
 * and re-encoded, sorted, X-Amz-Signature left out), which is what @smithy/signature-v4 signs. The
 * second, present only when different, is botocore's: it signs the pairs of an already-built URL
 * as they are, merely sorted. For requests from either SDK the two coincide.
 */
export function canonicalQueries(params: readonly QueryParam[]): string[] {
  const signed = params.filter((param) => !isSignatureParam(param));
  const spec = join(signed.map((param) => [param.encodedName, param.encodedValue] as const));
  const asSent = join(signed.map((param) => [param.rawName, param.rawValue] as const));
  return asSent === spec ? [spec] : [spec, asSent];
}

type HeaderValue = string | readonly string[] | undefined;

/** Trimall: sequential spaces collapsed, leading and trailing ones dropped. */
/** Single spaces between non-blank runs only (most header values): trimAll leaves them as they are. */
const NOTHING_TO_TRIM = /^[^ \t\r\n]+(?: [^ \t\r\n]+)*$/;
const trimAll = (value: string): string =>
  NOTHING_TO_TRIM.test(value) ? value : value.replace(/[ \t\r\n]+/g, ' ').replace(/^ | $/g, '');

/**
 * The canonical headers block (each `name:value` line ends in `\n`). A signed header absent from the
 * request is given an empty value, so it can only match a signature made over an empty value.
 * Repeated headers (an array, as `req.headersDistinct` gives them) are joined with `,`.
 */
export function canonicalHeaders(
  headers: Readonly<Record<string, HeaderValue>>,
  signedHeaders: readonly string[],
): string {
  let block = '';
  for (const name of signedHeaders) {
    // Own properties only: a client may list `constructor` or `__proto__` among its signed headers.
    const value = Object.hasOwn(headers, name) ? headers[name] : undefined;
    const canonical =
      typeof value === 'string' ? trimAll(value) : Array.isArray(value) ? value.map(trimAll).join(',') : '';
    block += `${name}:${canonical}\n`;
  }
  return block;
}
