/**
 * Otter's own job document, version 1 (JSON Schema draft-07). docs/schemas/otter-job-document.schema.json
 * is this object, written by `print-document-schema.ts` and compared by a test.
 */

const NAME = '^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$';
/** `custom:<name>`: a file name in the handlers folder, never `.`/`..` or a path. */
export const HANDLER_PATTERN = '^(apt|script|file|agent|custom:[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,127})$';

const fileParams = {
  type: 'object',
  additionalProperties: false,
  required: ['dest'],
  properties: {
    file: { type: 'string', pattern: NAME, description: 'the file to place (default: the only file)' },
    dest: {
      type: 'string',
      pattern: '^/',
      maxLength: 4096,
      description: 'absolute destination path, inside one of the agent’s allowedRoots',
    },
    mode: {
      type: 'string',
      pattern: '^0?[0-7]{3,4}$',
      description: 'octal permission bits (default: those of the file replaced, else 0644)',
    },
    uid: { type: 'integer', minimum: 0, maximum: 4294967294, description: 'numeric owner' },
    gid: { type: 'integer', minimum: 0, maximum: 4294967294, description: 'numeric group' },
  },
};

const scriptParams = {
  type: 'object',
  additionalProperties: false,
  properties: {
    script: {
      type: 'string',
      pattern: NAME,
      description: 'executable in the agent’s scriptsDir (default: update)',
    },
    scriptFile: {
      type: 'string',
      pattern: NAME,
      description: 'run this downloaded (and verified) file instead of a script of the device',
    },
    file: {
      type: 'string',
      pattern: NAME,
      description: 'the downloaded file given as first argument (default: the only file, if any)',
    },
    args: { type: 'array', maxItems: 64, items: { type: 'string', maxLength: 4096 } },
  },
  not: { required: ['script', 'scriptFile'] },
};

const customParams = {
  type: 'object',
  properties: {
    args: { type: 'array', maxItems: 64, items: { type: 'string', maxLength: 4096 } },
    allowStdErr: { type: 'integer', minimum: 0 },
  },
};

export const OTTER_DOCUMENT_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://otter.dev/schemas/otter-job-document.schema.json',
  title: 'Otter job document, version 1',
  type: 'object',
  additionalProperties: false,
  required: ['otter', 'steps'],
  properties: {
    $schema: { type: 'string', description: 'ignored; lets editors find this schema' },
    otter: { const: 1, description: 'the document format version' },
    version: {
      type: 'string',
      minLength: 1,
      maxLength: 128,
      pattern: '^[^\\s]+$',
      description: 'the software version this update installs (given to scripts as OTTER_VERSION)',
    },
    description: { type: 'string', maxLength: 1024 },
    files: {
      type: 'array',
      maxItems: 64,
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'url'],
        properties: {
          name: { type: 'string', pattern: NAME, description: 'unique; steps refer to files by name' },
          url: { type: 'string', pattern: '^https?://[^\\s]+$', maxLength: 8192 },
          sha256: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
          size: { type: 'integer', minimum: 0 },
          signature: { type: 'string', pattern: '^[A-Za-z0-9+/=_-]+$', maxLength: 1024 },
          signatureAlgorithm: { enum: ['ED25519', 'ECDSA_P256_SHA256'] },
          signingKeyId: { type: 'string', pattern: '^[0-9a-f]{32}$' },
        },
        dependencies: { signature: ['signatureAlgorithm'], signatureAlgorithm: ['signature'] },
      },
    },
    steps: {
      type: 'array',
      minItems: 1,
      maxItems: 64,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['handler'],
        properties: {
          handler: { type: 'string', pattern: HANDLER_PATTERN },
          name: { type: 'string', minLength: 1, maxLength: 128 },
          params: { type: 'object', default: {} },
          ignoreFailure: { type: 'boolean', default: false },
          final: { type: 'boolean', default: false, description: 'run only when every other step succeeded' },
          timeoutSeconds: { type: 'integer', minimum: 1, maximum: 86400 },
        },
        allOf: [
          {
            if: { properties: { handler: { const: 'file' } } },
            // biome-ignore lint/suspicious/noThenProperty: the JSON Schema keyword
            then: { properties: { params: fileParams } },
          },
          {
            if: { properties: { handler: { const: 'script' } } },
            // biome-ignore lint/suspicious/noThenProperty: the JSON Schema keyword
            then: { properties: { params: scriptParams } },
          },
          {
            if: { properties: { handler: { pattern: '^custom:' } } },
            // biome-ignore lint/suspicious/noThenProperty: the JSON Schema keyword
            then: { properties: { params: customParams } },
          },
        ],
      },
    },
    reboot: { enum: ['never', 'on-success'], default: 'never' },
  },
} as const;
