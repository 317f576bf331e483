/** Job documents: each format to one plan, and every malformed document refused with a reason code. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isJobDocumentError, type JobPlan } from './job-plan.js';
import { parseJobDocument } from './parse-job-document.js';
import { DOCUMENT_SCHEMA_FILE, documentSchemaJson } from './print-document-schema.js';

const SHA = 'ab'.repeat(32);
const OTTER = {
  otter: 1,
  version: '2.1.0',
  files: [
    {
      name: 'app.tar.gz',
      url: 'https://otter.example:8785/v1/artifacts/app/2.1.0/app.tar.gz?X-Amz-Signature=abc',
      sha256: SHA.toUpperCase(),
      size: 1024,
      signature: 'MEUCIQD+/=',
      signatureAlgorithm: 'ECDSA_P256_SHA256',
      signingKeyId: '0123456789abcdef0123456789abcdef',
    },
    { name: 'app.conf', url: 'http://10.0.0.1/app.conf' },
  ],
  steps: [
    {
      handler: 'script',
      name: 'unpack',
      params: { file: 'app.tar.gz', args: ['--restart'] },
      timeoutSeconds: 600,
    },
    {
      handler: 'file',
      params: { file: 'app.conf', dest: '/etc/app/app.conf', mode: '0640', uid: 0, gid: 0 },
    },
    { handler: 'apt', params: { manifest: { name: 'm', version: '1', packages: [{ name: 'foo' }] } } },
    { handler: 'custom:notify.sh', params: { args: ['done'] }, ignoreFailure: true, final: true },
  ],
  reboot: 'on-success',
};

const SEED000 = `{
  "Steps": {
    "uninstall": ["samplePackage"],
    "download": [
      { "samplePackage": "https://EXAMPIEBUCKET.s3.us-west-2.amazonaws.com/exampleCodeFile" }
    ],
    "signature": [
      { "samplePackage": "aaaaabbbbbcccccdddddeeeeefffffggggghhhhhiiiiijjjj" }
    ]
  }
}`;

const DEVICE_CLIENT = {
  _comment: 'install wget, download a file, remove wget',
  version: '1.0',
  includeStdOut: 'true',
  steps: [
    {
      action: {
        name: 'Install-Packages',
        type: 'runHandler',
        input: { handler: 'install-packages.sh', args: ['wget'], path: 'default' },
        runAsUser: 'root',
      },
    },
    {
      action: {
        name: 'Download-File',
        type: 'runHandler',
        input: { handler: 'download-file.sh', args: ['https://example.com/v1.3.tar.gz', '/tmp/f.tar.gz'] },
        ignoreStepFailure: 'true',
        allowStdErr: 2,
      },
    },
  ],
  finalStep: {
    action: {
      name: 'Remove-Packages',
      type: 'runHandler',
      input: { handler: 'remove-packages.sh', args: ['wget'], path: 'default' },
      runAsUser: 'root',
    },
  },
};

function refused(doc: unknown, code: string, path?: string): void {
  assert.throws(
    () => parseJobDocument(doc),
    (e: unknown) => {
      assert.ok(isJobDocumentError(e), `not a JobDocumentError: ${e}`);
      assert.equal(e.code, code, e.message);
      if (path !== undefined) assert.equal(e.path, path, e.message);
      assert.equal(e.type, 'InvalidRequestException');
      return true;
    },
  );
}

describe('Otter documents', () => {
  it('parses a full document into the plan', () => {
    const plan = parseJobDocument(JSON.stringify(OTTER));
    assert.equal(plan.format, 'otter');
    assert.equal(plan.version, '1');
    assert.equal(plan.softwareVersion, '2.1.0');
    assert.equal(plan.reboot, 'on-success');
    assert.deepEqual(plan.files[0], { ...OTTER.files[0], sha256: SHA });
    assert.deepEqual(plan.files[1], OTTER.files[1]);
    assert.deepEqual(
      plan.steps.map((s) => s.handler),
      ['script', 'file', 'apt', 'custom:notify.sh'],
    );
    assert.equal(plan.steps[0]?.timeoutSeconds, 600);
    assert.equal(plan.steps[3]?.final, true);
    assert.equal(plan.steps[3]?.ignoreFailure, true);
  });

  it('fills defaults: no files, params {}, reboot never', () => {
    const plan = parseJobDocument({ otter: 1, steps: [{ handler: 'apt' }] });
    assert.deepEqual(plan, {
      format: 'otter',
      version: '1',
      files: [],
      steps: [{ handler: 'apt', params: {} }],
    });
  });

  it('accepts the parsed value as well as the text, and does not change the value', () => {
    const copy = structuredClone(OTTER);
    parseJobDocument(copy);
    assert.deepEqual(copy, OTTER);
  });

  const step = (s: object) => ({ otter: 1, files: [{ name: 'a', url: 'https://h/a' }], steps: [s] });
  const cases: Array<[string, unknown, string, string]> = [
    ['an unknown top-level member', { ...OTTER, extra: 1 }, 'DOCUMENT_INVALID', '$.extra'],
    ['a later version', { ...OTTER, otter: 2 }, 'DOCUMENT_UNSUPPORTED_VERSION', '$.otter'],
    ['a version as a string', { ...OTTER, otter: '1' }, 'DOCUMENT_INVALID', '$.otter'],
    ['no steps', { otter: 1 }, 'DOCUMENT_INVALID', '$.steps'],
    ['empty steps', { otter: 1, steps: [] }, 'DOCUMENT_INVALID', '$.steps'],
    ['an unknown handler', step({ handler: 'rpm' }), 'DOCUMENT_INVALID', '$.steps[0].handler'],
    ['custom:..', step({ handler: 'custom:..' }), 'DOCUMENT_INVALID', '$.steps[0].handler'],
    ['custom:a/b', step({ handler: 'custom:../bin/sh' }), 'DOCUMENT_INVALID', '$.steps[0].handler'],
    ['an unknown step member', step({ handler: 'apt', when: 'now' }), 'DOCUMENT_INVALID', '$.steps[0].when'],
    [
      'file without dest',
      step({ handler: 'file', params: {} }),
      'DOCUMENT_INVALID',
      '$.steps[0].params.dest',
    ],
    [
      'file with a relative dest',
      step({ handler: 'file', params: { dest: 'etc/x' } }),
      'DOCUMENT_INVALID',
      '$.steps[0].params.dest',
    ],
    [
      'file with a bad mode',
      step({ handler: 'file', params: { dest: '/x', mode: '999' } }),
      'DOCUMENT_INVALID',
      '$.steps[0].params.mode',
    ],
    [
      'file params with an unknown member',
      step({ handler: 'file', params: { dest: '/x', owner: 'root' } }),
      'DOCUMENT_INVALID',
      '$.steps[0].params.owner',
    ],
    [
      'script and scriptFile',
      step({ handler: 'script', params: { script: 'a', scriptFile: 'a' } }),
      'DOCUMENT_INVALID',
      '$.steps[0].params',
    ],
    [
      'a script name with a slash',
      step({ handler: 'script', params: { script: '../x' } }),
      'DOCUMENT_INVALID',
      '$.steps[0].params.script',
    ],
    [
      'a step naming a missing file',
      step({ handler: 'file', params: { dest: '/x', file: 'b' } }),
      'DOCUMENT_UNKNOWN_FILE',
      '$.steps[0].params.file',
    ],
    [
      'two files with one name',
      { otter: 1, files: [OTTER.files[1], OTTER.files[1]], steps: [{ handler: 'apt' }] },
      'DOCUMENT_DUPLICATE_FILE',
      '$.files[1].name',
    ],
    [
      'a signature without algorithm',
      { otter: 1, files: [{ name: 'a', url: 'https://h/a', signature: 'abc' }], steps: [{ handler: 'apt' }] },
      'DOCUMENT_INVALID',
      '$.files[0].signatureAlgorithm',
    ],
    [
      'an unknown algorithm',
      {
        otter: 1,
        files: [{ name: 'a', url: 'https://h/a', signature: 'abc', signatureAlgorithm: 'RSA' }],
        steps: [{ handler: 'apt' }],
      },
      'DOCUMENT_INVALID',
      '$.files[0].signatureAlgorithm',
    ],
    [
      'a bad sha256',
      { otter: 1, files: [{ name: 'a', url: 'https://h/a', sha256: 'abc' }], steps: [{ handler: 'apt' }] },
      'DOCUMENT_INVALID',
      '$.files[0].sha256',
    ],
    [
      'a file URL that is not http(s)',
      { otter: 1, files: [{ name: 'a', url: 'file:///etc/passwd' }], steps: [{ handler: 'apt' }] },
      'DOCUMENT_INVALID',
      '$.files[0].url',
    ],
    [
      'a final step that is not last',
      { otter: 1, steps: [{ handler: 'apt', final: true }, { handler: 'apt' }] },
      'DOCUMENT_INVALID',
      '$.steps[0].final',
    ],
    ['a bad reboot', { ...OTTER, reboot: 'always' }, 'DOCUMENT_INVALID', '$.reboot'],
  ];
  for (const [what, doc, code, path] of cases) it(`refuses ${what}`, () => refused(doc, code, path));
});

describe('seed 000 documents (Software Package Catalog example)', () => {
  it('maps uninstall, download and signature, in the order written', () => {
    const plan = parseJobDocument(SEED000);
    assert.deepEqual(plan, {
      format: 'seed000',
      version: '1',
      files: [
        {
          name: 'samplePackage',
          url: 'https://EXAMPIEBUCKET.s3.us-west-2.amazonaws.com/exampleCodeFile',
          signature: 'aaaaabbbbbcccccdddddeeeeefffffggggghhhhhiiiiijjjj',
        },
      ],
      steps: [
        {
          handler: 'script',
          name: 'uninstall samplePackage',
          params: { script: 'uninstall', args: ['samplePackage'] },
        },
        {
          handler: 'script',
          name: 'install samplePackage',
          params: { script: 'update', file: 'samplePackage' },
        },
      ],
    } satisfies JobPlan);
  });

  it('takes signature as an object too, and download before uninstall when written so', () => {
    const plan = parseJobDocument({
      Steps: {
        download: [{ a: 'https://h/a', b: 'https://h/b' }],
        signature: { b: 'c2ln' },
        uninstall: ['old'],
      },
    });
    assert.deepEqual(
      plan.steps.map((s) => s.name),
      ['install a', 'install b', 'uninstall old'],
    );
    assert.equal(plan.files[1]?.signature, 'c2ln');
  });

  it('refuses the seed text as printed (it is not JSON)', () => {
    const printed = readFileSync(new URL('./fixtures/seed000-as-printed.txt', import.meta.url), 'utf8');
    refused(printed, 'DOCUMENT_NOT_JSON', '$');
  });

  const cases: Array<[string, unknown, string, string]> = [
    ['an unknown action', { Steps: { install: ['a'] } }, 'DOCUMENT_INVALID', '$.Steps.install'],
    ['Steps not an object', { Steps: ['a'] }, 'DOCUMENT_INVALID', '$.Steps'],
    ['nothing to do', { Steps: {} }, 'DOCUMENT_INVALID', '$.Steps'],
    [
      'an unresolved substitution',
      { Steps: { download: [{ p: '${aws:iot:package:p:version:1:attributes:s3URL}' }] } },
      'DOCUMENT_INVALID',
      '$.Steps.download[0].p',
    ],
    ['a non-URL', { Steps: { download: [{ p: 'ftp://x' }] } }, 'DOCUMENT_INVALID', '$.Steps.download[0].p'],
    [
      'a signature for nothing downloaded',
      { Steps: { download: [{ p: 'https://h/p' }], signature: [{ q: 'c2ln' }] } },
      'DOCUMENT_UNKNOWN_FILE',
      '$.Steps.signature[0].q',
    ],
    [
      'a package downloaded twice',
      { Steps: { download: [{ p: 'https://h/p' }, { p: 'https://h/q' }] } },
      'DOCUMENT_DUPLICATE_FILE',
      '$.Steps.download[1].p',
    ],
    ['a bad package name', { Steps: { uninstall: ['../etc'] } }, 'DOCUMENT_INVALID', '$.Steps.uninstall[0]'],
    ['uninstall not an array', { Steps: { uninstall: 'a' } }, 'DOCUMENT_INVALID', '$.Steps.uninstall'],
    [
      'a download that is a string',
      { Steps: { download: 'https://h/p' } },
      'DOCUMENT_INVALID',
      '$.Steps.download',
    ],
  ];
  for (const [what, doc, code, path] of cases) it(`refuses ${what}`, () => refused(doc, code, path));
});

describe('AWS IoT Device Client documents', () => {
  it('maps runHandler steps and finalStep to custom handlers with Device Client argv', () => {
    const plan = parseJobDocument(JSON.stringify(DEVICE_CLIENT));
    assert.equal(plan.format, 'aws-device-client');
    assert.equal(plan.version, '1.0');
    assert.equal(plan.includeStdOut, true);
    assert.deepEqual(plan.steps, [
      {
        handler: 'custom:install-packages.sh',
        name: 'Install-Packages',
        params: { args: ['root', 'wget'], deviceClient: true, runAsUser: 'root', includeStdOut: true },
      },
      {
        handler: 'custom:download-file.sh',
        name: 'Download-File',
        params: {
          args: ['', 'https://example.com/v1.3.tar.gz', '/tmp/f.tar.gz'],
          deviceClient: true,
          allowStdErr: 2,
          includeStdOut: true,
        },
        ignoreFailure: true,
      },
      {
        handler: 'custom:remove-packages.sh',
        name: 'Remove-Packages',
        params: { args: ['root', 'wget'], deviceClient: true, runAsUser: 'root', includeStdOut: true },
        final: true,
      },
    ]);
  });

  it('reads the old schema (operation, args, allowStdErr)', () => {
    const plan = parseJobDocument({
      operation: 'install-packages.sh',
      args: ['lftp'],
      path: 'default',
      allowStdErr: 2,
    });
    assert.equal(plan.version, '0');
    assert.deepEqual(plan.steps, [
      {
        handler: 'custom:install-packages.sh',
        name: 'install-packages.sh',
        params: { args: ['', 'lftp'], deviceClient: true, allowStdErr: 2 },
      },
    ]);
  });

  const action = (a: object) => ({ version: '1.0', steps: [{ action: a }] });
  const ok = { name: 'x', type: 'runHandler', input: { handler: 'h.sh' } };
  const cases: Array<[string, unknown, string, string]> = [
    ['version 2.0', { ...DEVICE_CLIENT, version: '2.0' }, 'DOCUMENT_UNSUPPORTED_VERSION', '$.version'],
    ['version as a number', { ...DEVICE_CLIENT, version: 1 }, 'DOCUMENT_UNSUPPORTED_VERSION', '$.version'],
    ['empty steps', { version: '1.0', steps: [] }, 'DOCUMENT_INVALID', '$.steps'],
    ['a step without action', { version: '1.0', steps: [{}] }, 'DOCUMENT_INVALID', '$.steps[0].action'],
    ['an action without name', action({ ...ok, name: '' }), 'DOCUMENT_INVALID', '$.steps[0].action.name'],
    [
      'runCommand',
      action({ name: 'x', type: 'runCommand', input: { command: 'rm,-rf,/' } }),
      'DOCUMENT_UNSUPPORTED',
      '$.steps[0].action.type',
    ],
    ['an unknown type', action({ ...ok, type: 'runScript' }), 'DOCUMENT_INVALID', '$.steps[0].action.type'],
    [
      'a handler path of its own',
      action({ ...ok, input: { handler: 'h.sh', path: '/tmp/evil' } }),
      'DOCUMENT_UNSUPPORTED',
      '$.steps[0].action.input.path',
    ],
    [
      'a handler name with a slash',
      action({ ...ok, input: { handler: '../../bin/sh' } }),
      'DOCUMENT_INVALID',
      '$.steps[0].action.input.handler',
    ],
    [
      'handler ..',
      action({ ...ok, input: { handler: '..' } }),
      'DOCUMENT_INVALID',
      '$.steps[0].action.input.handler',
    ],
    [
      'args that are not strings',
      action({ ...ok, input: { handler: 'h.sh', args: [1] } }),
      'DOCUMENT_INVALID',
      '$.steps[0].action.input.args[0]',
    ],
    [
      'ignoreStepFailure "yes"',
      action({ ...ok, ignoreStepFailure: 'yes' }),
      'DOCUMENT_INVALID',
      '$.steps[0].action.ignoreStepFailure',
    ],
    [
      'allowStdErr -1',
      action({ ...ok, allowStdErr: -1 }),
      'DOCUMENT_INVALID',
      '$.steps[0].action.allowStdErr',
    ],
    [
      'conditions',
      { ...DEVICE_CLIENT, conditions: [{ key: 'a', value: ['b'] }] },
      'DOCUMENT_UNSUPPORTED',
      '$.conditions',
    ],
    ['an old-schema operation path', { operation: 'echo', path: '/bin' }, 'DOCUMENT_UNSUPPORTED', '$.path'],
    [
      'a bad finalStep',
      { ...DEVICE_CLIENT, finalStep: { action: {} } },
      'DOCUMENT_INVALID',
      '$.finalStep.action.name',
    ],
  ];
  for (const [what, doc, code, path] of cases) it(`refuses ${what}`, () => refused(doc, code, path));
});

describe('documents that are not documents', () => {
  it('refuses text that is not JSON, non-objects, unknown shapes and huge documents', () => {
    refused('{"otter": 1,', 'DOCUMENT_NOT_JSON', '$');
    refused('', 'DOCUMENT_NOT_JSON', '$');
    refused('[]', 'DOCUMENT_NOT_OBJECT', '$');
    refused('null', 'DOCUMENT_NOT_OBJECT', '$');
    refused(42, 'DOCUMENT_NOT_OBJECT', '$');
    refused('{"firmware": "https://x"}', 'DOCUMENT_UNKNOWN_FORMAT', '$');
    refused({ version: '1.0' }, 'DOCUMENT_UNKNOWN_FORMAT', '$');
    refused(
      JSON.stringify({ otter: 1, steps: [{ handler: 'apt' }], description: 'x'.repeat(40000) }),
      'DOCUMENT_TOO_LARGE',
    );
  });

  it('docs/schemas/otter-job-document.schema.json is the code schema', () => {
    // Compared as JSON, so that Biome may format the file.
    assert.deepEqual(
      JSON.parse(readFileSync(DOCUMENT_SCHEMA_FILE, 'utf8')),
      JSON.parse(documentSchemaJson()),
    );
  });
});

describe('property: nothing but JobDocumentError ever escapes', () => {
  const check = (input: unknown) => {
    try {
      parseJobDocument(input);
    } catch (e) {
      if (!isJobDocumentError(e)) throw e;
    }
  };
  /** A document with one member replaced (or added) somewhere by an arbitrary JSON value. */
  const mutate = (doc: unknown) =>
    fc.tuple(fc.array(fc.nat(), { maxLength: 4 }), fc.jsonValue(), fc.string()).map(([route, value, key]) => {
      const copy = structuredClone(doc) as Record<string, unknown>;
      let node: unknown = copy;
      for (const n of route) {
        if (typeof node !== 'object' || node === null) break;
        const keys = Object.keys(node);
        if (keys.length === 0) break;
        const next = (node as Record<string, unknown>)[keys[n % keys.length] as string];
        if (typeof next !== 'object' || next === null) {
          (node as Record<string, unknown>)[keys[n % keys.length] as string] = value;
          return copy;
        }
        node = next;
      }
      // Arrays get an element (an arbitrary key such as `length` would be a generator artefact).
      if (Array.isArray(node)) node.push(value);
      else if (typeof node === 'object' && node !== null) (node as Record<string, unknown>)[key] = value;
      return copy;
    });

  it('arbitrary strings and JSON values', () => {
    fc.assert(fc.property(fc.string(), check), { numRuns: 500 });
    fc.assert(fc.property(fc.jsonValue(), check), { numRuns: 500 });
    fc.assert(
      fc.property(fc.jsonValue(), (v) => check(JSON.stringify(v))),
      { numRuns: 300 },
    );
  });

  it('mutations of realistic documents of every format', () => {
    for (const doc of [OTTER, JSON.parse(SEED000), DEVICE_CLIENT]) {
      fc.assert(fc.property(mutate(doc), check), { numRuns: 400 });
      fc.assert(
        fc.property(mutate(doc), (d) => check(JSON.stringify(d))),
        { numRuns: 200 },
      );
    }
  });

  it('a plan always has steps, and every step file reference names a plan file', () => {
    fc.assert(
      fc.property(mutate(OTTER), (d) => {
        try {
          const plan = parseJobDocument(d);
          assert.ok(plan.steps.length > 0);
          const names = new Set(plan.files.map((f) => f.name));
          for (const s of plan.steps)
            if (typeof s.params.file === 'string') assert.ok(names.has(s.params.file));
        } catch (e) {
          if (!isJobDocumentError(e)) throw e;
        }
      }),
      { numRuns: 400 },
    );
  });
});
