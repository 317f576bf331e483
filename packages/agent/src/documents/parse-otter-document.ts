/** Otter's own job document (version 1): schema-checked with ajv, then cross-checked (file names). */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { at, JobDocumentError, type JobPlan, jsonPath, type PlanFile, type PlanStep } from './job-plan.js';
import { OTTER_DOCUMENT_SCHEMA } from './otter-document-schema.js';

/** Compiled on the first document, not at import: an idle agent does not pay for it. */
let compiled: ValidateFunction | undefined;
const validator = (): ValidateFunction =>
  (compiled ??= new Ajv({
    allErrors: false,
    useDefaults: true,
    strict: true,
    strictTypes: false,
    strictRequired: false,
  }).compile(OTTER_DOCUMENT_SCHEMA));

function describe(e: ErrorObject): { path: string; message: string } {
  const base = jsonPath(e.instancePath);
  switch (e.keyword) {
    case 'additionalProperties':
      return { path: at(base, String(e.params.additionalProperty)), message: 'unknown member' };
    case 'required':
      return { path: at(base, String(e.params.missingProperty)), message: 'is required' };
    case 'dependencies':
      return {
        path: at(base, String(e.params.missingProperty)),
        message: `is required with ${e.params.property}`,
      };
    case 'enum':
      return { path: base, message: `must be one of ${(e.params.allowedValues as unknown[]).join(', ')}` };
    case 'pattern':
      return base.endsWith('.handler')
        ? {
            path: base,
            message: 'must be apt, script, file, agent or custom:<name> (a file name: no / or ..)',
          }
        : { path: base, message: `must match ${e.params.pattern}` };
    case 'not':
      return { path: base, message: 'must not have both script and scriptFile' };
    default:
      return { path: base, message: e.message ?? 'is invalid' };
  }
}

/** Turns a parsed `{"otter": 1, ...}` object into a plan; JobDocumentError otherwise. */
export function parseOtterDocument(doc: Record<string, unknown>): JobPlan {
  if (doc.otter !== 1) {
    if (typeof doc.otter === 'number')
      throw new JobDocumentError(
        'DOCUMENT_UNSUPPORTED_VERSION',
        '$.otter',
        `otter document version ${doc.otter} is not supported (this agent reads version 1)`,
      );
    throw new JobDocumentError('DOCUMENT_INVALID', '$.otter', 'must be the number 1');
  }
  const copy = structuredClone(doc);
  const validate = validator();
  if (!validate(copy)) {
    const errors = (validate.errors ?? []).filter((e) => e.keyword !== 'if');
    const first = errors[0];
    const { path, message } = first ? describe(first) : { path: '$', message: 'is invalid' };
    throw new JobDocumentError('DOCUMENT_INVALID', path, message);
  }
  const files = (copy.files as Array<Record<string, unknown>>).map((f): PlanFile => {
    const out: { -readonly [K in keyof PlanFile]: PlanFile[K] } = {
      name: f.name as string,
      url: f.url as string,
    };
    if (typeof f.sha256 === 'string') out.sha256 = f.sha256.toLowerCase();
    if (typeof f.size === 'number') out.size = f.size;
    if (typeof f.signature === 'string') out.signature = f.signature;
    if (typeof f.signatureAlgorithm === 'string') out.signatureAlgorithm = f.signatureAlgorithm;
    if (typeof f.signingKeyId === 'string') out.signingKeyId = f.signingKeyId;
    return out;
  });
  const names = new Map<string, number>();
  files.forEach((f, i) => {
    const first = names.get(f.name);
    if (first !== undefined)
      throw new JobDocumentError(
        'DOCUMENT_DUPLICATE_FILE',
        `$.files[${i}].name`,
        `file ${JSON.stringify(f.name)} is already files[${first}]`,
      );
    names.set(f.name, i);
  });
  const rawSteps = copy.steps as Array<Record<string, unknown>>;
  const steps = rawSteps.map((s, i): PlanStep => {
    const params = s.params as Record<string, unknown>;
    for (const key of ['file', 'scriptFile'] as const) {
      const ref = params[key];
      if (typeof ref === 'string' && !names.has(ref))
        throw new JobDocumentError(
          'DOCUMENT_UNKNOWN_FILE',
          `$.steps[${i}].params.${key}`,
          `no file named ${JSON.stringify(ref)} in files`,
        );
    }
    const out: { -readonly [K in keyof PlanStep]: PlanStep[K] } = { handler: s.handler as string, params };
    if (typeof s.name === 'string') out.name = s.name;
    if (s.ignoreFailure === true) out.ignoreFailure = true;
    if (s.final === true) out.final = true;
    if (typeof s.timeoutSeconds === 'number') out.timeoutSeconds = s.timeoutSeconds;
    return out;
  });
  const finals = steps.flatMap((s, i) => (s.final ? [i] : []));
  if (finals.length > 1 || (finals.length === 1 && finals[0] !== steps.length - 1))
    throw new JobDocumentError(
      'DOCUMENT_INVALID',
      `$.steps[${finals.find((i) => i !== steps.length - 1) ?? finals[1]}].final`,
      'only the last step may be final',
    );
  if (steps.every((s) => s.final))
    throw new JobDocumentError('DOCUMENT_INVALID', '$.steps', 'needs at least one step that is not final');
  return {
    format: 'otter',
    version: '1',
    ...(typeof copy.version === 'string' ? { softwareVersion: copy.version } : {}),
    files,
    steps,
    ...(copy.reboot === 'on-success' ? { reboot: 'on-success' as const } : {}),
  };
}
