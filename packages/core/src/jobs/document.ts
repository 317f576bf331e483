import { OtterError } from '../errors.js';

/** JobDocument max length (iot.json), counted here in UTF-8 bytes. */
export const MAX_JOB_DOCUMENT_BYTES = 32768;

/** A placeholder found in a job document. */
export type Placeholder =
  | {
      readonly kind: 'package';
      readonly packageName: string;
      readonly versionName: string;
      readonly attribute: string;
    }
  | { readonly kind: 'presigned-url'; readonly url: string }
  | { readonly kind: 'parameter'; readonly name: string };

// PackageName / VersionName pattern [a-zA-Z0-9-_.]+, ResourceAttributeKey [a-zA-Z0-9:_-]+ (iot.json).
const PACKAGE =
  /^aws:iot:package:([a-zA-Z0-9._-]{1,128}):version:([a-zA-Z0-9._-]{1,64}):attributes:([a-zA-Z0-9:_-]+)$/;
const PRESIGNED = /^aws:iot:s3-presigned-url:(\S+)$/;
const PARAMETER = /^aws:iot:parameter:([a-zA-Z0-9_-]{1,128})$/;

const invalid = (message: string) => new OtterError('InvalidRequestException', message);
const byteLength = (s: string) => new TextEncoder().encode(s).length;

/** Rejects a document over 32 KiB of UTF-8. */
export function checkDocumentSize(doc: string, what = 'The job document'): void {
  const n = byteLength(doc);
  if (n > MAX_JOB_DOCUMENT_BYTES) {
    throw invalid(`${what} is ${n} bytes; the maximum is ${MAX_JOB_DOCUMENT_BYTES} bytes (32 KiB)`);
  }
}

interface Found {
  readonly start: number;
  readonly end: number;
  readonly inString: boolean;
  readonly placeholder: Placeholder;
}

/**
 * Every `${aws:iot:...}` placeholder, with whether it sits inside a JSON string literal (tracked
 * by a scan that honours backslash escapes). A malformed `${aws:iot:` placeholder is an error;
 * other `${...}` text is left alone (it is not ours to interpret).
 */
function scan(doc: string): Found[] {
  const out: Found[] = [];
  let inString = false;
  for (let i = 0; i < doc.length; i++) {
    const ch = doc[i];
    if (inString && ch === '\\') {
      i++;
      continue;
    }
    if (ch === '"') {
      inString = !inString;
      continue;
    }
    if (ch !== '$' || !doc.startsWith('${aws:iot:', i)) continue;
    const close = doc.indexOf('}', i);
    if (close < 0) throw invalid(`Unterminated placeholder at offset ${i}: ${doc.slice(i, i + 60)}`);
    const body = doc.slice(i + 2, close);
    out.push({ start: i, end: close + 1, inString, placeholder: classify(body) });
    i = close;
  }
  return out;
}

function classify(body: string): Placeholder {
  let m = PACKAGE.exec(body);
  if (m) return { kind: 'package', packageName: m[1] ?? '', versionName: m[2] ?? '', attribute: m[3] ?? '' };
  m = PRESIGNED.exec(body);
  if (m) return { kind: 'presigned-url', url: m[1] ?? '' };
  m = PARAMETER.exec(body);
  if (m) return { kind: 'parameter', name: m[1] ?? '' };
  throw invalid(`Unknown or malformed placeholder \${${body}}`);
}

/** All placeholders in document order. */
export const findPlaceholders = (doc: string): Placeholder[] => scan(doc).map((f) => f.placeholder);

/**
 * The distinct package versions the document references (seed 000): CreateJob requires each to
 * exist, be PUBLISHED and appear in destinationPackageVersions.
 */
export function referencedPackageVersions(doc: string): { packageName: string; versionName: string }[] {
  const seen = new Map<string, { packageName: string; versionName: string }>();
  for (const p of findPlaceholders(doc)) {
    if (p.kind === 'package')
      seen.set(`${p.packageName}\n${p.versionName}`, {
        packageName: p.packageName,
        versionName: p.versionName,
      });
  }
  return [...seen.values()];
}

/**
 * The referenced package versions missing from destinationPackageVersions (given as ARNs ending
 * in `package/<name>/version/<version>`, or as {packageName, versionName}). The error names them all.
 */
export function checkDestinationPackageVersions(
  doc: string,
  destinations: readonly (string | { packageName: string; versionName: string })[],
): void {
  const have = new Set(
    destinations.map((d) => {
      if (typeof d !== 'string') return `${d.packageName}\n${d.versionName}`;
      const m = /package\/([^/]+)\/version\/([^/]+)$/.exec(d);
      return m ? `${m[1]}\n${m[2]}` : d;
    }),
  );
  const missing = referencedPackageVersions(doc).filter(
    (r) => !have.has(`${r.packageName}\n${r.versionName}`),
  );
  if (missing.length > 0) {
    throw invalid(
      `The job document references package versions missing from destinationPackageVersions: ${missing
        .map((r) => `${r.packageName}:${r.versionName}`)
        .join(', ')}`,
    );
  }
}

/**
 * The text a value becomes. Inside a JSON string it is JSON-escaped (a `"` or `\` in an attribute
 * cannot break out of the string); outside one it becomes a whole JSON string literal, so a valid
 * JSON document stays valid and no value can inject structure (Otter rule).
 */
const render = (value: string, inString: boolean): string =>
  inString ? JSON.stringify(value).slice(1, -1) : JSON.stringify(value);

export interface DocumentResolvers {
  /** The attribute's value, or undefined when the package version has no such attribute. */
  attribute?(packageName: string, versionName: string, attribute: string): Promise<string | undefined>;
  /** A presigned download URL for the `${aws:iot:s3-presigned-url:...}` location. */
  presign?(url: string): Promise<string>;
  /** Values for `${aws:iot:parameter:...}` (validated with `checkDocumentParameters` first). */
  parameters?: Readonly<Record<string, string>>;
}

/**
 * The document devices receive: every placeholder resolved through the callbacks. An unknown
 * attribute, a placeholder with no resolver, or a result over 32 KiB is an InvalidRequestException.
 */
export async function resolveDocument(doc: string, resolvers: DocumentResolvers): Promise<string> {
  checkDocumentSize(doc);
  const found = scan(doc);
  const values = await Promise.all(found.map((f) => resolveOne(f.placeholder, resolvers)));
  let out = '';
  let at = 0;
  found.forEach((f, i) => {
    out += doc.slice(at, f.start) + render(values[i] ?? '', f.inString);
    at = f.end;
  });
  out += doc.slice(at);
  checkDocumentSize(out, 'The resolved job document');
  return out;
}

async function resolveOne(p: Placeholder, r: DocumentResolvers): Promise<string> {
  switch (p.kind) {
    case 'package': {
      if (!r.attribute) throw invalid('Package attribute placeholders cannot be resolved here');
      const v = await r.attribute(p.packageName, p.versionName, p.attribute);
      if (v === undefined) {
        throw invalid(`Package ${p.packageName} version ${p.versionName} has no attribute '${p.attribute}'`);
      }
      return v;
    }
    case 'presigned-url':
      if (!r.presign) throw invalid('Presigned URL placeholders cannot be resolved here');
      return r.presign(p.url);
    case 'parameter': {
      const v = r.parameters?.[p.name];
      if (v === undefined) throw invalid(`No value for document parameter '${p.name}'`);
      return v;
    }
  }
}

/** A template's DocumentParameter (iot.json): key, optional, regex. */
export interface DocumentParameterSpec {
  readonly key: string;
  readonly optional?: boolean;
  readonly regex?: string;
  readonly description?: string;
  readonly example?: string;
}

/**
 * Checks CreateJob `documentParameters` against the template's specs: no unknown keys; every
 * non-optional key present; each value matches the whole of its regex. Returns the values to
 * substitute, with optional parameters left unset becoming "" (Otter rule).
 */
export function checkDocumentParameters(
  specs: readonly DocumentParameterSpec[],
  given: Readonly<Record<string, unknown>> | undefined,
): Record<string, string> {
  const values = given ?? {};
  const out: Record<string, string> = {};
  for (const k of Object.keys(values)) {
    if (!specs.some((s) => s.key === k)) throw invalid(`documentParameters has unknown parameter '${k}'`);
  }
  for (const spec of specs) {
    const v = values[spec.key];
    if (v === undefined) {
      if (spec.optional !== true)
        throw invalid(`documentParameters is missing required parameter '${spec.key}'`);
      out[spec.key] = '';
      continue;
    }
    // ParameterValue: 1..30720 characters, no control characters (iot.json).
    if (typeof v !== 'string' || v.length === 0 || v.length > 30720 || /\p{C}/u.test(v)) {
      throw invalid(
        `documentParameters.${spec.key} must be 1 to 30720 characters without control characters`,
      );
    }
    if (spec.regex !== undefined && !new RegExp(`^(?:${spec.regex})$`, 'u').test(v)) {
      throw invalid(`documentParameters.${spec.key} value '${v}' does not match ${spec.regex}`);
    }
    out[spec.key] = v;
  }
  return out;
}
