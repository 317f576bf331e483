import { DebianError } from './debian-errors.js';

/** A parsed `[epoch:]upstream_version[-debian_revision]`; `revision` is `''` when absent. */
export interface DebianVersion {
  readonly epoch: number;
  readonly upstream: string;
  readonly revision: string;
}

/** dpkg keeps the epoch in a C int. */
const MAX_EPOCH = 2_147_483_647;
const MAX_LENGTH = 256;
const UPSTREAM_CHARS = /^[0-9][A-Za-z0-9.+~-]*$/;
const REVISION_CHARS = /^[A-Za-z0-9.+~]+$/;

const bad = (input: string, why: string) =>
  new DebianError('INVALID_VERSION', `invalid Debian version ${JSON.stringify(input)}: ${why}`);

/**
 * Parses a Debian version by the policy's rules (§5.6.12), which are slightly stricter than dpkg:
 * whatever this accepts, dpkg accepts without a warning. Throws DebianError INVALID_VERSION.
 */
export function parseDebianVersion(input: string): DebianVersion {
  if (typeof input !== 'string') throw bad(String(input), 'not a string');
  if (input.length === 0) throw bad(input, 'empty');
  if (input.length > MAX_LENGTH) throw bad(input.slice(0, 40), `longer than ${MAX_LENGTH} characters`);
  let rest = input;
  let epoch = 0;
  const colon = input.indexOf(':');
  if (colon >= 0) {
    const digits = input.slice(0, colon);
    if (digits === '') throw bad(input, 'epoch is empty');
    if (!/^[0-9]+$/.test(digits)) throw bad(input, 'epoch is not an unsigned number');
    epoch = Number(digits);
    if (epoch > MAX_EPOCH) throw bad(input, 'epoch is too big');
    rest = input.slice(colon + 1);
    if (rest === '') throw bad(input, 'nothing after the epoch');
    if (rest.includes(':')) throw bad(input, "':' may appear only once, after the epoch");
  }
  const hyphen = rest.lastIndexOf('-');
  const upstream = hyphen >= 0 ? rest.slice(0, hyphen) : rest;
  const revision = hyphen >= 0 ? rest.slice(hyphen + 1) : '';
  if (hyphen >= 0 && revision === '') throw bad(input, 'revision is empty');
  if (upstream === '') throw bad(input, 'upstream version is empty');
  if (!/^[0-9]/.test(upstream)) throw bad(input, 'upstream version must start with a digit');
  if (!UPSTREAM_CHARS.test(upstream)) {
    throw bad(input, 'upstream version may contain only letters, digits and . + ~ -');
  }
  if (hyphen >= 0 && !REVISION_CHARS.test(revision)) {
    throw bad(input, 'revision may contain only letters, digits and . + ~');
  }
  return { epoch, upstream, revision };
}

/** True when `input` is a valid Debian version (see parseDebianVersion). */
export function isDebianVersion(input: string): boolean {
  try {
    parseDebianVersion(input);
    return true;
  } catch {
    return false;
  }
}

/** The canonical text: epoch only when not 0, revision only when not empty. */
export function formatDebianVersion(v: DebianVersion): string {
  return `${v.epoch === 0 ? '' : `${v.epoch}:`}${v.upstream}${v.revision === '' ? '' : `-${v.revision}`}`;
}

const isDigit = (c: number) => c >= 48 && c <= 57;
const isAlpha = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/** dpkg's `order()`: `~` first, then the end of the string, then letters, then everything else. */
const order = (c: number): number => {
  if (Number.isNaN(c) || isDigit(c)) return 0;
  if (isAlpha(c)) return c;
  if (c === 126) return -1;
  return c + 256;
};

/** dpkg's `verrevcmp`: alternate non-digit runs (by `order`) and digit runs (numerically). */
function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  const at = (s: string, k: number) => (k < s.length ? s.charCodeAt(k) : Number.NaN);
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const ac = order(at(a, i));
      const bc = order(at(b, j));
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (at(a, i) === 48) i++;
    while (at(b, j) === 48) j++;
    while (isDigit(at(a, i)) && isDigit(at(b, j))) {
      if (firstDiff === 0) firstDiff = at(a, i) - at(b, j);
      i++;
      j++;
    }
    if (isDigit(at(a, i))) return 1;
    if (isDigit(at(b, j))) return -1;
    if (firstDiff !== 0) return firstDiff;
  }
  return 0;
}

const toVersion = (v: string | DebianVersion) => (typeof v === 'string' ? parseDebianVersion(v) : v);

/**
 * Orders two Debian versions exactly as `dpkg --compare-versions` does: -1, 0 or 1. Strings are
 * parsed first (DebianError INVALID_VERSION when invalid).
 */
export function compareDebianVersions(a: string | DebianVersion, b: string | DebianVersion): -1 | 0 | 1 {
  const x = toVersion(a);
  const y = toVersion(b);
  const d =
    x.epoch !== y.epoch
      ? x.epoch - y.epoch
      : verrevcmp(x.upstream, y.upstream) || verrevcmp(x.revision, y.revision);
  return d < 0 ? -1 : d > 0 ? 1 : 0;
}

/**
 * Debian equality as dpkg defines it (`dpkg --compare-versions a eq b`): the comparison is 0. An
 * absent revision compares like `0`, an absent epoch is `0` and leading zeros of numbers do not
 * count, so `1.0.8`, `1.0.8-0`, `0:1.0.8` and `1.0.08-0` are all equal.
 */
export function debianVersionsEqual(a: string | DebianVersion, b: string | DebianVersion): boolean {
  return compareDebianVersions(a, b) === 0;
}
