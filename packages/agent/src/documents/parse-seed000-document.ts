/**
 * The Software Package Catalog example document (seed 000): `{"Steps": {"uninstall": [names],
 * "download": [{name: url}], "signature": [{name: base64}]}}`. Actions run in the order the document
 * lists them: `uninstall` → the `script` handler running `<scriptsDir>/uninstall <name>`; `download`
 * → a file to fetch (with its signature) and the `script` handler running `<scriptsDir>/update <file>`.
 */
import { at, JobDocumentError, type JobPlan, type PlanFile, type PlanStep } from './job-plan.js';

/** Software Package Catalog package names: 1-128 of `a-z A-Z 0-9 - _ .`. */
const PACKAGE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;
const URL = /^https?:\/\/[^\s]+$/;
const BASE64 = /^[A-Za-z0-9+/=_-]{1,1024}$/;
const ACTIONS = ['uninstall', 'download', 'signature'] as const;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const invalid = (path: string, message: string) => new JobDocumentError('DOCUMENT_INVALID', path, message);

function checkName(name: string, path: string): void {
  if (!PACKAGE_NAME.test(name))
    throw invalid(path, `${JSON.stringify(name)} is not a package name (1-128 of a-z A-Z 0-9 - _ .)`);
}

function checkResolved(value: string, path: string): void {
  if (value.includes('${'))
    throw invalid(path, 'contains an unresolved substitution parameter (is the package version published?)');
}

/** `[{name: value}, ...]` or `{name: value}` as [name, value, path] entries, in document order. */
function namedValues(value: unknown, path: string): Array<[string, string, string]> {
  const objects: Array<[Record<string, unknown>, string]> = Array.isArray(value)
    ? value.map((o, i) => {
        if (!isObject(o)) throw invalid(at(path, i), 'must be an object {"<package>": "<value>"}');
        return [o, at(path, i)];
      })
    : isObject(value)
      ? [[value, path]]
      : [];
  if (!Array.isArray(value) && !isObject(value)) throw invalid(path, 'must be an array of objects');
  return objects.flatMap(([o, p]) =>
    Object.entries(o).map(([name, v]): [string, string, string] => {
      const where = at(p, name);
      checkName(name, where);
      if (typeof v !== 'string') throw invalid(where, 'must be a string');
      checkResolved(v, where);
      return [name, v, where];
    }),
  );
}

/** Turns a parsed `{"Steps": {...}}` object into a plan; JobDocumentError otherwise. */
export function parseSeed000Document(doc: Record<string, unknown>): JobPlan {
  const stepsPath = '$.Steps';
  const raw = doc.Steps;
  if (!isObject(raw))
    throw invalid(stepsPath, 'must be an object of actions (uninstall, download, signature)');
  for (const key of Object.keys(raw)) {
    if (!(ACTIONS as readonly string[]).includes(key))
      throw invalid(at(stepsPath, key), `unknown action (expected ${ACTIONS.join(', ')})`);
  }
  const files = new Map<string, { -readonly [K in keyof PlanFile]: PlanFile[K] }>();
  if (raw.download !== undefined) {
    for (const [name, url, where] of namedValues(raw.download, at(stepsPath, 'download'))) {
      if (files.has(name))
        throw new JobDocumentError('DOCUMENT_DUPLICATE_FILE', where, `${name} is downloaded twice`);
      if (!URL.test(url) || url.length > 8192) throw invalid(where, 'must be an http(s) URL');
      files.set(name, { name, url });
    }
  }
  if (raw.signature !== undefined) {
    const seen = new Set<string>();
    for (const [name, signature, where] of namedValues(raw.signature, at(stepsPath, 'signature'))) {
      const file = files.get(name);
      if (!file) throw new JobDocumentError('DOCUMENT_UNKNOWN_FILE', where, `${name} is not downloaded`);
      if (seen.has(name)) throw invalid(where, `${name} has two signatures`);
      if (!BASE64.test(signature)) throw invalid(where, 'must be a base64 signature');
      seen.add(name);
      file.signature = signature;
    }
  }
  const removals: string[] = [];
  if (raw.uninstall !== undefined) {
    const where = at(stepsPath, 'uninstall');
    if (!Array.isArray(raw.uninstall)) throw invalid(where, 'must be an array of package names');
    raw.uninstall.forEach((name, i) => {
      if (typeof name !== 'string') throw invalid(at(where, i), 'must be a package name');
      checkName(name, at(where, i));
      if (removals.includes(name)) throw invalid(at(where, i), `${name} is listed twice`);
      removals.push(name);
    });
  }
  const steps: PlanStep[] = [];
  for (const key of Object.keys(raw)) {
    if (key === 'uninstall')
      for (const name of removals)
        steps.push({
          handler: 'script',
          name: `uninstall ${name}`,
          params: { script: 'uninstall', args: [name] },
        });
    if (key === 'download')
      for (const name of files.keys())
        steps.push({ handler: 'script', name: `install ${name}`, params: { script: 'update', file: name } });
  }
  if (steps.length === 0) throw invalid(stepsPath, 'has nothing to do (no uninstall, no download)');
  return { format: 'seed000', version: '1', files: [...files.values()], steps };
}
