import {
  checkDestinationPackageVersions,
  checkDocumentParameters,
  checkDocumentSize,
  type DocumentParameterSpec,
  findPlaceholders,
  invalidRequest,
  referencedPackageVersions,
  resolveDocument,
} from '@otter/core';
import { artifactBucketOf } from '../artifacts/artifact-bucket.js';
import { validateArtifactName } from '../artifacts/artifact-name.js';
import type { ArtifactService } from '../artifacts/artifact-service.js';
import type { RegistryStore } from '../store/registry-store.js';

/** Presigned URLs for devices last an hour unless presignedUrlConfig.expiresInSec says otherwise (SDK doc). */
export const DEFAULT_PRESIGN_SECONDS = 3600;

const PACKAGE_VERSION_ARN =
  /^arn:aws[a-z-]*:iot:[a-z0-9-]*:\d{12}:package\/([a-zA-Z0-9._-]{1,128})\/version\/([a-zA-Z0-9._-]{1,64})$/;

/**
 * The artifact a URL names: `<any origin>/v1/artifacts/<name>` (Otter's artifact URL), or an S3 URL
 * of Otter's artifact bucket (`https://<bucket>.s3[.<region>].amazonaws.com/<name>` or
 * `https://s3[.<region>].amazonaws.com/<bucket>/<name>`). Anything else is InvalidRequestException.
 */
export function artifactNameOfUrl(url: string, bucket: string | undefined): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidRequest(`'${url.slice(0, 200)}' is not a URL`);
  }
  let path: string;
  try {
    path = decodeURIComponent(parsed.pathname);
  } catch {
    throw invalidRequest(`Invalid percent-encoding in '${url.slice(0, 200)}'`);
  }
  let name: string | undefined;
  if (path.startsWith('/v1/artifacts/')) name = path.slice('/v1/artifacts/'.length);
  else {
    const host = parsed.hostname;
    const virtual = /^(.+)\.s3[.-]([a-z0-9-]+\.)?amazonaws\.com$/.exec(host);
    const pathStyle = /^s3[.-]([a-z0-9-]+\.)?amazonaws\.com$/.test(host);
    if (virtual && virtual[1] === bucket) name = path.slice(1);
    else if (pathStyle && bucket !== undefined && path.startsWith(`/${bucket}/`))
      name = path.slice(bucket.length + 2);
  }
  if (name === undefined) {
    throw invalidRequest(
      `'${url.slice(0, 200)}' does not name an Otter artifact: use <server>/v1/artifacts/<name>` +
        (bucket === undefined ? '' : ` or https://${bucket}.s3.amazonaws.com/<name>`),
    );
  }
  return validateArtifactName(name);
}

/** Parses a destination package version ARN into its package and version names. */
export function parsePackageVersionArn(arn: string): { packageName: string; versionName: string } {
  const m = PACKAGE_VERSION_ARN.exec(arn);
  if (!m) throw invalidRequest(`Invalid package version ARN: ${arn}`);
  return { packageName: m[1]!, versionName: m[2]! };
}

/** The `${aws:iot:parameter:…}` names of a document, each required (custom templates declare no specs). */
export const parameterSpecs = (doc: string): DocumentParameterSpec[] =>
  [...new Set(findPlaceholders(doc).flatMap((p) => (p.kind === 'parameter' ? [p.name] : [])))].map((key) => ({
    key,
  }));

/** Job documents: reading a documentSource, checking a document at CreateJob, resolving it for a device. */
export class JobDocuments {
  constructor(
    private readonly store: RegistryStore,
    private readonly artifacts: ArtifactService | undefined,
  ) {}

  get bucket(): string | undefined {
    return this.artifacts && artifactBucketOf(this.artifacts.blobs);
  }

  /** The text of the artifact a documentSource URL names (≤ 32 KiB, UTF-8). */
  async readSource(documentSource: string): Promise<string> {
    if (!this.artifacts)
      throw invalidRequest('documentSource needs the artifact store, which is not configured');
    const name = artifactNameOfUrl(documentSource, this.bucket);
    const artifact = await this.store.artifacts.get(name);
    if (!artifact)
      throw invalidRequest(`documentSource ${documentSource} names artifact ${name}, which does not exist`);
    if (artifact.size > 32768) {
      throw invalidRequest(
        `The job document ${name} is ${artifact.size} bytes; the maximum is 32768 bytes (32 KiB)`,
      );
    }
    const chunks: Buffer[] = [];
    for await (const chunk of await this.artifacts.read(artifact)) chunks.push(chunk as Buffer);
    const text = new TextDecoder('utf-8', { fatal: false }).decode(Buffer.concat(chunks));
    return text;
  }

  /**
   * CreateJob's document checks: ≤ 32 KiB, valid JSON object, well-formed placeholders; every
   * referenced package version exists, is PUBLISHED and is among destinationPackageVersions (each of
   * which must exist); presigned-URL placeholders name stored artifacts; documentParameters fit the
   * document's `${aws:iot:parameter:…}` names. Returns the parameter values to store.
   */
  async check(
    doc: string,
    destinations: readonly string[],
    parameters: Record<string, string> | undefined,
  ): Promise<Record<string, string> | undefined> {
    checkDocumentSize(doc);
    let parsed: unknown;
    try {
      parsed = JSON.parse(doc);
    } catch (e) {
      throw invalidRequest(`The job document is not valid JSON: ${(e as Error).message}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw invalidRequest('The job document must be a JSON object');
    const placeholders = findPlaceholders(doc);
    const problems: string[] = [];
    for (const { packageName, versionName } of referencedPackageVersions(doc)) {
      const v = await this.store.packages.getVersion(packageName, versionName);
      if (!v) problems.push(`${packageName}:${versionName} does not exist`);
      else if (v.status !== 'PUBLISHED')
        problems.push(`${packageName}:${versionName} is ${v.status}, not PUBLISHED`);
    }
    if (problems.length > 0)
      throw invalidRequest(
        `The job document references package versions that cannot be deployed: ${problems.join('; ')}`,
      );
    checkDestinationPackageVersions(doc, destinations);
    const missing: string[] = [];
    for (const arn of destinations) {
      const { packageName, versionName } = parsePackageVersionArn(arn);
      if (!(await this.store.packages.getVersion(packageName, versionName)))
        missing.push(`${packageName}:${versionName}`);
    }
    if (missing.length > 0)
      throw invalidRequest(
        `destinationPackageVersions names package versions that do not exist: ${missing.join(', ')}`,
      );
    for (const p of placeholders) {
      if (p.kind !== 'presigned-url') continue;
      const name = artifactNameOfUrl(p.url, this.bucket);
      if (!(await this.store.artifacts.get(name)))
        throw invalidRequest(
          `\${aws:iot:s3-presigned-url:${p.url}} names artifact ${name}, which does not exist`,
        );
    }
    const specs = parameterSpecs(doc);
    if (specs.length === 0 && parameters === undefined) return undefined;
    return checkDocumentParameters(specs, parameters);
  }

  /** GetJobDocument: the stored document with only its documentParameters substituted. */
  async withParameters(doc: string, parameters: Record<string, string> | undefined): Promise<string> {
    if (!findPlaceholders(doc).some((p) => p.kind === 'parameter')) return doc;
    return resolveDocument(doc, {
      parameters: parameters ?? {},
      attribute: async (pkg, version, attr) =>
        `\${aws:iot:package:${pkg}:version:${version}:attributes:${attr}}`,
      presign: async (url) => `\${aws:iot:s3-presigned-url:${url}}`,
    });
  }

  /** The document a device receives: parameters, package attributes and presigned URLs resolved. */
  async forDevice(
    doc: string,
    parameters: Record<string, string> | undefined,
    expiresInSec: number | undefined,
  ): Promise<string> {
    const artifacts = this.artifacts;
    return resolveDocument(doc, {
      parameters: parameters ?? {},
      attribute: async (pkg, version, attr) =>
        (await this.store.packages.getVersion(pkg, version))?.attributes[attr],
      ...(artifacts
        ? {
            presign: async (url: string) =>
              (
                await artifacts.presignArtifactUrl(
                  artifactNameOfUrl(url, this.bucket),
                  expiresInSec ?? DEFAULT_PRESIGN_SECONDS,
                )
              ).url,
          }
        : {}),
    });
  }
}
