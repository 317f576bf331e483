import { invalidRequest } from '@otter/core';
import type { PackageStore } from '../store/package-store.js';

/** The reserved named shadow that records which package versions a thing runs. */
export const PACKAGE_SHADOW = '$package';

const SECTIONS = ['reported', 'desired'] as const;
const ENTRY_KEYS = new Set(['version', 'attributes']);

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** `<package>` → version of every entry the update sets (null entries remove one and need nothing). */
function namedVersions(payload: Buffer): Map<string, string> {
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch {
    return new Map(); // Not JSON: the shadow update itself answers with its own error.
  }
  const wanted = new Map<string, string>();
  if (!isObject(doc) || !isObject(doc.state)) return wanted;
  for (const section of SECTIONS) {
    const packages = doc.state[section];
    if (packages === undefined || packages === null) continue;
    if (!isObject(packages))
      throw invalidRequest(
        `state.${section} of the $package shadow must map package names to { "version": ..., "attributes": {...} }.`,
      );
    for (const [name, entry] of Object.entries(packages)) {
      const where = `state.${section}.${name}`;
      if (entry === null) continue;
      if (!isObject(entry))
        throw invalidRequest(`${where} of the $package shadow must be an object with a version, or null.`);
      const unknown = Object.keys(entry).filter((k) => !ENTRY_KEYS.has(k));
      if (unknown.length)
        throw invalidRequest(
          `${where} of the $package shadow may hold only version and attributes, not ${unknown.join(', ')}.`,
        );
      if (typeof entry.version !== 'string' || entry.version === '')
        throw invalidRequest(`${where}.version of the $package shadow must be a non-empty string.`);
      const attributes = entry.attributes;
      if (attributes !== undefined && attributes !== null) {
        if (!isObject(attributes))
          throw invalidRequest(`${where}.attributes of the $package shadow must be a map of strings.`);
        for (const [key, value] of Object.entries(attributes))
          if (typeof value !== 'string' && value !== null)
            throw invalidRequest(`${where}.attributes.${key} of the $package shadow must be a string.`);
      }
      wanted.set(`${name}\u0000${entry.version}`, name);
    }
  }
  return wanted;
}

/**
 * Checks an UpdateThingShadow payload for `$package`: every package and version it names must be in
 * the Software Package Catalog; InvalidRequestException lists what is missing.
 */
export async function checkPackageShadowUpdate(packages: PackageStore, payload: Buffer): Promise<void> {
  const missing: string[] = [];
  for (const [key, name] of namedVersions(payload)) {
    const version = key.slice(name.length + 1);
    if (!(await packages.get(name))) missing.push(`package ${name}`);
    else if (!(await packages.getVersion(name, version)))
      missing.push(`version ${version} of package ${name}`);
  }
  if (missing.length)
    throw invalidRequest(
      `The $package shadow names what the Software Package Catalog does not have: ${[...new Set(missing)].join(', ')}.`,
    );
}
