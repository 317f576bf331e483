/**
 * The agent configuration's JSON Schema (draft-07), defaults included: the one place defaults live.
 * docs/agent-config.schema.json is this object, written by `print-schema.ts` and compared by a test.
 */

const DURATION_PATTERN =
  '^\\d+(\\.\\d+)?\\s*(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days)?$';

const duration = (description: string, defaultValue: number, minimum: number) => ({
  description,
  default: defaultValue,
  anyOf: [
    { type: 'number', minimum },
    { type: 'string', pattern: DURATION_PATTERN },
  ],
});

const path = (description: string) => ({ type: 'string', minLength: 1, description });

export const HANDLER_NAMES = ['apt', 'script', 'file', 'agent'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export const TRANSPORTS = ['http', 'mqtt'] as const;

export const AGENT_CONFIG_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://otter.dev/schemas/agent-config.schema.json',
  title: 'Otter device agent configuration',
  type: 'object',
  additionalProperties: false,
  required: ['thingName', 'endpoint', 'version'],
  properties: {
    $schema: { type: 'string', description: 'ignored; lets editors find this schema' },
    thingName: {
      type: 'string',
      pattern: '^[a-zA-Z0-9:_-]{1,128}$',
      description: "the device's thing name (1-128 of a-z A-Z 0-9 : _ -)",
    },
    endpoint: {
      type: 'string',
      pattern: '^https?://[^\\s/?#]+(/[^\\s]*)?$',
      description:
        "the server's device TLS listener (https://host:8785), or http://host:port for development",
    },
    certificateFile: path('PEM client certificate of the device (required for an https endpoint)'),
    keyFile: path('PEM private key of the device certificate (required with certificateFile)'),
    caFile: path("PEM CA certificate(s) the server's certificate must chain to; default: the system CAs"),
    transport: {
      enum: [...TRANSPORTS],
      default: 'http',
      description: 'how jobs arrive: http (polling every period) or mqtt (notify-next pushes)',
    },
    mqttUrl: {
      type: 'string',
      pattern: '^(mqtts?|wss?)://[^\\s]+$',
      description: 'the MQTT broker (mqtts://host:8883); required when transport is mqtt',
    },
    version: {
      type: 'string',
      pattern:
        '^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(?:-((?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\\.(?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\\+([0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*))?$',
      description: "the device software's version (SemVer 2.0)",
    },
    services: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        update: { type: 'boolean', default: true, description: 'run update jobs at all' },
      },
    },
    update: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        schedule: {
          type: 'string',
          default: '* * * * *',
          description:
            'cron window in which to check for and download updates: 5-field cron (minute hour day-of-month month day-of-week, UTC) or AWS cron(...)',
        },
        apply: {
          type: 'string',
          default: '* * * * *',
          description: 'cron window in which to install downloaded updates (same syntax as schedule)',
        },
        period: duration(
          "seconds between checks (a number, or a string with a unit: '90s', '15min', '6hr', '1day')",
          3600,
          1,
        ),
        jitter: duration(
          'random delay of 0..jitter seconds added to each check (same forms as period)',
          0,
          0,
        ),
        throttle: {
          type: 'integer',
          minimum: 0,
          maximum: 60000,
          default: 0,
          description: 'milliseconds to pause per 4 KiB downloaded (0: no pause)',
        },
      },
    },
    stateDir: { ...path('journal and lock file'), default: '/var/lib/otter-agent' },
    downloadDir: path('where artifacts are downloaded; default: <stateDir>/downloads'),
    handlers: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: {
          type: 'array',
          uniqueItems: true,
          items: { enum: [...HANDLER_NAMES] },
          default: [...HANDLER_NAMES],
          description: 'built-in handlers the agent may run',
        },
        dir: path('folder of custom handler executables (the handler name is the file name)'),
        fileRoots: {
          type: 'array',
          uniqueItems: true,
          default: [],
          items: path('a folder'),
          description:
            'folders the file handler may write into (default: none, so file steps are REJECTED); --allow-root overrides',
        },
      },
    },
    packageName: {
      type: 'string',
      pattern: '^[a-zA-Z0-9_.-]{1,128}$',
      description:
        "package under which a job document's version is reported to the $package shadow; --package overrides",
    },
    mqtt: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        tokenFile: path(
          "file holding the device token, the MQTT password for a broker's plain/WebSocket listener; $OTTER_AGENT_MQTT_TOKEN overrides",
        ),
      },
    },
    selfUpdate: {
      type: 'object',
      additionalProperties: false,
      required: ['installRoot'],
      description:
        'the agent handler (self-update, docs/agent-self-update.md); without this key agent steps are REJECTED',
      properties: {
        installRoot: path(
          'the agent install root holding releases/ and the current symlink (an existing folder)',
        ),
        healthCommand: {
          type: 'array',
          minItems: 1,
          items: { type: 'string', minLength: 1 },
          description:
            'health check command and arguments; default [<installRoot>/current/bin/otter-agent, --health]',
        },
        healthTimeoutSeconds: {
          type: 'integer',
          minimum: 1,
          maximum: 3600,
          default: 30,
          description: 'the health check is killed and counts as failed after this long',
        },
        restartDeadlineSeconds: {
          type: 'integer',
          minimum: 1,
          maximum: 86400,
          default: 120,
          description:
            'the restarted agent must confirm the new release healthy within this long after the restart, or it is rolled back',
        },
        maxUnconfirmedStarts: {
          type: 'integer',
          minimum: 1,
          maximum: 100,
          default: 3,
          description:
            'starts of a new release through <installRoot>/launcher without it confirming itself; the next start switches current back to the previous release',
        },
      },
    },
    rebootCommand: {
      type: 'array',
      minItems: 1,
      items: { type: 'string', minLength: 1 },
      default: ['systemctl', 'reboot'],
      description:
        'command and arguments (no shell) run to reboot the device after a job with reboot: on-success succeeded',
    },
    rebootTimeoutSeconds: {
      type: 'integer',
      minimum: 1,
      maximum: 86400,
      default: 600,
      description:
        'the device must have rebooted (another boot id) within this long after the reboot command, or the job is FAILED',
    },
    scriptsDir: path('folder of pre-update and post-update scripts'),
    managedRespawn: {
      type: 'boolean',
      default: false,
      description:
        'when true, scriptsDir/pre-update and scriptsDir/post-update must exist, be executable and exit 0',
    },
    trustedKeys: {
      type: 'array',
      default: [],
      items: { type: 'string', minLength: 1 },
      description: 'public keys (SPKI PEM) that may sign artifacts: file paths or inline PEM',
    },
    requireSignature: {
      type: 'boolean',
      default: true,
      description: 'refuse artifacts without a valid signature by a trusted key',
    },
    download: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxBytes: {
          type: 'integer',
          minimum: 1,
          default: 4294967296,
          description: 'largest artifact accepted, in bytes (endless data attack)',
        },
        deadlineSeconds: {
          type: 'integer',
          minimum: 1,
          default: 3600,
          description: 'a download taking longer fails with DEADLINE',
        },
        minBytesPerSecond: {
          type: 'integer',
          minimum: 0,
          default: 256,
          description: 'a download slower than this over windowSeconds fails with TOO_SLOW (0: off)',
        },
        windowSeconds: {
          type: 'integer',
          minimum: 1,
          default: 60,
          description: 'the window over which minBytesPerSecond is measured',
        },
      },
    },
    logLevel: { enum: [...LOG_LEVELS], default: 'info' },
  },
} as const;
