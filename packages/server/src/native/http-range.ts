/**
 * HTTP conditional and range requests (RFC 9110 §13, §14) for one representation with a strong
 * ETag and a Last-Modified date. Pure functions: no I/O.
 */

export type RangeResult =
  /** Send the whole representation (no Range, an invalid one, or several ranges). */
  { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

const SINGLE = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/i;

/**
 * Interprets a `Range` header for a representation of `size` bytes. One range only: several
 * ranges (`bytes=0-1,5-6`) are answered with the full body, which RFC 9110 allows; a header that
 * does not parse is ignored, as the RFC requires.
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'full' };
  if (header.includes(',')) return { kind: 'full' };
  const m = SINGLE.exec(header);
  if (!m) return { kind: 'full' };
  const [, first = '', last = ''] = m;
  if (first === '' && last === '') return { kind: 'full' };
  if (first === '') {
    // Suffix: the last n bytes.
    const n = Number(last);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return { kind: 'full' }; // invalid: ignored
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end };
}

/** Entity tags in an `If-Match` / `If-None-Match` list; `*` as itself. */
function entityTags(header: string): string[] {
  return header
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

const opaque = (tag: string) => (tag.startsWith('W/') ? tag.slice(2) : tag);

/** `If-Match`: strong comparison; `*` matches any existing representation. */
export function ifMatchPasses(header: string | undefined, etag: string): boolean {
  if (header === undefined) return true;
  return entityTags(header).some((t) => t === '*' || t === etag);
}

/** `If-None-Match`: weak comparison; true when the condition holds (i.e. send the body). */
export function ifNoneMatchPasses(header: string | undefined, etag: string): boolean {
  if (header === undefined) return true;
  return !entityTags(header).some((t) => t === '*' || opaque(t) === etag);
}

/**
 * `If-Range`: the range applies when the validator is the current strong ETag, or an HTTP date
 * not earlier than Last-Modified (`lastModifiedMs` in whole seconds, as sent).
 */
export function ifRangePasses(header: string | undefined, etag: string, lastModifiedMs: number): boolean {
  if (header === undefined) return true;
  const value = header.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return value === etag;
  const date = Date.parse(value);
  return !Number.isNaN(date) && date >= lastModifiedMs;
}
