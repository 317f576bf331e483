import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../config.js';
import { createBlobStore, parseArtifactsUrl } from './create-blob-store.js';
import { FsBlobStore } from './fs-blob-store.js';
import { S3BlobStore } from './s3-blob-store.js';

test('no artifactsUrl → <dataDir>/artifacts on the file system', () => {
  assert.deepEqual(parseArtifactsUrl(undefined, '/var/lib/otter'), {
    kind: 'fs',
    root: '/var/lib/otter/artifacts',
  });
  assert.deepEqual(parseArtifactsUrl(undefined, 'data'), { kind: 'fs', root: resolve('data', 'artifacts') });
});

test('plain paths and file:// URLs → file system', () => {
  assert.deepEqual(parseArtifactsUrl('/srv/blobs', 'x'), { kind: 'fs', root: '/srv/blobs' });
  assert.deepEqual(parseArtifactsUrl('rel/blobs', 'x'), { kind: 'fs', root: resolve('rel/blobs') });
  assert.deepEqual(parseArtifactsUrl('file:///srv/my%20blobs', 'x'), { kind: 'fs', root: '/srv/my blobs' });
  assert.deepEqual(parseArtifactsUrl('FILE:///srv/b', 'x'), { kind: 'fs', root: '/srv/b' });
});

test('s3:// with endpoint, region, path style, prefix and credentials', () => {
  assert.deepEqual(
    parseArtifactsUrl(
      's3://AKID:se%2Fcr%2Bet@otter-artifacts/prod/eu?endpoint=http://127.0.0.1:9000&region=eu-west-1&forcePathStyle=true',
      'x',
    ),
    {
      kind: 's3',
      bucket: 'otter-artifacts',
      prefix: 'prod/eu/',
      client: {
        endpoint: 'http://127.0.0.1:9000',
        region: 'eu-west-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'AKID', secretAccessKey: 'se/cr+et' },
      },
    },
  );
});

test('s3:// defaults: AWS SDK chain for credentials and region; path style and us-east-1 with an endpoint', () => {
  assert.deepEqual(parseArtifactsUrl('s3://bucket', 'x'), {
    kind: 's3',
    bucket: 'bucket',
    prefix: '',
    client: { forcePathStyle: false },
  });
  assert.deepEqual(parseArtifactsUrl('s3://bucket/p/?endpoint=https://minio.internal', 'x'), {
    kind: 's3',
    bucket: 'bucket',
    prefix: 'p/',
    client: { endpoint: 'https://minio.internal', region: 'us-east-1', forcePathStyle: true },
  });
  const virtualHosted = parseArtifactsUrl(
    's3://bucket?endpoint=https://s3.example&forcePathStyle=false',
    'x',
  );
  assert.equal(virtualHosted.kind === 's3' && virtualHosted.client.forcePathStyle, false);
});

test('anything else is a ConfigError that names the problem and hides the secret', () => {
  const cases: [string, RegExp][] = [
    ['', /must not be empty/],
    ['http://host/artifacts', /use a folder path, file:\/\/\/absolute\/path or s3:\/\/bucket\/prefix/],
    ['gs://bucket', /use a folder path/],
    ['file://host/path', /not a usable file URL/],
    ['s3://My_Bucket', /not a valid S3 bucket name/],
    ['s3://ab', /not a valid S3 bucket name/],
    ['s3:///prefix', /not a valid S3 bucket name/],
    ['s3://bucket:9000/x', /takes no port/],
    ['s3://bucket/a//b', /prefix must not contain/],
    ['s3://bucket/a/../b', /prefix must not contain/],
    ['s3://bucket/%2e%2e/b', /prefix must not contain/],
    ['s3://bucket?endpoint=ftp://h', /endpoint must be an http/],
    ['s3://bucket?endpoint=nope', /endpoint must be an http/],
    ['s3://bucket?region=EU%20West', /not a region name/],
    ['s3://bucket?forcePathStyle=yes', /forcePathStyle must be true or false/],
    ['s3://bucket?endpont=http://h', /unknown parameter 'endpont'/],
    ['s3://bucket?region=a&region=b', /more than once/],
    ['s3://bucket?region=', /'region' is empty/],
    ['s3://onlykey@bucket', /both the access key id and the secret/],
    ['s3://key:topsecret@bucket#frag', /fragment/],
  ];
  for (const [url, message] of cases) {
    assert.throws(
      () => parseArtifactsUrl(url, 'x'),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError, `${url}: ${String(e)}`);
        assert.match(e.message, message, url);
        assert.doesNotMatch(e.message, /topsecret/);
        return true;
      },
    );
  }
});

test('createBlobStore builds the backend the URL names', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'otter-create-blobs-'));
  try {
    const fs = createBlobStore(undefined, dir);
    assert.ok(fs instanceof FsBlobStore);
    assert.ok(existsSync(join(dir, 'artifacts')));
    await fs.close();
    const s3 = createBlobStore('s3://bucket/p?endpoint=http://127.0.0.1:1', dir);
    assert.ok(s3 instanceof S3BlobStore);
    assert.equal(s3.kind, 's3');
    assert.equal(s3.prefix, 'p/');
    await s3.close();
    assert.throws(() => createBlobStore('ftp://x', dir), ConfigError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
