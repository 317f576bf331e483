import { DebianError } from './debian-errors.js';
import { parseDebianVersion } from './debian-version.js';

/** One line of an apt manifest: install (optionally an exact version) or, for `name-`, remove. */
export interface AptPackage {
  readonly name: string;
  readonly version?: string;
  readonly remove: boolean;
}

/** A validated apt manifest (seed 004); `packages` keep the listed order. */
export interface AptManifest {
  readonly name: string;
  readonly version: string;
  readonly packages: readonly AptPackage[];
}

export const MAX_APT_PACKAGES = 1000;
const MAX_TEXT = 256;
/** Debian policy §5.6.1: lowercase letters, digits, + - . ; at least two, starting alphanumeric. */
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;
/** The manifest's own name and version: printable, no spaces (they form the installed criteria). */
const LABEL = /^[\x21-\x7e]+$/;

const TOP_MEMBERS = new Set(['name', 'version', 'packages']);
const PACKAGE_MEMBERS = new Set(['name', 'version']);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function unknownMembers(obj: Record<string, unknown>, allowed: Set<string>, path: string) {
  for (const key of Object.keys(obj)) {
    if (!allowed.has(key)) {
      throw new DebianError('UNKNOWN_MEMBER', `unknown member ${JSON.stringify(key)}`, path || '(manifest)');
    }
  }
}

function label(obj: Record<string, unknown>, key: 'name' | 'version'): string {
  const value = obj[key];
  if (value === undefined) throw new DebianError('MISSING_MEMBER', 'is required', key);
  if (typeof value !== 'string') throw new DebianError('WRONG_TYPE', 'must be a string', key);
  if (value.length === 0 || value.length > MAX_TEXT || !LABEL.test(value)) {
    throw new DebianError(
      key === 'name' ? 'INVALID_MANIFEST_NAME' : 'INVALID_MANIFEST_VERSION',
      `must be 1-${MAX_TEXT} printable ASCII characters without spaces`,
      key,
    );
  }
  return value;
}

function parsePackage(entry: unknown, path: string): AptPackage {
  if (!isObject(entry)) throw new DebianError('NOT_AN_OBJECT', 'must be an object', path);
  unknownMembers(entry, PACKAGE_MEMBERS, path);
  const raw = entry.name;
  if (raw === undefined) throw new DebianError('MISSING_MEMBER', 'is required', `${path}.name`);
  if (typeof raw !== 'string') throw new DebianError('WRONG_TYPE', 'must be a string', `${path}.name`);
  const remove = raw.endsWith('-');
  const name = remove ? raw.slice(0, -1) : raw;
  if (name.length > MAX_TEXT || !PACKAGE_NAME.test(name) || name.endsWith('-')) {
    throw new DebianError(
      'INVALID_PACKAGE_NAME',
      `${JSON.stringify(raw)} is not a Debian package name (two or more of a-z 0-9 + - ., starting with a letter or digit; a trailing '-' means remove)`,
      `${path}.name`,
    );
  }
  const version = entry.version;
  if (version === undefined) return { name, remove };
  const vpath = `${path}.version`;
  if (typeof version !== 'string') throw new DebianError('WRONG_TYPE', 'must be a string', vpath);
  if (remove) {
    throw new DebianError('REMOVE_WITH_VERSION', `a package to remove ("${raw}") takes no version`, vpath);
  }
  if (version.includes('=')) {
    throw new DebianError('VERSION_HAS_EQUALS', 'must be an exact version without "="', vpath);
  }
  try {
    parseDebianVersion(version);
  } catch (e) {
    throw new DebianError('INVALID_VERSION', (e as Error).message, vpath);
  }
  return { name, version, remove };
}

/**
 * Parses and validates an apt manifest (JSON text or an already parsed value). Throws DebianError
 * with a reason code: bad JSON, unknown members, bad names or versions, `=` in a version, a version
 * on a removal, duplicate packages.
 */
export function parseAptManifest(json: string | unknown): AptManifest {
  let value: unknown = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (e) {
      throw new DebianError('INVALID_JSON', `not well-formed JSON: ${(e as Error).message}`);
    }
  }
  if (!isObject(value)) throw new DebianError('NOT_AN_OBJECT', 'an apt manifest must be a JSON object');
  unknownMembers(value, TOP_MEMBERS, '');
  const name = label(value, 'name');
  const version = label(value, 'version');
  const list = value.packages;
  if (list === undefined) throw new DebianError('MISSING_MEMBER', 'is required', 'packages');
  if (!Array.isArray(list)) throw new DebianError('WRONG_TYPE', 'must be an array', 'packages');
  if (list.length === 0) throw new DebianError('NO_PACKAGES', 'lists no package', 'packages');
  if (list.length > MAX_APT_PACKAGES) {
    throw new DebianError('TOO_MANY_PACKAGES', `lists more than ${MAX_APT_PACKAGES} packages`, 'packages');
  }
  const seen = new Map<string, number>();
  const packages = list.map((entry: unknown, i) => {
    const pkg = parsePackage(entry, `packages[${i}]`);
    const first = seen.get(pkg.name);
    if (first !== undefined) {
      throw new DebianError(
        'DUPLICATE_PACKAGE',
        `package ${JSON.stringify(pkg.name)} is already listed at packages[${first}]`,
        `packages[${i}].name`,
      );
    }
    seen.set(pkg.name, i);
    return pkg;
  });
  return { name, version, packages };
}

/** The installed criteria of an apt manifest (seed 004): `<name>-<version>`. */
export const aptInstalledCriteria = (manifest: Pick<AptManifest, 'name' | 'version'>): string =>
  `${manifest.name}-${manifest.version}`;
