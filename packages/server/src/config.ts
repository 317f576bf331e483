import { readFileSync } from 'node:fs';
import JSON5 from 'json5';

/** Every server setting, its default and its environment override. docs/configuration.md lists them. */
export const SERVER_SETTINGS = {
  host: { env: 'OTTER_HOST', default: '127.0.0.1', type: 'string' },
  port: { env: 'OTTER_PORT', default: 8780, type: 'port' },
  dataDir: { env: 'OTTER_DATA_DIR', default: '.otter', type: 'string' },
  databaseUrl: { env: 'OTTER_DATABASE_URL', default: undefined, type: 'string' },
  accessKeyId: { env: 'OTTER_ACCESS_KEY_ID', default: undefined, type: 'string' },
  secretAccessKey: { env: 'OTTER_SECRET_ACCESS_KEY', default: undefined, type: 'string' },
  accountId: { env: 'OTTER_ACCOUNT_ID', default: '123456789012', type: 'string' },
  maxSkewSeconds: { env: 'OTTER_MAX_SKEW_SECONDS', default: 300, type: 'int' },
  bodyLimitBytes: { env: 'OTTER_BODY_LIMIT_BYTES', default: 1_048_576, type: 'int' },
  logLevel: { env: 'OTTER_LOG_LEVEL', default: 'info', type: 'string' },
  allowAnonymous: { env: 'OTTER_ALLOW_ANONYMOUS', default: false, type: 'bool' },
  maxArtifactBytes: { env: 'OTTER_MAX_ARTIFACT_BYTES', default: 8 * 1024 ** 3, type: 'int' },
  /** Base of presigned artifact URLs; absent: the URL the server listens on. */
  publicUrl: { env: 'OTTER_PUBLIC_URL', default: undefined, type: 'string' },
  /** Key of presigned artifact URLs; absent: derived from the secret access key (docs/configuration.md). */
  presignSecret: { env: 'OTTER_PRESIGN_SECRET', default: undefined, type: 'string' },
  /** Where artifact bytes live: a folder, `file:///abs/path` or `s3://bucket/prefix?…` (artifacts/create-blob-store.ts). */
  artifactsUrl: { env: 'OTTER_ARTIFACTS_URL', default: undefined, type: 'string' },
  /** Embedded MQTT broker, plain TCP; `0` picks a free port, `-1` or `off` disables the listener. */
  mqttPort: { env: 'OTTER_MQTT_PORT', default: 8783, type: 'portOrOff' },
  /** Embedded MQTT broker over WebSocket (path `/mqtt`); `0` free port, `-1`/`off` disables. */
  mqttWsPort: { env: 'OTTER_MQTT_WS_PORT', default: 8784, type: 'portOrOff' },
  /** Embedded MQTT broker over TLS with client certificates (docs/mqtt.md); absent: no TLS listener. */
  mqttTlsPort: { env: 'OTTER_MQTT_TLS_PORT', default: undefined, type: 'port' },
  /** External broker (`mqtt://host:1883`, `mqtts://…`, `ws://…`): no embedded broker; Otter joins as a client. */
  mqttUrl: { env: 'OTTER_MQTT_URL', default: undefined, type: 'string' },
  /** Milliseconds between jobs scheduler passes (±20 % jitter); `0` turns the scheduler off in this process. */
  schedulerIntervalMs: { env: 'OTTER_SCHEDULER_INTERVAL_MS', default: 1000, type: 'int' },
  /** HTTPS device data plane with client certificates (docs/device-identity.md); `0` free port, `-1`/`off` disables. */
  deviceTlsPort: { env: 'OTTER_DEVICE_TLS_PORT', default: 8785, type: 'portOrOff' },
  /** Server certificate (PEM) of the TLS listeners; absent: issued at startup by the Otter device CA. */
  tlsCertFile: { env: 'OTTER_TLS_CERT_FILE', default: undefined, type: 'string' },
  /** Private key (PEM) of `tlsCertFile`. */
  tlsKeyFile: { env: 'OTTER_TLS_KEY_FILE', default: undefined, type: 'string' },
} as const;

type Setting = (typeof SERVER_SETTINGS)[keyof typeof SERVER_SETTINGS];
type ValueOf<S extends Setting> = S['type'] extends 'string'
  ? string
  : S['type'] extends 'bool'
    ? boolean
    : number;
export type ServerConfig = {
  [K in keyof typeof SERVER_SETTINGS]: (typeof SERVER_SETTINGS)[K]['default'] extends undefined
    ? ValueOf<(typeof SERVER_SETTINGS)[K]> | undefined
    : ValueOf<(typeof SERVER_SETTINGS)[K]>;
};

export class ConfigError extends Error {}

function coerce(key: string, setting: Setting, raw: unknown, from: string): unknown {
  const fail = (what: string) =>
    new ConfigError(`${from}: ${key} must be ${what}, got ${JSON.stringify(raw)}`);
  switch (setting.type) {
    case 'string':
      if (typeof raw !== 'string' || raw === '') throw fail('a non-empty string');
      return raw;
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw fail('true or false');
    case 'portOrOff':
      if (raw === 'off' || raw === -1 || raw === '-1') return -1;
      return coerce(key, SERVER_SETTINGS.port, raw, from);
    case 'int':
    case 'port': {
      const n =
        typeof raw === 'number'
          ? raw
          : typeof raw === 'string' && /^\d+$/.test(raw)
            ? Number(raw)
            : Number.NaN;
      if (!Number.isInteger(n) || n < 0 || (setting.type === 'port' && n > 65535))
        throw fail(setting.type === 'port' ? 'a port number (0-65535)' : 'a non-negative integer');
      return n;
    }
  }
}

/** Defaults, then the JSON5 config file, then OTTER_* variables. Unknown keys fail fast. */
export function loadServerConfig(env: Record<string, string | undefined>, configFile?: string): ServerConfig {
  const config: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(SERVER_SETTINGS)) config[key] = s.default;
  const file = configFile ?? env.OTTER_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON5.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new ConfigError(`${file}: must hold an object`);
    for (const [key, value] of Object.entries(parsed)) {
      const s = (SERVER_SETTINGS as Record<string, Setting>)[key];
      if (!s)
        throw new ConfigError(
          `${file}: unknown setting '${key}' (known: ${Object.keys(SERVER_SETTINGS).join(', ')})`,
        );
      config[key] = coerce(key, s, value, file);
    }
  }
  for (const [key, s] of Object.entries(SERVER_SETTINGS)) {
    const v = env[s.env];
    if (v !== undefined && v !== '') config[key] = coerce(key, s, v, `environment ${s.env}`);
  }
  if ((config.accessKeyId === undefined) !== (config.secretAccessKey === undefined))
    throw new ConfigError(
      'set both accessKeyId and secretAccessKey (OTTER_ACCESS_KEY_ID, OTTER_SECRET_ACCESS_KEY) or neither',
    );
  if ((config.tlsCertFile === undefined) !== (config.tlsKeyFile === undefined))
    throw new ConfigError(
      'set both tlsCertFile and tlsKeyFile (OTTER_TLS_CERT_FILE, OTTER_TLS_KEY_FILE) or neither',
    );
  if (!/^\d{12}$/.test(String(config.accountId))) throw new ConfigError('accountId must be 12 digits');
  return config as ServerConfig;
}
