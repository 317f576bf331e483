/**
 * The real `aws` CLI (botocore) against a running Otter. Opt-in: set OTTER_TEST_AWS_CLI=1 and have
 * `aws` (v1 or v2) on PATH. Operations the server does not serve yet are skipped, not failed.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import { makeCa, makeDeviceCert, makeVerificationCert } from '../services/pki-test-support.js';
import { BACKENDS, startTestServer, type TestServer } from '../testing/test-server.js';

/** The CLI's major version, or undefined when `aws` cannot be run. */
function awsCliMajorVersion(): number | undefined {
  try {
    const out = execFileSync('aws', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const m = /aws-cli\/(\d+)\./.exec(out);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

const enabled = process.env.OTTER_TEST_AWS_CLI === '1';
const cliMajor = enabled ? awsCliMajorVersion() : undefined;
const suiteSkip: string | false = !enabled
  ? 'skipped: OTTER_TEST_AWS_CLI is not set'
  : cliMajor === undefined
    ? 'skipped: the `aws` CLI is not on PATH (or `aws --version` failed)'
    : false;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Exit codes of a service error: 254 in CLI v2, 255 in v1. */
const SERVICE_ERROR_CODES = [254, 255];

/** A route the server does not serve yet: the not-found handler, or a route of another service. */
const NOT_IMPLEMENTED = /No route for|No operation of service/;

for (const backend of BACKENDS) {
  describe(`aws CLI compatibility (${backend.name})`, { skip: suiteSkip || backend.skip }, () => {
    let s: TestServer;
    let tmp: string;
    let env: NodeJS.ProcessEnv;

    const aws = (...args: string[]): Promise<CliResult> =>
      new Promise((resolve) => {
        execFile(
          'aws',
          ['--endpoint-url', s.server.url, '--output', 'json', ...args],
          { env, timeout: 60_000 },
          (err, stdout, stderr) => {
            const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
            resolve({ code, stdout, stderr });
          },
        );
      });

    /** Runs the CLI and parses its JSON output; fails with the CLI's stderr when it did not succeed. */
    const ok = async (...args: string[]): Promise<Record<string, unknown>> => {
      const r = await aws(...args);
      assert.equal(r.code, 0, `aws ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
      return r.stdout.trim() ? JSON.parse(r.stdout) : {};
    };

    /** Asserts a service error: exit code 254/255 and the error type in stderr. */
    const fails = async (errorType: string, ...args: string[]): Promise<CliResult> => {
      const r = await aws(...args);
      assert.ok(
        SERVICE_ERROR_CODES.includes(r.code),
        `aws ${args.join(' ')} exited ${r.code}, expected 254/255: ${r.stderr}`,
      );
      assert.match(r.stderr, new RegExp(`\\(${errorType}\\)`));
      return r;
    };

    /** Like ok, but marks the test skipped (and returns undefined) when the operation isn't served yet. */
    const guarded = async (t: TestContext, ...args: string[]) => {
      const r = await aws(...args);
      if (r.code !== 0 && NOT_IMPLEMENTED.test(r.stderr)) {
        t.skip('not implemented yet');
        return undefined;
      }
      assert.equal(r.code, 0, `aws ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
      return (r.stdout.trim() ? JSON.parse(r.stdout) : {}) as Record<string, unknown>;
    };

    /** Which guarded README steps ran, so later steps that depend on them can skip too. */
    const done = new Set<string>();
    const needs = (t: TestContext, ...steps: string[]) => {
      const missing = steps.filter((step) => !done.has(step));
      if (missing.length) t.skip(`not implemented yet (needs ${missing.join(', ')})`);
      return missing.length === 0;
    };

    before(async () => {
      s = await startTestServer(backend.name, 'us-east-1');
      tmp = mkdtempSync(join(tmpdir(), 'otter-cli-'));
      env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
      Object.assign(env, {
        AWS_ACCESS_KEY_ID: s.server.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s.server.secretAccessKey,
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_PAGER: '',
        AWS_MAX_ATTEMPTS: '1',
      });
    });
    after(async () => {
      await s?.close();
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    });

    test('iot create-thing and describe-thing', async () => {
      const created = await ok(
        'iot',
        'create-thing',
        '--thing-name',
        'sensor-1',
        '--attribute-payload',
        '{"attributes":{"model":"t1000"}}',
      );
      assert.equal(created.thingName, 'sensor-1');
      assert.equal(created.thingArn, 'arn:aws:iot:us-east-1:123456789012:thing/sensor-1');
      assert.match(String(created.thingId), /^[0-9a-f-]{36}$/);

      const d = await ok('iot', 'describe-thing', '--thing-name', 'sensor-1');
      assert.equal(d.thingName, 'sensor-1');
      assert.equal(d.thingId, created.thingId);
      assert.equal(d.thingArn, created.thingArn);
      assert.deepEqual(d.attributes, { model: 't1000' });
      assert.equal(d.version, 1);
      assert.equal(d.defaultClientId, 'sensor-1');
    });

    test('iot update-thing with merge and --expected-version', async () => {
      await ok(
        'iot',
        'update-thing',
        '--thing-name',
        'sensor-1',
        '--attribute-payload',
        '{"attributes":{"fw":"2"},"merge":true}',
        '--expected-version',
        '1',
      );
      const d = await ok('iot', 'describe-thing', '--thing-name', 'sensor-1');
      assert.deepEqual(d.attributes, { model: 't1000', fw: '2' });
      assert.equal(d.version, 2);
      // The same expected version again is now stale.
      await fails(
        'VersionConflictException',
        'iot',
        'update-thing',
        '--thing-name',
        'sensor-1',
        '--attribute-payload',
        '{"attributes":{"fw":"3"},"merge":true}',
        '--expected-version',
        '1',
      );
    });

    test('iot list-things, with and without an attribute filter', async () => {
      await ok(
        'iot',
        'create-thing',
        '--thing-name',
        'other-1',
        '--attribute-payload',
        '{"attributes":{"model":"x9"}}',
      );
      const all = (await ok('iot', 'list-things')) as { things: { thingName: string }[] };
      assert.deepEqual(all.things.map((t) => t.thingName).sort(), ['other-1', 'sensor-1']);
      const filtered = (await ok(
        'iot',
        'list-things',
        '--attribute-name',
        'model',
        '--attribute-value',
        't1000',
      )) as { things: { thingName: string; attributes: Record<string, string>; version: number }[] };
      assert.deepEqual(
        filtered.things.map((t) => t.thingName),
        ['sensor-1'],
      );
      assert.deepEqual(filtered.things[0]!.attributes, { model: 't1000', fw: '2' });
      assert.equal(filtered.things[0]!.version, 2);
    });

    test('iot create-thing-type and list-thing-types', async () => {
      const created = await ok(
        'iot',
        'create-thing-type',
        '--thing-type-name',
        'meter',
        '--thing-type-properties',
        'thingTypeDescription=x',
      );
      assert.equal(created.thingTypeName, 'meter');
      assert.equal(created.thingTypeArn, 'arn:aws:iot:us-east-1:123456789012:thingtype/meter');
      const list = (await ok('iot', 'list-thing-types')) as {
        thingTypes: { thingTypeName: string; thingTypeProperties?: { thingTypeDescription?: string } }[];
      };
      assert.equal(list.thingTypes.length, 1);
      assert.equal(list.thingTypes[0]!.thingTypeName, 'meter');
      assert.equal(list.thingTypes[0]!.thingTypeProperties?.thingTypeDescription, 'x');
    });

    test('errors: ResourceNotFoundException and InvalidRequestException, with a service-error exit code', async () => {
      const missing = await fails(
        'ResourceNotFoundException',
        'iot',
        'describe-thing',
        '--thing-name',
        'nope',
      );
      assert.match(missing.stderr, /DescribeThing operation/);
      await fails('InvalidRequestException', 'iot', 'create-thing', '--thing-name', 'bad name');
    });

    test('pagination with --max-items / --starting-token and with --page-size', async () => {
      for (let i = 0; i < 5; i++) {
        await ok(
          'iot',
          'create-thing',
          '--thing-name',
          `page-${i}`,
          '--attribute-payload',
          '{"attributes":{"batch":"p"}}',
        );
      }
      const filter = ['--attribute-name', 'batch', '--attribute-value', 'p'];
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const out = (await ok(
          'iot',
          'list-things',
          ...filter,
          '--max-items',
          '2',
          ...(token ? ['--starting-token', token] : []),
        )) as { things: { thingName: string }[]; NextToken?: string };
        assert.ok(out.things.length <= 2, `a page of ${out.things.length} things`);
        seen.push(...out.things.map((t) => t.thingName));
        token = out.NextToken;
        pages++;
        assert.ok(pages <= 5, 'pagination does not terminate');
      } while (token);
      assert.equal(pages, 3);
      assert.deepEqual(seen.sort(), ['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);

      // --page-size makes the CLI itself follow the server's nextToken to the end.
      const all = (await ok('iot', 'list-things', ...filter, '--page-size', '2')) as {
        things: { thingName: string }[];
      };
      assert.deepEqual(all.things.map((t) => t.thingName).sort(), seen);
    });

    // The README walkthrough. These operations may not be served yet; such steps are skipped.

    test('README: iot create-thing-group', async (t) => {
      const out = await guarded(t, 'iot', 'create-thing-group', '--thing-group-name', 'lab');
      if (!out) return;
      assert.equal(out.thingGroupName, 'lab');
      assert.equal(out.thingGroupArn, 'arn:aws:iot:us-east-1:123456789012:thinggroup/lab');
      done.add('create-thing-group');
    });

    test('README: iot add-thing-to-thing-group', async (t) => {
      if (!needs(t, 'create-thing-group')) return;
      const out = await guarded(
        t,
        'iot',
        'add-thing-to-thing-group',
        '--thing-group-name',
        'lab',
        '--thing-name',
        'sensor-1',
      );
      if (!out) return;
      done.add('add-thing-to-thing-group');
      const listed = await guarded(t, 'iot', 'list-things-in-thing-group', '--thing-group-name', 'lab');
      if (!listed) return;
      assert.deepEqual(listed.things, ['sensor-1']);
    });

    test('README: iot create-package and create-package-version (catalog for $package)', async (t) => {
      const pkg = await guarded(t, 'iot', 'create-package', '--package-name', 'samplePackage');
      if (!pkg) return;
      assert.equal(pkg.packageArn, 'arn:aws:iot:us-east-1:123456789012:package/samplePackage');
      const version = await guarded(
        t,
        'iot',
        'create-package-version',
        '--package-name',
        'samplePackage',
        '--version-name',
        '2.1.5',
      );
      if (!version) return;
      assert.equal(version.status, 'DRAFT');
      done.add('create-package-version');
    });

    test('catalog: versions, attributes, publish, status filter, configuration', async () => {
      await ok('iot', 'create-package', '--package-name', 'cli-fw', '--description', 'from the aws CLI');
      const created = await ok(
        'iot',
        'create-package-version',
        '--package-name',
        'cli-fw',
        '--version-name',
        '1.0.0',
        '--attributes',
        'channel=beta,board=rev-b',
      );
      assert.deepEqual(created.attributes, { channel: 'beta', board: 'rev-b' });
      await fails(
        'ConflictException',
        'iot',
        'create-package-version',
        '--package-name',
        'cli-fw',
        '--version-name',
        '1.0.0',
      );
      await fails(
        'ValidationException',
        'iot',
        'create-package-version',
        '--package-name',
        'cli-fw',
        '--version-name',
        'bad version!',
      );
      await ok(
        'iot',
        'update-package-version',
        '--package-name',
        'cli-fw',
        '--version-name',
        '1.0.0',
        '--action',
        'PUBLISH',
      );
      const version = await ok(
        'iot',
        'get-package-version',
        '--package-name',
        'cli-fw',
        '--version-name',
        '1.0.0',
      );
      assert.equal(version.status, 'PUBLISHED');
      await fails(
        'ConflictException',
        'iot',
        'update-package-version',
        '--package-name',
        'cli-fw',
        '--version-name',
        '1.0.0',
        '--attributes',
        'channel=stable',
      );
      await ok('iot', 'create-package-version', '--package-name', 'cli-fw', '--version-name', '1.1.0');
      const published = await ok(
        'iot',
        'list-package-versions',
        '--package-name',
        'cli-fw',
        '--status',
        'PUBLISHED',
      );
      assert.deepEqual(
        (published.packageVersionSummaries as { versionName: string }[]).map((v) => v.versionName),
        ['1.0.0'],
      );
      await ok('iot', 'update-package', '--package-name', 'cli-fw', '--default-version-name', '1.0.0');
      assert.equal((await ok('iot', 'get-package', '--package-name', 'cli-fw')).defaultVersionName, '1.0.0');
      await ok('iot', 'update-package-configuration', '--version-update-by-jobs-config', 'enabled=true');
      const config = await ok('iot', 'get-package-configuration');
      assert.deepEqual(config.versionUpdateByJobsConfig, { enabled: true });
    });

    test('README: iot-data update-thing-shadow (named shadow $package, to an outfile)', async (t) => {
      if (!needs(t, 'create-package-version')) return;
      const outfile = join(tmp, 'shadow.json');
      // CLI v2 base64-decodes blobs unless told otherwise; v1 has no such option and sends them raw.
      const binaryFormat = cliMajor! >= 2 ? ['--cli-binary-format', 'raw-in-base64-out'] : [];
      const out = await guarded(
        t,
        'iot-data',
        'update-thing-shadow',
        '--thing-name',
        'sensor-1',
        '--shadow-name',
        '$package',
        ...binaryFormat,
        '--payload',
        '{"state":{"reported":{"samplePackage":{"version":"2.1.5"}}}}',
        outfile,
      );
      if (!out) return;
      const doc = JSON.parse(readFileSync(outfile, 'utf8')) as {
        state: { reported: { samplePackage: { version: string } } };
        metadata: { reported: { samplePackage: { version: { timestamp: number } } } };
        version: number;
        timestamp: number;
      };
      assert.equal(doc.state.reported.samplePackage.version, '2.1.5');
      assert.equal(typeof doc.metadata.reported.samplePackage.version.timestamp, 'number');
      assert.equal(doc.version, 1);
      assert.equal(typeof doc.timestamp, 'number');
      done.add('update-thing-shadow');
    });

    test('README: iot search-index over shadow and attributes', async (t) => {
      if (!needs(t, 'update-thing-shadow')) return;
      const out = (await guarded(
        t,
        'iot',
        'search-index',
        '--query-string',
        'shadow.name.$package.reported.samplePackage.version:2.1.5 AND attributes.model:t1*',
      )) as { things?: { thingName: string }[] } | undefined;
      if (!out) return;
      assert.deepEqual(
        out.things?.map((thing) => thing.thingName),
        ['sensor-1'],
      );
    });

    test('README: iot create-dynamic-thing-group and list-things-in-thing-group', async (t) => {
      if (!needs(t, 'update-thing-shadow')) return;
      const created = await guarded(
        t,
        'iot',
        'create-dynamic-thing-group',
        '--thing-group-name',
        'on-215',
        '--query-string',
        'shadow.name.$package.reported.samplePackage.version:2.1.5',
      );
      if (!created) return;
      assert.equal(created.thingGroupName, 'on-215');
      const listed = await guarded(t, 'iot', 'list-things-in-thing-group', '--thing-group-name', 'on-215');
      if (!listed) return;
      assert.deepEqual(listed.things, ['sensor-1']);
      done.add('create-dynamic-thing-group');
    });

    test('README: a job rolls out samplePackage 2.2.0 (seed 000 flow)', async (t) => {
      if (!needs(t, 'create-package-version', 'create-dynamic-thing-group')) return;
      const arn = 'arn:aws:iot:us-east-1:123456789012';
      await ok(
        'iot',
        'create-package-version',
        '--package-name',
        'samplePackage',
        '--version-name',
        '2.2.0',
        '--attributes',
        's3URL=https://example.com/fw-2.2.0.bin,checksum=abc123',
      );
      await ok(
        'iot',
        'update-package-version',
        '--package-name',
        'samplePackage',
        '--version-name',
        '2.2.0',
        '--action',
        'PUBLISH',
      );
      await ok('iot', 'update-package-configuration', '--version-update-by-jobs-config', 'enabled=true');
      const doc = join(tmp, 'job.json');
      writeFileSync(
        doc,
        '{"samplePackage": {"url": "${aws:iot:package:samplePackage:version:2.2.0:attributes:s3URL}",\n' +
          '                   "checksum": "${aws:iot:package:samplePackage:version:2.2.0:attributes:checksum}"}}\n',
      );
      await ok(
        'iot',
        'create-job',
        '--job-id',
        'update-220',
        '--document',
        `file://${doc}`,
        '--targets',
        `${arn}:thing/sensor-1`,
        '--destination-package-versions',
        `${arn}:package/samplePackage/version/2.2.0`,
      );
      const started = (await ok(
        'iot-jobs-data',
        'start-next-pending-job-execution',
        '--thing-name',
        'sensor-1',
      )) as {
        execution: { jobId: string; versionNumber: number; jobDocument: string };
      };
      assert.equal(started.execution.jobId, 'update-220');
      assert.equal(started.execution.versionNumber, 2);
      assert.deepEqual(JSON.parse(started.execution.jobDocument), {
        samplePackage: { url: 'https://example.com/fw-2.2.0.bin', checksum: 'abc123' },
      });
      await fails(
        'VersionConflictException',
        'iot-jobs-data',
        'update-job-execution',
        '--thing-name',
        'sensor-1',
        '--job-id',
        'update-220',
        '--status',
        'SUCCEEDED',
        '--expected-version',
        '1',
      );
      await ok(
        'iot-jobs-data',
        'update-job-execution',
        '--thing-name',
        'sensor-1',
        '--job-id',
        'update-220',
        '--status',
        'SUCCEEDED',
        '--expected-version',
        '2',
      );
      const job = (await ok('iot', 'describe-job', '--job-id', 'update-220')) as {
        job: { status: string; jobProcessDetails: { numberOfSucceededThings: number } };
      };
      assert.equal(job.job.status, 'COMPLETED');
      assert.equal(job.job.jobProcessDetails.numberOfSucceededThings, 1);
      const outfile = join(tmp, 'package-shadow.json');
      await ok(
        'iot-data',
        'get-thing-shadow',
        '--thing-name',
        'sensor-1',
        '--shadow-name',
        '$package',
        outfile,
      );
      const shadow = JSON.parse(readFileSync(outfile, 'utf8')) as { state: { reported: unknown } };
      assert.deepEqual(shadow.state.reported, { samplePackage: { version: '2.2.0' } });
    });

    test('docs/device-identity.md: bring your own CA (register-ca-certificate, register-certificate)', async () => {
      const ca = await makeCa('CN=CLI CA');
      const file = (name: string, text: string) => {
        writeFileSync(join(tmp, name), text);
        return `file://${join(tmp, name)}`;
      };
      const { registrationCode } = (await ok('iot', 'get-registration-code')) as { registrationCode: string };
      const registered = (await ok(
        'iot',
        'register-ca-certificate',
        '--ca-certificate',
        file('ca.pem', ca.pem),
        '--verification-certificate',
        file('verification.pem', await makeVerificationCert(ca, registrationCode)),
        '--set-as-active',
      )) as { certificateId: string };
      const described = (await ok(
        'iot',
        'describe-ca-certificate',
        '--certificate-id',
        registered.certificateId,
      )) as { certificateDescription: { status: string } };
      assert.equal(described.certificateDescription.status, 'ACTIVE');
      const listed = (await ok('iot', 'list-ca-certificates')) as {
        certificates: { certificateId: string }[];
      };
      assert.ok(listed.certificates.some((c) => c.certificateId === registered.certificateId));
      const device = (await ok(
        'iot',
        'register-certificate',
        '--certificate-pem',
        file('device.pem', await makeDeviceCert(ca)),
        '--ca-certificate-pem',
        file('ca.pem', ca.pem),
      )) as { certificateId: string };
      const byCa = (await ok(
        'iot',
        'list-certificates-by-ca',
        '--ca-certificate-id',
        registered.certificateId,
      )) as { certificates: { certificateId: string }[] };
      assert.deepEqual(
        byCa.certificates.map((c) => c.certificateId),
        [device.certificateId],
      );
      await ok(
        'iot',
        'update-ca-certificate',
        '--certificate-id',
        registered.certificateId,
        '--new-status',
        'INACTIVE',
      );
      await fails(
        'CertificateStateException',
        'iot',
        'delete-ca-certificate',
        '--certificate-id',
        registered.certificateId,
      );
      await ok('iot', 'delete-certificate', '--certificate-id', device.certificateId);
      await ok('iot', 'delete-ca-certificate', '--certificate-id', registered.certificateId);
    });
  });
}
