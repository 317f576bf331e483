/**
 * `otter package` run in-process through main() against a real server, with real files, a temporary
 * keys folder and AWS credentials in the environment, as a user would run it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  GetPackageVersionCommand,
  ListPackageVersionsCommand,
  UpdatePackageVersionCommand,
} from '@aws-sdk/client-iot';
import { verifyDigestSignature } from '@otter/core';
import { startTestServer, type TestServer } from '../../../server/src/testing/test-server.js';
import { otter } from '../testing/run-otter.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('otter package', () => {
  let s: TestServer;
  let root: string;
  let fw1: string;
  let fw2: string;
  const content1 = Buffer.from('firmware 1.0.0\n'.repeat(50_000));
  const content2 = Buffer.from('firmware 2.0.0\n'.repeat(60_000));
  const savedEnv = { ...process.env };

  before(async () => {
    s = await startTestServer('sqlite', 'eu-central-1');
    root = mkdtempSync(join(tmpdir(), 'otter-cli-package-'));
    fw1 = join(root, 'fw-1.bin');
    fw2 = join(root, 'fw-2.bin');
    writeFileSync(fw1, content1);
    writeFileSync(fw2, content2);
    for (const k of ['AWS_PROFILE', 'AWS_DEFAULT_REGION', 'AWS_SESSION_TOKEN', 'OTTER_ARTIFACT_BUCKET'])
      delete process.env[k];
    Object.assign(process.env, {
      OTTER_KEYS_DIR: join(root, 'keys'),
      OTTER_ENDPOINT: s.server.url,
      AWS_ACCESS_KEY_ID: s.server.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s.server.secretAccessKey,
      AWS_REGION: 'eu-central-1',
      AWS_CONFIG_FILE: join(root, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(root, 'no-aws-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    assert.equal((await otter(['keys', 'generate', 'release'])).code, 0);
  });
  after(async () => {
    process.env = savedEnv;
    await s?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const version = (packageName: string, versionName: string) =>
    s.iot.send(new GetPackageVersionCommand({ packageName, versionName }));

  test('push unsigned: creates the package and a DRAFT version with the artifact', async () => {
    const run = await otter([
      'package',
      'push',
      fw1,
      '--package',
      'fw',
      '--version',
      '1.0.0',
      '--attr',
      'channel=beta',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const digest = sha256(content1);
    assert.match(run.stdout, /^created package fw$/m);
    assert.match(run.stdout, /^created version fw 1\.0\.0 \(DRAFT\)$/m);
    assert.match(run.stdout, /^status:\s+DRAFT$/m);
    assert.match(run.stdout, new RegExp(`^sha256:\\s+${digest}$`, 'm'));
    assert.match(run.stdout, /^artifact:\s+fw\/1\.0\.0\/fw-1\.bin \(bucket otter\)$/m);
    // Not a terminal: no bar, one final line.
    assert.match(run.stderr, /^uploading fw-1\.bin: 7[\d.]+ KiB in [\d.]+s \(.*\/s\)\n$/);
    const v = await version('fw', '1.0.0');
    assert.equal(v.status, 'DRAFT');
    assert.deepEqual(v.artifact, { s3Location: { bucket: 'otter', key: 'fw/1.0.0/fw-1.bin' } });
    assert.deepEqual(v.attributes, {
      channel: 'beta',
      location: `${s.server.url}/v1/artifacts/fw/1.0.0/fw-1.bin`,
      size: String(content1.length),
      sha256: digest,
    });
    // The artifact is really there, byte for byte.
    const a = await s.server.artifacts.get('fw/1.0.0/fw-1.bin');
    assert.equal(a.sha256, digest);
  });

  test('re-push to a DRAFT: same file uploads nothing; another file replaces the draft artifact', async () => {
    const same = await otter(['package', 'push', fw1, '--package', 'fw', '--version', '1.0.0']);
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /already holds this file/);
    assert.equal(same.stderr, '');
    assert.match(same.stdout, /^updated draft fw 1\.0\.0$/m);
    // Attributes given earlier with --attr stay.
    assert.equal((await version('fw', '1.0.0')).attributes?.channel, 'beta');

    const other = await otter([
      'package',
      'push',
      fw2,
      '--package',
      'fw',
      '--version',
      '1.0.0',
      '--artifact-name',
      'fw/1.0.0/fw-1.bin',
      '--description',
      'second try',
    ]);
    assert.equal(other.code, 0, other.stderr);
    assert.match(other.stdout, /replacing artifact fw\/1\.0\.0\/fw-1\.bin of draft fw 1\.0\.0/);
    const v = await version('fw', '1.0.0');
    assert.equal(v.status, 'DRAFT');
    assert.equal(v.description, 'second try');
    assert.equal(v.attributes?.sha256, sha256(content2));
    assert.equal(v.attributes?.size, String(content2.length));
    assert.equal((await s.server.artifacts.get('fw/1.0.0/fw-1.bin')).sha256, sha256(content2));
  });

  test('push signed + publish: the signature verifies and the server publishes', async () => {
    const run = await otter([
      'package',
      'push',
      fw2,
      '--package',
      'fw',
      '--version',
      '2.0.0',
      '--sign',
      'release',
      '--publish',
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^status:\s+PUBLISHED$/m);
    assert.match(run.stdout, /^signed:\s+by release \(ED25519, keyId [0-9a-f]{32}\)$/m);
    const v = await version('fw', '2.0.0');
    assert.equal(v.status, 'PUBLISHED');
    const attrs = v.attributes!;
    assert.equal(attrs.signatureAlgorithm, 'ED25519');
    const pub = (await import('node:fs')).readFileSync(join(root, 'keys', 'release.pub.pem'), 'utf8');
    assert.equal(
      verifyDigestSignature({
        algorithm: 'ED25519',
        publicKeyPem: pub,
        digest: sha256(content2),
        signature: attrs.signature!,
      }),
      true,
    );
  });

  test('push to a PUBLISHED version is refused before anything is uploaded', async () => {
    const run = await otter([
      'package',
      'push',
      fw1,
      '--package',
      'fw',
      '--version',
      '2.0.0',
      '--artifact-name',
      'fw/never-uploaded.bin',
    ]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^otter: fw 2\.0\.0 is PUBLISHED: a published version cannot change/);
    await assert.rejects(s.server.artifacts.get('fw/never-uploaded.bin'), /does not exist/);
  });

  test('another file under a name that is not this draft’s artifact is refused, nothing uploaded', async () => {
    const run = await otter([
      'package',
      'push',
      fw1,
      '--package',
      'fw',
      '--version',
      '3.0.0',
      '--artifact-name',
      'fw/2.0.0/fw-2.bin',
    ]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /artifact fw\/2\.0\.0\/fw-2\.bin already holds other content/);
    await assert.rejects(version('fw', '3.0.0'), /cannot be found/);
    assert.equal((await s.server.artifacts.get('fw/2.0.0/fw-2.bin')).sha256, sha256(content2));
  });

  test('bad input: usage errors exit 2, a missing file or key exits 1; nothing created', async () => {
    const cases: [string[], number, RegExp][] = [
      [
        ['package', 'push', fw1, '--package', 'bad', '--version', '1', '--attr', 'novalue'],
        2,
        /invalid --attr "novalue"/,
      ],
      [
        ['package', 'push', fw1, '--package', 'bad', '--version', '1', '--attr', 'k='],
        2,
        /invalid --attr "k="/,
      ],
      [
        ['package', 'push', fw1, '--package', 'bad', '--version', '1', '--attr', 'a b=1'],
        2,
        /invalid --attr/,
      ],
      [
        ['package', 'push', fw1, '--package', 'bad', '--version', '1', '--attr', 'k=a\u0007b'],
        2,
        /invalid --attr/,
      ],
      [
        ['package', 'push', fw1, '--package', 'bad', '--version', '1', '--attr', 'sha256=00'],
        2,
        /sets sha256 itself/,
      ],
      [['package', 'push', fw1, '--package', 'bad'], 2, /needs --package NAME and --version VERSION/],
      [['package', 'push', fw1, '--package', 'b/d', '--version', '1'], 2, /invalid package name "b\/d"/],
      [
        ['package', 'push', fw1, '--package', 'bad', '--version', '1', '--artifact-name', '../x'],
        2,
        /invalid artifact name/,
      ],
      [['package', 'push', '--package', 'bad', '--version', '1'], 2, /usage: otter package push FILE/],
      [
        ['package', 'push', join(root, 'missing.bin'), '--package', 'bad', '--version', '1'],
        1,
        /cannot read .*missing\.bin: no such file/,
      ],
      [['package', 'push', root, '--package', 'bad', '--version', '1'], 1, /not a regular file/],
      [
        ['package', 'push', fw1, '--package', 'bad', '--version', '1', '--sign', 'nokey'],
        1,
        /no key named nokey/,
      ],
      [['package', 'ls', '--status', 'GONE', 'fw'], 2, /invalid --status 'GONE'/],
      [['package', 'ls', '--status', 'DRAFT'], 2, /filters the versions of one package/],
      [['package', 'show', 'fw'], 2, /usage: otter package show PACKAGE VERSION/],
      [['package', 'ls', '--publish'], 2, /--publish does not apply to 'package ls'/],
      [['package', 'frob'], 2, /unknown subcommand 'package frob'/],
      [['package', 'show', 'fw', '9.9.9'], 1, /ResourceNotFoundException: .*9\.9\.9/],
    ];
    for (const [args, code, message] of cases) {
      const run = await otter(args);
      assert.equal(run.code, code, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message, args.join(' '));
      assert.match(run.stderr, /^otter: /);
    }
    const ls = await otter(['package', 'ls', '--json']);
    assert.deepEqual(
      (JSON.parse(ls.stdout) as { packageName: string }[]).map((p) => p.packageName),
      ['fw'],
    );
  });

  test('ls and show: tables, and --json for machines', async () => {
    const pkgs = await otter(['package', 'ls']);
    assert.equal(pkgs.code, 0, pkgs.stderr);
    assert.match(pkgs.stdout, /^PACKAGE\s+DEFAULT VERSION\s+CREATED\s+MODIFIED\n/);
    assert.match(pkgs.stdout, /^fw\s+-\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+\d{4}-/m);

    const versions = await otter(['package', 'ls', 'fw']);
    assert.match(versions.stdout, /^VERSION\s+STATUS\s+CREATED\s+MODIFIED\n/);
    assert.match(versions.stdout, /^1\.0\.0\s+DRAFT\s/m);
    assert.match(versions.stdout, /^2\.0\.0\s+PUBLISHED\s/m);
    const published = await otter(['package', 'ls', 'fw', '--status', 'published', '--json']);
    const rows = JSON.parse(published.stdout) as { versionName: string; status: string }[];
    assert.deepEqual(
      rows.map((r) => [r.versionName, r.status]),
      [['2.0.0', 'PUBLISHED']],
    );
    const none = await otter(['package', 'ls', 'fw', '--status', 'DEPRECATED']);
    assert.equal(none.stdout, 'no DEPRECATED versions of fw\n');

    const show = await otter(['package', 'show', 'fw', '2.0.0']);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /^status:\s+PUBLISHED$/m);
    assert.match(show.stdout, /^artifact:\s+fw\/2\.0\.0\/fw-2\.bin \(bucket otter\)$/m);
    assert.match(show.stdout, /^attributes:\n(?:\s+\S+\s+\S+\n)+$/m);
    assert.match(show.stdout, new RegExp(`^ {2}sha256 +${sha256(content2)}$`, 'm'));
    const json = JSON.parse((await otter(['package', 'show', 'fw', '2.0.0', '--json'])).stdout) as Record<
      string,
      unknown
    >;
    assert.equal(json.status, 'PUBLISHED');
    assert.equal(json.$metadata, undefined);
    assert.match(String(json.creationDate), /^\d{4}-\d\d-\d\dT/);
  });

  test('a tampered signature attribute is refused at publish by the server', async () => {
    const run = await otter([
      'package',
      'push',
      fw1,
      '--package',
      'fw',
      '--version',
      '3.0.0',
      '--sign',
      'release',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const v = await version('fw', '3.0.0');
    const sig = Buffer.from(v.attributes!.signature!, 'base64');
    sig[0]! ^= 0x80;
    await s.iot.send(
      new UpdatePackageVersionCommand({
        packageName: 'fw',
        versionName: '3.0.0',
        attributes: { ...v.attributes, signature: sig.toString('base64') },
      }),
    );
    await assert.rejects(
      s.iot.send(
        new UpdatePackageVersionCommand({ packageName: 'fw', versionName: '3.0.0', action: 'PUBLISH' }),
      ),
      (e: Error) => e.name === 'ValidationException' && /is not a valid ED25519 signature/.test(e.message),
    );
    assert.equal((await version('fw', '3.0.0')).status, 'DRAFT');
    // And through the CLI: re-pushing with --publish signs afresh, and the server accepts it.
    const again = await otter([
      'package',
      'push',
      fw1,
      '--package',
      'fw',
      '--version',
      '3.0.0',
      '--sign',
      'release',
      '--publish',
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await version('fw', '3.0.0')).status, 'PUBLISHED');
  });

  test('--publish refused by the server: the version stays DRAFT and the error says why', async () => {
    const run = await otter([
      'package',
      'push',
      fw1,
      '--package',
      'fw',
      '--version',
      '4.0.0',
      '--bucket',
      'elsewhere',
      '--publish',
    ]);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /^otter: fw 4\.0\.0 stays DRAFT: publishing failed: ValidationException: .*bucket "elsewhere" is not Otter's artifact bucket/m,
    );
    const list = await s.iot.send(new ListPackageVersionsCommand({ packageName: 'fw', status: 'DRAFT' }));
    assert.ok(list.packageVersionSummaries?.some((x) => x.versionName === '4.0.0'));
  });
});
