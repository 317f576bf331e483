/**
 * The publish check through the real server: artifacts uploaded and keys registered over the native
 * API (SigV4), versions created and published with @aws-sdk/client-iot, on every storage backend.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  CreatePackageCommand,
  CreatePackageVersionCommand,
  GetPackageVersionCommand,
  UpdatePackageVersionCommand,
} from '@aws-sdk/client-iot';
import { generateSigningKey, type PrivateSigningKey, signDigest } from '@otter/core';
import { artifactBucketOf, FS_ARTIFACT_BUCKET } from '../artifacts/artifact-bucket.js';
import { rejectsWith } from '../testing/assertions.js';
import { BACKENDS, startTestServer, type TestServer } from '../testing/test-server.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A SigV4-signed native API request; throws unless 2xx. */
async function nativeCall(s: TestServer, method: string, path: string, body: Buffer, json = false) {
  const res = await s.native(method, path, body, json ? { 'content-type': 'application/json' } : {});
  const text = await res.text();
  assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${text}`);
}

for (const backend of BACKENDS) {
  describe(`publish check (${backend.name})`, { skip: backend.skip }, () => {
    let s: TestServer;
    let key: PrivateSigningKey;
    let unregistered: PrivateSigningKey;
    const firmware = Buffer.from('firmware image 1.0.0\n'.repeat(1000));
    const digest = sha256(firmware);
    const bucket = FS_ARTIFACT_BUCKET;
    const artifact = { s3Location: { bucket, key: 'fw/1.0.0/fw.bin' } };

    before(async () => {
      s = await startTestServer(backend.name);
      key = generateSigningKey('ED25519');
      unregistered = generateSigningKey('ECDSA_P256_SHA256');
      await nativeCall(s, 'PUT', '/v1/artifacts/fw/1.0.0/fw.bin', firmware);
      await nativeCall(
        s,
        'PUT',
        '/v1/signing-keys/release',
        Buffer.from(JSON.stringify({ publicKeyPem: key.publicKeyPem })),
        true,
      );
      await s.iot.send(new CreatePackageCommand({ packageName: 'fw' }));
    });
    after(() => s?.close());

    const signedAttributes = (signer: PrivateSigningKey, over = digest) => {
      const sig = signDigest(signer.privateKeyPem, over);
      return {
        sha256: digest,
        size: String(firmware.length),
        signature: sig.signature,
        signatureAlgorithm: sig.algorithm,
        signingKeyId: sig.keyId,
      };
    };

    /** Creates a draft, expects PUBLISH to fail with `message`, and checks nothing changed. */
    async function refused(
      versionName: string,
      input: { attributes?: Record<string, string>; artifact?: typeof artifact },
      message: RegExp,
    ) {
      await s.iot.send(new CreatePackageVersionCommand({ packageName: 'fw', versionName, ...input }));
      const before = await s.iot.send(new GetPackageVersionCommand({ packageName: 'fw', versionName }));
      await rejectsWith(
        s.iot.send(new UpdatePackageVersionCommand({ packageName: 'fw', versionName, action: 'PUBLISH' })),
        'ValidationException',
        400,
        message,
      );
      const after = await s.iot.send(new GetPackageVersionCommand({ packageName: 'fw', versionName }));
      assert.equal(after.status, 'DRAFT');
      assert.deepEqual(after.attributes, before.attributes);
      assert.equal(after.lastModifiedDate?.getTime(), before.lastModifiedDate?.getTime());
    }

    test('the file system backend names its artifacts with bucket "otter"', () => {
      assert.equal(artifactBucketOf(s.server.artifacts.blobs), 'otter');
    });

    test('good case: artifact present, sha256 and size match, signature verifies → PUBLISHED', async () => {
      await s.iot.send(
        new CreatePackageVersionCommand({
          packageName: 'fw',
          versionName: '1.0.0',
          artifact,
          attributes: signedAttributes(key),
        }),
      );
      await s.iot.send(
        new UpdatePackageVersionCommand({ packageName: 'fw', versionName: '1.0.0', action: 'PUBLISH' }),
      );
      const v = await s.iot.send(new GetPackageVersionCommand({ packageName: 'fw', versionName: '1.0.0' }));
      assert.equal(v.status, 'PUBLISHED');
    });

    test('missing artifact', async () => {
      await refused(
        'missing',
        { artifact: { s3Location: { bucket, key: 'fw/9.9.9/none.bin' } } },
        /artifact fw\/9\.9\.9\/none\.bin does not exist/,
      );
    });

    test('another bucket, or a key that is no artifact name', async () => {
      await refused(
        'bucket',
        { artifact: { s3Location: { bucket: 'firmware', key: 'fw/1.0.0/fw.bin' } } },
        /bucket "firmware" is not Otter's artifact bucket; name the artifact with bucket "otter"/,
      );
      await refused(
        'badkey',
        { artifact: { s3Location: { bucket, key: '../etc/passwd' } } },
        /artifact\.s3Location\.key: Invalid artifact name/,
      );
    });

    test('hash mismatch and size mismatch', async () => {
      await refused(
        'hash',
        { artifact, attributes: { sha256: sha256(Buffer.from('other')) } },
        new RegExp(
          `attribute sha256 .* does not match artifact fw/1\\.0\\.0/fw\\.bin, whose SHA-256 is ${digest}`,
        ),
      );
      await refused(
        'size',
        { artifact, attributes: { sha256: digest.toUpperCase(), size: '12' } },
        new RegExp(`attribute size "12" does not match artifact .* which has ${firmware.length} bytes`),
      );
    });

    test('tampered signature, a signature of other content, an incomplete signature', async () => {
      const tampered = signedAttributes(key);
      const raw = Buffer.from(tampered.signature, 'base64');
      raw[5]! ^= 0x01;
      tampered.signature = raw.toString('base64');
      await refused('tampered', { artifact, attributes: tampered }, /is not a valid ED25519 signature/);
      // Signed some other file, with that file's sha256 in the attributes: the artifact's own digest counts.
      const other = sha256(Buffer.from('evil'));
      await refused(
        'other',
        { artifact, attributes: { ...signedAttributes(key, other), sha256: other } },
        /attribute sha256 .* does not match artifact/,
      );
      const { sha256: _s, ...noSha } = signedAttributes(key, other);
      await refused('other2', { artifact, attributes: noSha }, /is not a valid ED25519 signature/);
      await refused('partial', { artifact, attributes: { signingKeyId: key.keyId } }, /missing signature/);
    });

    test('unknown key', async () => {
      await refused(
        'unknown',
        { artifact, attributes: signedAttributes(unregistered) },
        /signing key "[0-9a-f]{32}" is not registered/,
      );
    });

    test('without an artifact: signature attributes are checked against the sha256 attribute', async () => {
      const tampered = { ...signedAttributes(key), sha256: sha256(Buffer.from('x')) };
      await refused('noart-bad', { attributes: tampered }, /is not a valid ED25519 signature/);
      await s.iot.send(
        new CreatePackageVersionCommand({
          packageName: 'fw',
          versionName: 'noart-good',
          attributes: signedAttributes(key),
        }),
      );
      await s.iot.send(
        new UpdatePackageVersionCommand({ packageName: 'fw', versionName: 'noart-good', action: 'PUBLISH' }),
      );
    });

    test("a lone `signature` attribute is the user's own (seed 000) and is not checked", async () => {
      await s.iot.send(
        new CreatePackageVersionCommand({
          packageName: 'fw',
          versionName: 'seed000',
          attributes: { s3URL: 'https://example.com/code.bin', signature: 'not-otters-scheme' },
        }),
      );
      await s.iot.send(
        new UpdatePackageVersionCommand({ packageName: 'fw', versionName: 'seed000', action: 'PUBLISH' }),
      );
    });

    test('a version without artifact and without those attributes publishes as before', async () => {
      await s.iot.send(
        new CreatePackageVersionCommand({
          packageName: 'fw',
          versionName: 'plain',
          attributes: { channel: 'beta' },
        }),
      );
      await s.iot.send(
        new UpdatePackageVersionCommand({ packageName: 'fw', versionName: 'plain', action: 'PUBLISH' }),
      );
      const v = await s.iot.send(new GetPackageVersionCommand({ packageName: 'fw', versionName: 'plain' }));
      assert.equal(v.status, 'PUBLISHED');
    });
  });
}
