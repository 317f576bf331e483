import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { ConfigError } from '../config.js';
import type { BlobStore } from './blob-store.js';
import { FsBlobStore } from './fs-blob-store.js';
import { S3BlobStore, type S3BlobStoreOptions } from './s3-blob-store.js';

/** What an artifacts URL names, before anything is opened (exported for tests). */
export type BlobStoreLocation =
  | { kind: 'fs'; root: string }
  | { kind: 's3'; bucket: string; prefix: string; client: S3ClientConfig };

const S3_PARAMS = ['endpoint', 'region', 'forcePathStyle'] as const;
// S3 bucket naming rules: 3–63 of lower-case letters, digits, dots and hyphens.
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** The URL with any password hidden, for error messages. */
const redact = (url: string) => url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1***@');

/**
 * Parses an `artifactsUrl` setting: undefined → `<dataDir>/artifacts`; a path or `file:///abs`
 * → file system; `s3://bucket/prefix?endpoint=&region=&forcePathStyle=` → S3 (credentials from
 * `user:password@` when present, else the AWS SDK's default chain). Anything else: ConfigError.
 */
export function parseArtifactsUrl(artifactsUrl: string | undefined, dataDir: string): BlobStoreLocation {
  if (artifactsUrl === undefined) return { kind: 'fs', root: resolve(dataDir, 'artifacts') };
  const fail = (why: string) =>
    new ConfigError(`artifactsUrl ${JSON.stringify(redact(artifactsUrl))}: ${why}`);
  if (artifactsUrl.trim() === '') throw fail('must not be empty');
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(artifactsUrl)?.[1]?.toLowerCase();
  if (scheme === undefined)
    return { kind: 'fs', root: isAbsolute(artifactsUrl) ? artifactsUrl : resolve(artifactsUrl) };
  if (scheme === 'file') {
    try {
      return { kind: 'fs', root: fileURLToPath(artifactsUrl) };
    } catch (e) {
      throw fail(`not a usable file URL (${(e as Error).message}); write file:///absolute/path`);
    }
  }
  if (scheme !== 's3') throw fail('use a folder path, file:///absolute/path or s3://bucket/prefix');

  let url: URL;
  try {
    url = new URL(artifactsUrl);
  } catch {
    throw fail('not a valid URL');
  }
  // The host of a non-special URL keeps its case, so an upper-case bucket name is caught here.
  const bucket = url.hostname;
  if (!BUCKET.test(bucket)) throw fail(`bucket name ${JSON.stringify(bucket)} is not a valid S3 bucket name`);
  if (url.port !== '') throw fail('the bucket takes no port; give the server as ?endpoint=http://host:port');
  if (url.hash !== '') throw fail('must not have a #fragment');
  let prefix: string;
  try {
    // From the raw text: the URL parser would resolve `..` segments away.
    const rawPath = /^s3:\/\/[^/?#]*([^?#]*)/i.exec(artifactsUrl)?.[1] ?? '';
    prefix = decodeURIComponent(rawPath.replace(/^\//, ''));
  } catch {
    throw fail('the prefix is not valid percent-encoding');
  }
  if (prefix.split('/').some((s, i, all) => s === '.' || s === '..' || (s === '' && i < all.length - 1)))
    throw fail('the prefix must not contain empty, "." or ".." segments');
  if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';

  const client: S3ClientConfig = {};
  for (const key of url.searchParams.keys())
    if (!(S3_PARAMS as readonly string[]).includes(key))
      throw fail(`unknown parameter '${key}' (known: ${S3_PARAMS.join(', ')})`);
  const param = (name: (typeof S3_PARAMS)[number]) => {
    const all = url.searchParams.getAll(name);
    if (all.length > 1) throw fail(`parameter '${name}' given more than once`);
    if (all[0] === '') throw fail(`parameter '${name}' is empty`);
    return all[0];
  };
  const endpoint = param('endpoint');
  if (endpoint !== undefined) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(endpoint);
    } catch {}
    if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || parsed.username || parsed.password)
      throw fail(
        `endpoint must be an http:// or https:// URL without credentials, got ${JSON.stringify(endpoint)}`,
      );
    client.endpoint = endpoint;
  }
  // S3-compatible servers (MinIO, Ceph, …) rarely care about the region; AWS needs the right one.
  const region = param('region') ?? (endpoint !== undefined ? 'us-east-1' : undefined);
  if (region !== undefined) {
    if (!/^[a-z0-9-]+$/.test(region)) throw fail(`region ${JSON.stringify(region)} is not a region name`);
    client.region = region;
  }
  const pathStyle = param('forcePathStyle');
  if (pathStyle !== undefined && pathStyle !== 'true' && pathStyle !== 'false')
    throw fail(`forcePathStyle must be true or false, got ${JSON.stringify(pathStyle)}`);
  client.forcePathStyle = pathStyle === undefined ? endpoint !== undefined : pathStyle === 'true';

  if (url.username !== '' || url.password !== '') {
    let accessKeyId: string;
    let secretAccessKey: string;
    try {
      accessKeyId = decodeURIComponent(url.username);
      secretAccessKey = decodeURIComponent(url.password);
    } catch {
      throw fail('the credentials are not valid percent-encoding');
    }
    if (accessKeyId === '' || secretAccessKey === '')
      throw fail('give both the access key id and the secret (s3://KEY:SECRET@bucket) or neither');
    client.credentials = { accessKeyId, secretAccessKey };
  }
  return { kind: 's3', bucket, prefix, client };
}

/** The server's BlobStore for an `artifactsUrl` setting (see parseArtifactsUrl). */
export function createBlobStore(artifactsUrl: string | undefined, dataDir: string): BlobStore {
  const location = parseArtifactsUrl(artifactsUrl, dataDir);
  if (location.kind === 'fs') return new FsBlobStore(location.root);
  const opts: S3BlobStoreOptions = {
    bucket: location.bucket,
    prefix: location.prefix,
    client: location.client,
  };
  return new S3BlobStore(opts);
}

/** For logs: where artifacts are kept, without credentials. */
export function describeBlobStoreLocation(artifactsUrl: string | undefined, dataDir: string): string {
  const location = parseArtifactsUrl(artifactsUrl, dataDir);
  return location.kind === 'fs' ? location.root : `s3://${location.bucket}/${location.prefix}`;
}
