/**
 * `otter keys` run in-process through main() against a real server, with a temporary keys folder
 * and AWS credentials in the environment, as a user would run it.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parsePrivateKey, signDigest, verifyDigestSignature } from '@otter/core';
import { startTestServer, type TestServer } from '../../../server/src/testing/test-server.js';
import { otter } from '../testing/run-otter.js';

/** A local port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const mode = (file: string) => statSync(file).mode & 0o777;

describe('otter keys', () => {
  let server: TestServer;
  let root: string;
  let keysDir: string;
  const savedEnv = { ...process.env };

  before(async () => {
    server = await startTestServer('sqlite', 'eu-central-1');
    root = mkdtempSync(join(tmpdir(), 'otter-cli-keys-'));
    keysDir = join(root, 'keys');
    // The CLI resolves everything like the AWS CLI: from the environment.
    for (const k of ['AWS_PROFILE', 'AWS_DEFAULT_REGION', 'AWS_SESSION_TOKEN']) delete process.env[k];
    Object.assign(process.env, {
      OTTER_KEYS_DIR: keysDir,
      OTTER_ENDPOINT: server.server.url,
      AWS_ACCESS_KEY_ID: server.server.accessKeyId,
      AWS_SECRET_ACCESS_KEY: server.server.secretAccessKey,
      AWS_REGION: 'eu-central-1',
      AWS_CONFIG_FILE: join(root, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(root, 'no-aws-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
    });
  });
  after(async () => {
    process.env = savedEnv;
    await server?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('generate: Ed25519 by default, files 0600/0700, registered with the server', async () => {
    const run = await otter(['keys', 'generate', 'release']);
    assert.equal(run.code, 0, run.stderr);
    const priv = join(keysDir, 'release.key.pem');
    const pub = join(keysDir, 'release.pub.pem');
    assert.equal(mode(keysDir), 0o700);
    assert.equal(mode(priv), 0o600);
    const key = parsePrivateKey(readFileSync(priv, 'utf8'));
    assert.equal(key.algorithm, 'ED25519');
    assert.equal(readFileSync(pub, 'utf8'), key.publicKeyPem);
    assert.match(run.stdout, new RegExp(`generated ED25519 key release \\(keyId ${key.keyId}\\)`));
    assert.match(
      run.stdout,
      new RegExp(`registered release \\(keyId ${key.keyId}\\) with ${server.server.url}`),
    );
  });

  test('generate refuses to overwrite a key, and leaves it as it was', async () => {
    const before = readFileSync(join(keysDir, 'release.key.pem'), 'utf8');
    const run = await otter(['keys', 'generate', 'release', '--algorithm', 'p256']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^otter: a key named release already exists/);
    assert.equal(readFileSync(join(keysDir, 'release.key.pem'), 'utf8'), before);
  });

  test('generate --algorithm p256 --no-register, then register (twice: idempotent)', async () => {
    const gen = await otter(['keys', 'generate', 'edge', '--algorithm', 'p256', '--no-register']);
    assert.equal(gen.code, 0, gen.stderr);
    assert.match(gen.stdout, /generated ECDSA_P256_SHA256 key edge/);
    assert.doesNotMatch(gen.stdout, /registered/);
    let list = await otter(['keys', 'list']);
    assert.match(list.stdout, /^edge\s+ECDSA_P256_SHA256\s+[0-9a-f]{32}\s+yes\s+no$/m);
    const reg = await otter(['keys', 'register', 'edge']);
    assert.equal(reg.code, 0, reg.stderr);
    assert.match(reg.stdout, /^registered edge/);
    const again = await otter(['keys', 'register', 'edge']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /was already registered/);
    list = await otter(['keys', 'list']);
    assert.match(list.stdout, /^edge\s+ECDSA_P256_SHA256\s+[0-9a-f]{32}\s+yes\s+yes$/m);
  });

  test('import: a private key (SEC1 normalized to PKCS#8), a public key with --public', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const sec1 = join(root, 'sec1.pem');
    writeFileSync(sec1, ec.privateKey.export({ type: 'sec1', format: 'pem' }));
    const run = await otter(['keys', 'import', 'imported', sec1, '--no-register']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /imported ECDSA_P256_SHA256 key pair imported/);
    const priv = readFileSync(join(keysDir, 'imported.key.pem'), 'utf8');
    assert.match(priv, /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(mode(join(keysDir, 'imported.key.pem')), 0o600);

    const pubFile = join(root, 'vendor.pub.pem');
    writeFileSync(pubFile, ec.publicKey.export({ type: 'spki', format: 'pem' }));
    const noFlag = await otter(['keys', 'import', 'vendor', pubFile]);
    assert.equal(noFlag.code, 1);
    assert.match(noFlag.stderr, /holds a public key; add --public/);
    assert.equal(existsSync(join(keysDir, 'vendor.pub.pem')), false);

    const other = generateKeyPairSync('ed25519');
    writeFileSync(pubFile, other.publicKey.export({ type: 'spki', format: 'pem' }));
    const pub = await otter(['keys', 'import', 'vendor', pubFile, '--public']);
    assert.equal(pub.code, 0, pub.stderr);
    assert.match(pub.stdout, /imported ED25519 public key \(verification only\) vendor/);
    assert.match(pub.stdout, /registered vendor/);
    assert.equal(existsSync(join(keysDir, 'vendor.key.pem')), false);
    const list = await otter(['keys', 'list']);
    assert.match(list.stdout, /^vendor\s+ED25519\s+[0-9a-f]{32}\s+no\s+yes$/m);
  });

  test('bad input: PEM, files, names, algorithms, usage; nothing written', async () => {
    const garbage = join(root, 'garbage.pem');
    writeFileSync(garbage, 'hello\n');
    const rsa = join(root, 'rsa.pem');
    writeFileSync(
      rsa,
      generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
    );
    const cases: [string[], number, RegExp][] = [
      [['keys', 'import', 'g', garbage], 1, /garbage\.pem: The private key is not PEM/],
      [['keys', 'import', 'g', rsa], 1, /RSA keys are not supported/],
      [['keys', 'import', 'g', join(root, 'missing.pem')], 1, /cannot read .*missing\.pem/],
      [['keys', 'generate', 'bad/name'], 2, /invalid key name "bad\/name"/],
      [['keys', 'generate', '..'], 2, /invalid key name/],
      [['keys', 'generate', 'g', '--algorithm', 'rsa'], 2, /unknown algorithm 'rsa'/],
      [['keys', 'generate'], 2, /usage: otter keys generate NAME/],
      [['keys', 'list', '--public'], 2, /--public does not apply/],
      [['keys', 'frobnicate'], 2, /unknown subcommand 'keys frobnicate'/],
      [['keys', 'generate', 'g', '--bogus'], 2, /Unknown option '--bogus'/],
      [['keys', 'register', 'nokey'], 1, /no key named nokey/],
    ];
    for (const [args, code, message] of cases) {
      const run = await otter(args);
      assert.equal(run.code, code, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message, args.join(' '));
      assert.match(run.stderr, /^otter: /);
    }
    assert.equal(existsSync(join(keysDir, 'g.key.pem')) || existsSync(join(keysDir, 'g.pub.pem')), false);
  });

  test('server errors print otter: <Type>: <message> and exit 1', async () => {
    // Another machine registered a different key as "shared" first.
    const elsewhere = join(root, 'elsewhere');
    assert.equal((await otter(['keys', 'generate', 'shared'], { OTTER_KEYS_DIR: elsewhere })).code, 0);
    const mine = await otter(['keys', 'generate', 'shared']);
    assert.equal(mine.code, 1);
    assert.match(
      mine.stderr,
      /saved locally but was not registered: ResourceAlreadyExistsException: Signing key shared/,
    );
    const reg = await otter(['keys', 'register', 'shared']);
    assert.equal(reg.code, 1);
    assert.match(reg.stderr, /^otter: ResourceAlreadyExistsException: Signing key shared already exists/);
    const list = await otter(['keys', 'list']);
    assert.match(list.stdout, /^shared\s+ED25519\s+[0-9a-f]{32}\s+yes\s+other key$/m);

    const badSecret = await otter(['keys', 'register', 'edge'], { AWS_SECRET_ACCESS_KEY: 'wrong' });
    assert.equal(badSecret.code, 1);
    assert.match(badSecret.stderr, /^otter: InvalidSignatureException: The request signature we calculated/);
  });

  test('an unreachable server: generate still saves (with a note), register fails naming the endpoint', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const shown = endpoint.replace(/[.:/]/g, '\\$&');
    const gen = await otter(['keys', 'generate', 'offline'], { OTTER_ENDPOINT: endpoint });
    assert.equal(gen.code, 0, gen.stderr);
    const unreachable = new RegExp(`cannot reach the Otter server at ${shown} \\(connection refused\\)`);
    assert.match(gen.stderr, /^note: not registered with the server: /);
    assert.match(gen.stderr, unreachable);
    assert.ok(existsSync(join(keysDir, 'offline.key.pem')));
    const reg = await otter(['keys', 'register', 'offline', '--endpoint', endpoint]);
    assert.equal(reg.code, 1);
    assert.match(reg.stderr, /^otter: cannot reach/);
    assert.match(reg.stderr, unreachable);
    const list = await otter(['keys', 'list'], { OTTER_ENDPOINT: endpoint });
    assert.equal(list.code, 0);
    assert.match(list.stdout, /^offline\s+ED25519\s+[0-9a-f]{32}\s+yes\s+\?$/m);
    assert.match(list.stderr, /REGISTERED unknown/);
  });

  test('list: every local key in name order; server-only keys after', async () => {
    const run = await otter(['keys', 'list']);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split('\n');
    assert.match(lines[0]!, /^NAME\s+ALGORITHM\s+KEY ID\s+PRIVATE\s+REGISTERED$/);
    const names = lines.slice(1, lines.indexOf('')).map((l) => l.split(/\s+/)[0]);
    assert.deepEqual(names, ['edge', 'imported', 'offline', 'release', 'shared', 'vendor']);
    assert.doesNotMatch(run.stdout, /only:/);
    const other = await otter(['keys', 'list'], { OTTER_KEYS_DIR: join(root, 'elsewhere') });
    assert.match(other.stdout, /registered with .* only:\nNAME\s+ALGORITHM\s+KEY ID\n/);
    assert.match(other.stdout, /^edge\s+ECDSA_P256_SHA256\s+[0-9a-f]{32}$/m);
  });

  test('a generated key signs what the registered public key verifies', async () => {
    const priv = readFileSync(join(keysDir, 'release.key.pem'), 'utf8');
    const pub = readFileSync(join(keysDir, 'release.pub.pem'), 'utf8');
    const sig = signDigest(priv, 'ab'.repeat(32));
    const input = {
      algorithm: sig.algorithm,
      publicKeyPem: pub,
      digest: 'ab'.repeat(32),
      signature: sig.signature,
    };
    assert.equal(verifyDigestSignature(input), true);
  });
});
