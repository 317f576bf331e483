/**
 * The signing key registry over real HTTP, signed with the AWS SDK's SigV4 signer, on every
 * storage backend.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Sha256 } from '@aws-crypto/sha256-js';
import { generateSigningKey } from '@otter/core';
import { SignatureV4 } from '@smithy/signature-v4';
import { BACKENDS, startTestServer, type TestServer } from '../testing/test-server.js';

interface Reply {
  status: number;
  type: string | null;
  body: Record<string, unknown>;
}

async function call(
  server: TestServer,
  method: string,
  path: string,
  body?: unknown,
  opts: { secret?: string; unsigned?: boolean; raw?: string } = {},
): Promise<Reply> {
  const url = new URL(server.server.url + path);
  const query = Object.fromEntries(url.searchParams);
  const payload = opts.raw ?? (body === undefined ? undefined : JSON.stringify(body));
  const headers: Record<string, string> = { host: url.host };
  if (payload !== undefined) headers['content-type'] = 'application/json';
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: server.server.accessKeyId,
      secretAccessKey: opts.secret ?? server.server.secretAccessKey,
    },
    region: server.region,
    service: 'otter',
    sha256: Sha256,
  });
  const signed = opts.unsigned
    ? { headers }
    : await signer.sign({
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        port: Number(url.port),
        path: url.pathname,
        query,
        headers,
        ...(payload === undefined ? {} : { body: payload }),
      });
  const { host: _host, ...send } = signed.headers;
  const res = await fetch(url, {
    method,
    headers: send,
    ...(payload === undefined ? {} : { body: payload }),
  });
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get('x-amzn-errortype'),
    body: text ? JSON.parse(text) : {},
  };
}

const expectError = (reply: Reply, status: number, type: string, message?: RegExp) => {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
  assert.equal(reply.type, type);
  assert.equal(reply.body.__type, type);
  if (message) assert.match(String(reply.body.message), message);
};

for (const backend of BACKENDS) {
  describe(`native signing key registry (${backend.name})`, { skip: backend.skip }, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(backend.name);
    });
    after(() => server?.close());

    test('register: 201, the same key again 200, another key under the name 409', async () => {
      const key = generateSigningKey('ED25519');
      const created = await call(server, 'PUT', '/v1/signing-keys/release', {
        publicKeyPem: key.publicKeyPem,
      });
      assert.equal(created.status, 201);
      assert.equal(created.body.name, 'release');
      assert.equal(created.body.keyId, key.keyId);
      assert.equal(created.body.algorithm, 'ED25519');
      assert.equal(typeof created.body.createdAt, 'number');
      assert.equal(created.body.publicKeyPem, undefined);

      const again = await call(server, 'PUT', '/v1/signing-keys/release', {
        publicKeyPem: key.publicKeyPem,
        algorithm: 'ED25519',
      });
      assert.equal(again.status, 200);
      assert.deepEqual(again.body, created.body);

      const other = generateSigningKey('ECDSA_P256_SHA256');
      expectError(
        await call(server, 'PUT', '/v1/signing-keys/release', { publicKeyPem: other.publicKeyPem }),
        409,
        'ResourceAlreadyExistsException',
        /already exists with another key/,
      );
      expectError(
        await call(server, 'PUT', '/v1/signing-keys/alias', { publicKeyPem: key.publicKeyPem }),
        409,
        'ResourceAlreadyExistsException',
        /already registered as release/,
      );
      const got = await call(server, 'GET', '/v1/signing-keys/release');
      assert.equal(got.status, 200);
      assert.equal(got.body.keyId, key.keyId);
      assert.equal(got.body.publicKeyPem, key.publicKeyPem);
      expectError(await call(server, 'GET', '/v1/signing-keys/alias'), 404, 'ResourceNotFoundException');
    });

    test('bad input: InvalidRequestException and nothing stored; a private key is never stored', async () => {
      const key = generateSigningKey('ECDSA_P256_SHA256');
      const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
      const cases: [string, unknown, RegExp, string?][] = [
        ['private', { publicKeyPem: key.privateKeyPem }, /private key/],
        ['garbage', { publicKeyPem: 'not a key' }, /not PEM/],
        ['rsa', { publicKeyPem: rsa.export({ type: 'spki', format: 'pem' }) }, /RSA keys are not supported/],
        ['missing', {}, /publicKeyPem .* is required/],
        ['number', { publicKeyPem: 7 }, /publicKeyPem/],
        ['extra', { publicKeyPem: key.publicKeyPem, privateKeyPem: key.privateKeyPem }, /Unknown member/],
        ['mismatch', { publicKeyPem: key.publicKeyPem, algorithm: 'ED25519' }, /does not match the key/],
        ['badalg', { publicKeyPem: key.publicKeyPem, algorithm: 'RSA' }, /algorithm must be one of/],
        ['array', [key.publicKeyPem], /JSON object/],
        ['notjson', undefined, /must be JSON/, '{"publicKeyPem": '],
      ];
      for (const [name, body, message, raw] of cases) {
        const reply = await call(server, 'PUT', `/v1/signing-keys/bad-${name}`, body, raw ? { raw } : {});
        expectError(reply, 400, 'InvalidRequestException', message);
        expectError(
          await call(server, 'GET', `/v1/signing-keys/bad-${name}`),
          404,
          'ResourceNotFoundException',
        );
      }
      for (const name of ['a%20b', 'x'.repeat(65), 'a%2Fb', '%C3%A9t%C3%A9', 'a:b']) {
        expectError(
          await call(server, 'PUT', `/v1/signing-keys/${name}`, { publicKeyPem: key.publicKeyPem }),
          400,
          'InvalidRequestException',
          /Invalid signing key name/,
        );
      }
      const list = await call(server, 'GET', '/v1/signing-keys');
      const names = (list.body.signingKeys as { name: string }[]).map((k) => k.name);
      assert.ok(!names.some((n) => n.startsWith('bad-')), names.join());
    });

    test('list pages by name; delete 204 then 404', async () => {
      for (const name of ['list-c', 'list-a', 'list-b']) {
        const { publicKeyPem } = generateSigningKey('ED25519');
        assert.equal((await call(server, 'PUT', `/v1/signing-keys/${name}`, { publicKeyPem })).status, 201);
      }
      const seen: string[] = [];
      let token: string | undefined;
      do {
        const q = token === undefined ? '' : `&nextToken=${token}`;
        const page = await call(server, 'GET', `/v1/signing-keys?maxResults=1${q}`);
        assert.equal(page.status, 200);
        assert.equal((page.body.signingKeys as unknown[]).length, 1);
        seen.push(...(page.body.signingKeys as { name: string }[]).map((k) => k.name));
        token = page.body.nextToken as string | undefined;
      } while (token !== undefined);
      const listed = seen.filter((n) => n.startsWith('list-'));
      assert.deepEqual(listed, ['list-a', 'list-b', 'list-c']);
      expectError(
        await call(server, 'GET', '/v1/signing-keys?maxResults=0'),
        400,
        'InvalidRequestException',
        /maxResults/,
      );

      const del = await call(server, 'DELETE', '/v1/signing-keys/list-b');
      assert.equal(del.status, 204);
      expectError(await call(server, 'DELETE', '/v1/signing-keys/list-b'), 404, 'ResourceNotFoundException');
      expectError(await call(server, 'GET', '/v1/signing-keys/list-b'), 404, 'ResourceNotFoundException');
    });

    test('unsigned or wrongly signed requests are refused and change nothing', async () => {
      const { publicKeyPem } = generateSigningKey('ED25519');
      expectError(
        await call(server, 'PUT', '/v1/signing-keys/anon', { publicKeyPem }, { unsigned: true }),
        403,
        'MissingAuthenticationTokenException',
      );
      expectError(
        await call(server, 'PUT', '/v1/signing-keys/anon', { publicKeyPem }, { secret: 'wrong' }),
        403,
        'InvalidSignatureException',
      );
      expectError(
        await call(server, 'GET', '/v1/signing-keys', undefined, { unsigned: true }),
        403,
        'MissingAuthenticationTokenException',
      );
      expectError(await call(server, 'GET', '/v1/signing-keys/anon'), 404, 'ResourceNotFoundException');
    });
  });
}
