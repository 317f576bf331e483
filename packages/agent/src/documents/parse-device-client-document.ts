/**
 * The AWS IoT Device Client job document: schema `"version": "1.0"` (`steps`, `finalStep`, actions of
 * type `runHandler`) and the old schema (`operation`, `args`). Each runHandler action becomes a
 * `custom:<handler>` step: the executable `<handlersDir>/<handler>` run with argv
 * `[runAsUser ?? "", ...args]`, as the Device Client calls its handlers. Unknown members are ignored,
 * as the Device Client ignores them; `runCommand`, `conditions` and handler paths other than
 * `default` are refused (the agent runs only the handlers its device has installed).
 */
import { at, JobDocumentError, type JobPlan, type PlanStep } from './job-plan.js';

const HANDLER_NAME = /^[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,127}$/;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const invalid = (path: string, message: string) => new JobDocumentError('DOCUMENT_INVALID', path, message);

/** The Device Client writes booleans as the strings "true"/"false"; real booleans are taken too. */
function flag(value: unknown, path: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw invalid(path, 'must be "true" or "false"');
}

function stringArray(value: unknown, path: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > 64)
    throw invalid(path, 'must be an array of at most 64 strings');
  return value.map((v, i) => {
    if (typeof v !== 'string' || v.length > 4096 || v.includes('\0'))
      throw invalid(at(path, i), 'must be a string (at most 4096 characters, no NUL)');
    return v;
  });
}

function allowStdErr(value: unknown, path: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw invalid(path, 'must be an integer >= 0');
  return value as number;
}

interface HandlerAction {
  readonly name: string;
  readonly handler: string;
  readonly args: string[];
  readonly runAsUser?: string;
  readonly allowStdErr?: number;
  readonly ignoreFailure?: boolean;
}

function handlerName(value: unknown, path: string): string {
  if (typeof value !== 'string' || value === '') throw invalid(path, 'is required: the handler file name');
  if (!HANDLER_NAME.test(value))
    throw invalid(path, `${JSON.stringify(value)} is not a file name of the handlers folder (no / or ..)`);
  return value;
}

function handlerPath(value: unknown, path: string): void {
  if (value === undefined || value === 'default') return;
  if (typeof value !== 'string') throw invalid(path, 'must be a string');
  throw new JobDocumentError(
    'DOCUMENT_UNSUPPORTED',
    path,
    'handlers run only from the agent’s handlers folder: omit path or use "default"',
  );
}

function runAsUser(value: unknown, path: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[A-Za-z0-9._-]{0,64}$/.test(value))
    throw invalid(path, 'must be a user name');
  return value;
}

function parseAction(wrapper: unknown, path: string): HandlerAction {
  if (!isObject(wrapper)) throw invalid(path, 'must be an object {"action": {...}}');
  const action = wrapper.action;
  const ap = at(path, 'action');
  if (!isObject(action)) throw invalid(ap, 'is required: an object');
  if (typeof action.name !== 'string' || action.name === '' || action.name.length > 128)
    throw invalid(at(ap, 'name'), 'is required: a string of 1-128 characters');
  if (action.type === 'runCommand')
    throw new JobDocumentError(
      'DOCUMENT_UNSUPPORTED',
      at(ap, 'type'),
      'runCommand is not supported: the agent runs only handlers from its handlers folder (runHandler)',
    );
  if (action.type !== 'runHandler') throw invalid(at(ap, 'type'), 'must be "runHandler"');
  const input = action.input;
  const ip = at(ap, 'input');
  if (!isObject(input)) throw invalid(ip, 'is required: an object with handler');
  handlerPath(input.path, at(ip, 'path'));
  const user = runAsUser(action.runAsUser, at(ap, 'runAsUser'));
  const allow = allowStdErr(action.allowStdErr, at(ap, 'allowStdErr'));
  const ignore = flag(action.ignoreStepFailure, at(ap, 'ignoreStepFailure'));
  return {
    name: action.name,
    handler: handlerName(input.handler, at(ip, 'handler')),
    args: stringArray(input.args, at(ip, 'args')),
    ...(user === undefined ? {} : { runAsUser: user }),
    ...(allow === undefined ? {} : { allowStdErr: allow }),
    ...(ignore === undefined ? {} : { ignoreFailure: ignore }),
  };
}

function toStep(a: HandlerAction, includeStdOut: boolean, final: boolean): PlanStep {
  return {
    handler: `custom:${a.handler}`,
    name: a.name,
    params: {
      args: [a.runAsUser ?? '', ...a.args],
      deviceClient: true,
      ...(a.runAsUser === undefined ? {} : { runAsUser: a.runAsUser }),
      ...(a.allowStdErr === undefined ? {} : { allowStdErr: a.allowStdErr }),
      ...(includeStdOut ? { includeStdOut: true } : {}),
    },
    ...(a.ignoreFailure ? { ignoreFailure: true } : {}),
    ...(final ? { final: true } : {}),
  };
}

/** A Device Client document (new schema with `version`, or old with `operation`) as a plan. */
export function parseDeviceClientDocument(doc: Record<string, unknown>): JobPlan {
  const includeStdOut = flag(doc.includeStdOut, '$.includeStdOut') ?? false;
  if (doc.version === undefined) {
    // The old schema: one handler, named by `operation`.
    handlerPath(doc.path, '$.path');
    const allow = allowStdErr(doc.allowStdErr, '$.allowStdErr');
    const action: HandlerAction = {
      name: handlerName(doc.operation, '$.operation'),
      handler: handlerName(doc.operation, '$.operation'),
      args: stringArray(doc.args, '$.args'),
      ...(allow === undefined ? {} : { allowStdErr: allow }),
    };
    return {
      format: 'aws-device-client',
      version: '0',
      files: [],
      steps: [toStep(action, includeStdOut, false)],
      ...(includeStdOut ? { includeStdOut } : {}),
    };
  }
  if (doc.version !== '1.0')
    throw new JobDocumentError(
      'DOCUMENT_UNSUPPORTED_VERSION',
      '$.version',
      `Device Client document version ${JSON.stringify(doc.version)} is not supported (expected "1.0")`,
    );
  if (doc.conditions !== undefined)
    throw new JobDocumentError('DOCUMENT_UNSUPPORTED', '$.conditions', 'job conditions are not supported');
  if (!Array.isArray(doc.steps) || doc.steps.length === 0)
    throw invalid('$.steps', 'is required: a non-empty array of {"action": {...}}');
  if (doc.steps.length > 64) throw invalid('$.steps', 'must have at most 64 steps');
  const steps = doc.steps.map((s, i) => toStep(parseAction(s, `$.steps[${i}]`), includeStdOut, false));
  if (doc.finalStep !== undefined)
    steps.push(toStep(parseAction(doc.finalStep, '$.finalStep'), includeStdOut, true));
  return {
    format: 'aws-device-client',
    version: '1.0',
    files: [],
    steps,
    ...(includeStdOut ? { includeStdOut } : {}),
  };
}
