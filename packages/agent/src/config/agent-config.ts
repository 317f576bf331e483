/**
 * The agent's configuration: a JSON5 file validated against AGENT_CONFIG_SCHEMA (ajv, defaults
 * filled in), then checked for what a schema cannot say (cron windows, readable files, usable keys),
 * with relative paths resolved against the file's folder. Every problem is reported with its path.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { OtterError } from '@otter/core/errors';
import { parsePublicKey, type SigningAlgorithm } from '@otter/core/signing/keys';
import { Ajv, type ErrorObject } from 'ajv';
import JSON5 from 'json5';
import { type CronWindow, isAlwaysOpenCron, loadCronParser, parseCronWindowSync } from './cron-window.js';
import { parseDurationSeconds } from './duration.js';
import { AGENT_CONFIG_SCHEMA, type HANDLER_NAMES, type LOG_LEVELS, type TRANSPORTS } from './schema.js';

export type HandlerName = (typeof HANDLER_NAMES)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];
export type Transport = (typeof TRANSPORTS)[number];

/** A public key the agent trusts, read and parsed. */
export interface TrustedKey {
  /** The file it came from, or `inline #n`. */
  readonly source: string;
  readonly publicKeyPem: string;
  readonly algorithm: SigningAlgorithm;
  readonly keyId: string;
}

/** The validated configuration: defaults filled, paths absolute, durations in seconds, keys parsed. */
export interface AgentConfig {
  readonly thingName: string;
  readonly endpoint: string;
  readonly certificateFile?: string;
  readonly keyFile?: string;
  readonly caFile?: string;
  readonly transport: Transport;
  readonly mqttUrl?: string;
  readonly version: string;
  readonly services: { readonly update: boolean };
  readonly update: {
    readonly schedule: CronWindow;
    readonly apply: CronWindow;
    readonly periodSeconds: number;
    readonly jitterSeconds: number;
    readonly throttleMs: number;
  };
  readonly stateDir: string;
  readonly downloadDir: string;
  readonly handlers: {
    readonly enabled: readonly HandlerName[];
    readonly dir?: string;
    /** Folders the `file` handler may write into (absolute). */
    readonly fileRoots: readonly string[];
  };
  /** Package reported to the `$package` shadow with a job document's version. */
  readonly packageName?: string;
  readonly mqtt: {
    /** File holding the device token (the MQTT password for a plain/WebSocket listener). */
    readonly tokenFile?: string;
  };
  /** The `agent` self-update handler; absent: `agent` steps are REJECTED. */
  readonly selfUpdate?: {
    readonly installRoot: string;
    readonly healthCommand?: readonly string[];
    readonly healthTimeoutSeconds: number;
    readonly restartDeadlineSeconds: number;
    readonly maxUnconfirmedStarts: number;
  };
  /** Run (no shell) to reboot after a job with `reboot: on-success` succeeded. */
  readonly rebootCommand: readonly string[];
  /** How long after the reboot command the device must have rebooted (another boot id). */
  readonly rebootTimeoutSeconds: number;
  readonly scriptsDir?: string;
  readonly managedRespawn: boolean;
  readonly trustedKeys: readonly TrustedKey[];
  readonly requireSignature: boolean;
  readonly download: {
    readonly maxBytes: number;
    readonly deadlineSeconds: number;
    readonly minBytesPerSecond: number;
    readonly windowSeconds: number;
  };
  readonly logLevel: LogLevel;
}

export interface ConfigIssue {
  /** Dotted path of the offending key (`update.schedule`), or `(root)`. */
  readonly path: string;
  readonly message: string;
}

/** A configuration that cannot be used; `issues` lists every problem found. */
export class AgentConfigError extends OtterError {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], source?: string) {
    const where = source === undefined ? '' : `${source}: `;
    super(
      'ValidationException',
      `${where}invalid agent configuration: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
    );
    this.name = 'AgentConfigError';
    this.issues = issues;
  }
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, verbose: true });
const validateSchema = ajv.compile(AGENT_CONFIG_SCHEMA);

const dotted = (pointer: string) =>
  pointer === ''
    ? '(root)'
    : pointer
        .slice(1)
        .split('/')
        .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
        .join('.');

function describe(e: ErrorObject): ConfigIssue {
  const base = dotted(e.instancePath);
  const at = (key: string) => (base === '(root)' ? key : `${base}.${key}`);
  switch (e.keyword) {
    case 'additionalProperties':
      return { path: at(String(e.params.additionalProperty)), message: 'unknown key' };
    case 'required':
      return { path: at(String(e.params.missingProperty)), message: 'is required' };
    case 'anyOf': {
      const description = (e.parentSchema as { description?: string } | undefined)?.description;
      return { path: base, message: `must be ${description ?? 'one of the allowed forms'}` };
    }
    case 'enum':
      return { path: base, message: `must be one of ${(e.params.allowedValues as unknown[]).join(', ')}` };
    case 'pattern': {
      const description = (e.parentSchema as { description?: string } | undefined)?.description;
      return { path: base, message: `must be ${description ?? `a string matching ${e.params.pattern}`}` };
    }
    default:
      return { path: base, message: e.message ?? 'is invalid' };
  }
}

/** Schema errors as issues; branch errors under an `anyOf` are folded into its one message. */
function schemaIssues(errors: readonly ErrorObject[]): ConfigIssue[] {
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const issues = errors.filter((e) => e.keyword === 'anyOf' || !anyOfPaths.has(e.instancePath)).map(describe);
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.path}\0${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export interface ValidateOptions {
  /** Folder relative paths are resolved against (the config file's folder). Default: the cwd. */
  readonly baseDir?: string;
  /** Named in error messages (the config file). */
  readonly source?: string;
}

type Raw = Record<string, unknown> & {
  update: Record<string, unknown>;
  download: Record<string, number>;
  handlers: { enabled: HandlerName[]; dir?: string; fileRoots: string[] };
  mqtt: { tokenFile?: string };
  selfUpdate?: {
    installRoot: string;
    healthCommand?: string[];
    healthTimeoutSeconds: number;
    restartDeadlineSeconds: number;
    maxUnconfirmedStarts: number;
  };
  trustedKeys: string[];
};

/**
 * Validates a parsed configuration object (it is not modified) into an AgentConfig. Asynchronous
 * because a cron window other than every minute loads core's cron parser first (cron-window.ts).
 */
export async function validateAgentConfig(
  input: unknown,
  options: ValidateOptions = {},
): Promise<AgentConfig> {
  const update = (input as { update?: Record<string, unknown> } | null)?.update;
  const windows = [update?.schedule, update?.apply].filter((w): w is string => typeof w === 'string');
  if (windows.some((w) => !isAlwaysOpenCron(w))) await loadCronParser();
  return validateLoaded(input, options);
}

function validateLoaded(input: unknown, options: ValidateOptions): AgentConfig {
  const raw = structuredClone(input) as Raw;
  if (!validateSchema(raw))
    throw new AgentConfigError(schemaIssues(validateSchema.errors ?? []), options.source);
  const issues: ConfigIssue[] = [];
  const baseDir = options.baseDir ?? process.cwd();
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const check = <T>(path: string, f: () => T): T | undefined => {
    try {
      return f();
    } catch (e) {
      issues.push({ path, message: (e as Error).message });
      return undefined;
    }
  };
  const readable = (path: string, file: string, kind: 'file' | 'dir') =>
    check(path, () => {
      let st: ReturnType<typeof statSync>;
      try {
        st = statSync(file);
        accessSync(file, constants.R_OK);
      } catch (e) {
        throw new Error(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      if (kind === 'file' && !st.isFile()) throw new Error(`${file} is not a file`);
      if (kind === 'dir' && !st.isDirectory()) throw new Error(`${file} is not a folder`);
      return file;
    });

  const optionalFile = (key: 'certificateFile' | 'keyFile' | 'caFile') => {
    const v = raw[key];
    return typeof v === 'string' ? readable(key, abs(v), 'file') : undefined;
  };
  const certificateFile = optionalFile('certificateFile');
  const keyFile = optionalFile('keyFile');
  const caFile = optionalFile('caFile');
  const endpoint = String(raw.endpoint);
  if (endpoint.startsWith('https:') && (raw.certificateFile === undefined || raw.keyFile === undefined)) {
    issues.push({
      path: raw.certificateFile === undefined ? 'certificateFile' : 'keyFile',
      message: 'is required for an https endpoint (the device authenticates with its certificate)',
    });
  }
  if ((raw.certificateFile === undefined) !== (raw.keyFile === undefined)) {
    issues.push({
      path: raw.keyFile === undefined ? 'keyFile' : 'certificateFile',
      message: 'certificateFile and keyFile go together',
    });
  }
  if (raw.transport === 'mqtt' && raw.mqttUrl === undefined) {
    issues.push({ path: 'mqttUrl', message: 'is required when transport is mqtt' });
  }

  const u = raw.update;
  const schedule = check('update.schedule', () => parseCronWindowSync(String(u.schedule)));
  const apply = check('update.apply', () => parseCronWindowSync(String(u.apply)));
  const periodSeconds = check('update.period', () => parseDurationSeconds(u.period as number | string));
  const jitterSeconds = check('update.jitter', () => parseDurationSeconds(u.jitter as number | string));
  if (periodSeconds !== undefined && periodSeconds < 1) {
    issues.push({ path: 'update.period', message: 'must be at least 1 second' });
  }
  if (periodSeconds !== undefined && jitterSeconds !== undefined && jitterSeconds > periodSeconds) {
    issues.push({ path: 'update.jitter', message: `must not exceed update.period (${periodSeconds} s)` });
  }

  const stateDir = abs(String(raw.stateDir));
  const downloadDir =
    typeof raw.downloadDir === 'string' ? abs(raw.downloadDir) : join(stateDir, 'downloads');
  const handlersDir =
    raw.handlers.dir === undefined ? undefined : readable('handlers.dir', abs(raw.handlers.dir), 'dir');
  const fileRoots = raw.handlers.fileRoots.map(abs);
  const tokenFile =
    raw.mqtt.tokenFile === undefined
      ? undefined
      : readable('mqtt.tokenFile', abs(raw.mqtt.tokenFile), 'file');
  const su = raw.selfUpdate;
  const installRoot =
    su === undefined ? undefined : readable('selfUpdate.installRoot', abs(su.installRoot), 'dir');
  const scriptsDir =
    typeof raw.scriptsDir === 'string' ? readable('scriptsDir', abs(raw.scriptsDir), 'dir') : undefined;
  if (raw.managedRespawn === true) {
    if (raw.scriptsDir === undefined) {
      issues.push({ path: 'scriptsDir', message: 'is required when managedRespawn is true' });
    } else if (scriptsDir !== undefined) {
      for (const name of ['pre-update', 'post-update']) {
        check('managedRespawn', () => {
          const file = join(scriptsDir, name);
          try {
            if (!statSync(file).isFile()) throw new Error('not a file');
            accessSync(file, constants.X_OK);
          } catch {
            throw new Error(`${file} must exist and be executable when managedRespawn is true`);
          }
        });
      }
    }
  }

  const trustedKeys: TrustedKey[] = [];
  raw.trustedKeys.forEach((entry, i) => {
    const path = `trustedKeys.${i}`;
    const inline = entry.trimStart().startsWith('-----BEGIN');
    const file = inline ? undefined : abs(entry);
    const pem = inline ? entry : file && readable(path, file, 'file') && readFileSync(file, 'utf8');
    if (typeof pem !== 'string') return;
    const key = check(path, () => parsePublicKey(pem));
    if (key) {
      trustedKeys.push({
        source: file ?? `inline #${i}`,
        publicKeyPem: key.publicKeyPem,
        algorithm: key.algorithm,
        keyId: key.keyId,
      });
    }
  });
  if (raw.requireSignature === true && raw.trustedKeys.length === 0) {
    issues.push({
      path: 'trustedKeys',
      message: 'needs at least one public key while requireSignature is true',
    });
  }

  if (issues.length > 0) throw new AgentConfigError(issues, options.source);
  const d = raw.download;
  return {
    thingName: String(raw.thingName),
    endpoint,
    ...(certificateFile === undefined ? {} : { certificateFile }),
    ...(keyFile === undefined ? {} : { keyFile }),
    ...(caFile === undefined ? {} : { caFile }),
    transport: raw.transport as Transport,
    ...(typeof raw.mqttUrl === 'string' ? { mqttUrl: raw.mqttUrl } : {}),
    version: String(raw.version),
    services: { update: (raw.services as { update: boolean }).update },
    update: {
      schedule: schedule as CronWindow,
      apply: apply as CronWindow,
      periodSeconds: periodSeconds as number,
      jitterSeconds: jitterSeconds as number,
      throttleMs: u.throttle as number,
    },
    stateDir,
    downloadDir,
    handlers: {
      enabled: raw.handlers.enabled,
      ...(handlersDir === undefined ? {} : { dir: handlersDir }),
      fileRoots,
    },
    ...(typeof raw.packageName === 'string' ? { packageName: raw.packageName } : {}),
    mqtt: tokenFile === undefined ? {} : { tokenFile },
    ...(su === undefined || installRoot === undefined
      ? {}
      : {
          selfUpdate: {
            installRoot,
            ...(su.healthCommand === undefined ? {} : { healthCommand: su.healthCommand }),
            healthTimeoutSeconds: su.healthTimeoutSeconds,
            restartDeadlineSeconds: su.restartDeadlineSeconds,
            maxUnconfirmedStarts: su.maxUnconfirmedStarts,
          },
        }),
    rebootCommand: raw.rebootCommand as string[],
    rebootTimeoutSeconds: raw.rebootTimeoutSeconds as number,
    ...(scriptsDir === undefined ? {} : { scriptsDir }),
    managedRespawn: raw.managedRespawn === true,
    trustedKeys,
    requireSignature: raw.requireSignature === true,
    download: {
      maxBytes: d.maxBytes as number,
      deadlineSeconds: d.deadlineSeconds as number,
      minBytesPerSecond: d.minBytesPerSecond as number,
      windowSeconds: d.windowSeconds as number,
    },
    logLevel: raw.logLevel as LogLevel,
  };
}

/** Reads, parses (JSON5) and validates a configuration file. */
export async function loadAgentConfig(file: string): Promise<AgentConfig> {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new AgentConfigError(
      [{ path: '(root)', message: `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? e}` }],
      path,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON5.parse(text);
  } catch (e) {
    throw new AgentConfigError(
      [{ path: '(root)', message: `not valid JSON5: ${(e as Error).message}` }],
      path,
    );
  }
  return validateAgentConfig(parsed, { baseDir: dirname(path), source: path });
}
