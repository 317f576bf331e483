/**
 * `otter package`: push a file as a package version (upload, sign, catalog, publish), list and show
 * the catalog (docs/packages.md).
 */
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import {
  CreatePackageCommand,
  CreatePackageVersionCommand,
  GetPackageCommand,
  GetPackageVersionCommand,
  type GetPackageVersionResponse,
  type IoTClient,
  ListPackagesCommand,
  ListPackageVersionsCommand,
  type PackageSummary,
  type PackageVersionStatus,
  type PackageVersionSummary,
  UpdatePackageVersionCommand,
} from '@aws-sdk/client-iot';
import { signDigest } from '@otter/core';
import { CliError, createClient, type OtterClient, toCliError } from '../client.js';
import { KeyStore, keysDir } from '../keystore.js';
import { Progress, progressStream } from '../progress.js';

export const PACKAGE_USAGE = `usage: otter package <subcommand> [options]

subcommands:
  push FILE --package NAME --version VERSION   upload FILE and make it a DRAFT package version
       [--sign KEY]            sign the file's SHA-256 with a local key (otter keys)
       [--attr KEY=VALUE]...   more version attributes (repeatable)
       [--publish]             publish the version once it is complete (the server checks it)
       [--artifact-name NAME]  default <package>/<version>/<file name>
       [--description TEXT]    the version's description
       [--bucket BUCKET]       the artifact bucket: default OTTER_ARTIFACT_BUCKET, else the
                               one the server names (otter, or its S3 bucket)
  ls [PACKAGE] [--status DRAFT|PUBLISHED|DEPRECATED] [--json]
                               packages, or the versions of one
  show PACKAGE VERSION [--json]
                               one package version: status, artifact, attributes

options:
  --endpoint URL     server (default OTTER_ENDPOINT or http://127.0.0.1:8780)
  --region REGION    signing region (default AWS_REGION, AWS_DEFAULT_REGION, profile, us-east-1)

Credentials: the AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws).
`;

type Env = Record<string, string | undefined>;

const out = (line: string) => process.stdout.write(`${line}\n`);

/** The bucket that names Otter's own artifact store (the file system backend). */
export const DEFAULT_ARTIFACT_BUCKET = 'otter';
/** Attributes `push` sets itself; --attr cannot set them. */
export const MANAGED_ATTRIBUTES = [
  'location',
  'size',
  'sha256',
  'signature',
  'signatureAlgorithm',
  'signingKeyId',
] as const;
const STATUSES: readonly PackageVersionStatus[] = ['DRAFT', 'PUBLISHED', 'DEPRECATED'];

// The AWS model's patterns (PackageName, VersionName, ResourceAttributeKey/Value) and Otter's
// artifact names: checked here so that nothing is uploaded for a push the server would refuse.
const PACKAGE_NAME = /^[a-zA-Z0-9_.-]{1,128}$/;
const VERSION_NAME = /^[a-zA-Z0-9_.-]{1,64}$/;
const ATTRIBUTE_KEY = /^[a-zA-Z0-9:_-]+$/;
const ATTRIBUTE_VALUE = /^[^\p{C}]+$/u;
const ARTIFACT_NAME = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

const usage = (message: string) => new CliError(message, { exitCode: 2 });

/** Runs `otter package ...`; resolves to the exit code. */
export async function packageCommand(args: string[], env: Env): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      package: { type: 'string', short: 'p' },
      version: { type: 'string', short: 'v' },
      sign: { type: 'string' },
      attr: { type: 'string', multiple: true },
      publish: { type: 'boolean' },
      'artifact-name': { type: 'string' },
      description: { type: 'string' },
      bucket: { type: 'string' },
      status: { type: 'string' },
      json: { type: 'boolean' },
      endpoint: { type: 'string' },
      region: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [sub, ...rest] = positionals;
  if (values.help || sub === undefined || sub === 'help') {
    process.stdout.write(PACKAGE_USAGE);
    return sub === undefined && !values.help ? 2 : 0;
  }
  const onlyFor = (option: keyof typeof values, allowed: string[]) => {
    if (values[option] !== undefined && !allowed.includes(sub)) {
      throw usage(`--${option} does not apply to 'package ${sub}'`);
    }
  };
  for (const option of [
    'package',
    'version',
    'sign',
    'attr',
    'publish',
    'artifact-name',
    'description',
    'bucket',
  ] as const)
    onlyFor(option, ['push']);
  onlyFor('status', ['ls']);
  onlyFor('json', ['ls', 'show']);
  const flags = { endpoint: values.endpoint, region: values.region };

  switch (sub) {
    case 'push': {
      if (rest.length !== 1) {
        throw usage('usage: otter package push FILE --package NAME --version VERSION [options]');
      }
      const plan = planPush(rest[0]!, values, env);
      return withIot(await createClient(flags, env), (client, iot) => push(client, iot, plan));
    }
    case 'ls': {
      if (rest.length > 1) throw usage('usage: otter package ls [PACKAGE] [--status STATUS] [--json]');
      const status = values.status?.toUpperCase() as PackageVersionStatus | undefined;
      if (status !== undefined && !STATUSES.includes(status)) {
        throw usage(`invalid --status '${values.status}': use ${STATUSES.join(', ')}`);
      }
      if (status !== undefined && rest[0] === undefined) {
        throw usage('--status filters the versions of one package: otter package ls PACKAGE --status ...');
      }
      const json = values.json === true;
      return withIot(await createClient(flags, env), (_client, iot) =>
        rest[0] === undefined ? listPackages(iot, json) : listVersions(iot, rest[0], status, json),
      );
    }
    case 'show': {
      if (rest.length !== 2) throw usage('usage: otter package show PACKAGE VERSION [--json]');
      return withIot(await createClient(flags, env), (_client, iot) =>
        show(iot, rest[0]!, rest[1]!, values.json === true),
      );
    }
    default:
      throw usage(`unknown subcommand 'package ${sub}'\n\n${PACKAGE_USAGE}`);
  }
}

/** Runs `fn` with an IoT client, destroyed afterwards; SDK errors become CliErrors. */
async function withIot(
  client: OtterClient,
  fn: (client: OtterClient, iot: IoTClient) => Promise<number>,
): Promise<number> {
  const iot = client.iotClient();
  try {
    return await fn(client, iot);
  } catch (e) {
    throw toCliError(client.endpoint, e);
  } finally {
    iot.destroy();
  }
}

interface PushPlan {
  file: string;
  size: number;
  packageName: string;
  versionName: string;
  artifactName: string;
  /** --bucket or OTTER_ARTIFACT_BUCKET; else the bucket the server names. */
  bucket: string | undefined;
  attributes: Record<string, string>;
  description: string | undefined;
  publish: boolean;
  signer: { name: string; privateKeyPem: string } | undefined;
}

/** Everything a push needs, checked before anything touches the network. */
function planPush(
  file: string,
  values: {
    package?: string | undefined;
    version?: string | undefined;
    sign?: string | undefined;
    attr?: string[] | undefined;
    publish?: boolean | undefined;
    'artifact-name'?: string | undefined;
    description?: string | undefined;
    bucket?: string | undefined;
  },
  env: Env,
): PushPlan {
  const packageName = values.package;
  const versionName = values.version;
  if (packageName === undefined || versionName === undefined) {
    throw usage(`otter package push needs --package NAME and --version VERSION`);
  }
  if (!PACKAGE_NAME.test(packageName)) {
    throw usage(
      `invalid package name ${JSON.stringify(packageName)}: 1 to 128 characters of A-Z a-z 0-9 - _ .`,
    );
  }
  if (!VERSION_NAME.test(versionName)) {
    throw usage(
      `invalid version name ${JSON.stringify(versionName)}: 1 to 64 characters of A-Z a-z 0-9 - _ .`,
    );
  }
  const attributes: Record<string, string> = {};
  for (const pair of values.attr ?? []) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    const value = eq < 0 ? '' : pair.slice(eq + 1);
    if (eq < 0 || !ATTRIBUTE_KEY.test(key) || !ATTRIBUTE_VALUE.test(value)) {
      throw usage(
        `invalid --attr ${JSON.stringify(pair)}: expected KEY=VALUE, KEY of A-Z a-z 0-9 : _ -, ` +
          'VALUE not empty and without control characters',
      );
    }
    if ((MANAGED_ATTRIBUTES as readonly string[]).includes(key)) {
      throw usage(`--attr ${key}=...: otter package push sets ${key} itself`);
    }
    attributes[key] = value;
  }
  const artifactName = values['artifact-name'] ?? `${packageName}/${versionName}/${basename(file)}`;
  if (
    artifactName.length > 1024 ||
    !ARTIFACT_NAME.test(artifactName) ||
    artifactName.split('/').some((s) => s === '.' || s === '..')
  ) {
    throw usage(
      `invalid artifact name ${JSON.stringify(artifactName)}: segments of A-Z a-z 0-9 . _ - separated by '/'` +
        (values['artifact-name'] === undefined ? '; choose one with --artifact-name' : ''),
    );
  }
  const bucket = values.bucket ?? (env.OTTER_ARTIFACT_BUCKET || undefined);
  if (values.description !== undefined && !/^[^\p{C}]{1,1024}$/u.test(values.description)) {
    throw usage('invalid --description: 1 to 1024 characters, no control characters');
  }
  let size: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new Error('not a regular file');
    size = stat.size;
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new CliError(`cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  let signer: PushPlan['signer'];
  if (values.sign !== undefined) {
    signer = { name: values.sign, privateKeyPem: new KeyStore(keysDir(env)).privateKeyPem(values.sign) };
  }
  return {
    file,
    size,
    packageName,
    versionName,
    artifactName,
    bucket,
    attributes,
    description: values.description,
    publish: values.publish === true,
    signer,
  };
}

/** Hex SHA-256 of a file, read as a stream. */
async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), hash);
  return hash.digest('hex');
}

const isNotFound = (e: unknown) =>
  (e as { name?: string }).name === 'ResourceNotFoundException' ||
  (e instanceof CliError && e.status === 404);

async function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

async function push(client: OtterClient, iot: IoTClient, plan: PushPlan): Promise<number> {
  const { packageName, versionName, artifactName } = plan;
  const existing = await orUndefined(iot.send(new GetPackageVersionCommand({ packageName, versionName })));
  if (existing && existing.status !== 'DRAFT') {
    throw new CliError(
      `${packageName} ${versionName} is ${existing.status}: a published version cannot change; ` +
        'push a new version (nothing was uploaded)',
    );
  }
  const sha256 = await hashFile(plan.file);
  const artifactPath = `/v1/artifacts/${artifactName}`;

  // Artifact names are immutable: upload unless the name already holds this file; a name that holds
  // another file may be replaced only when it is this draft's own artifact.
  const head = await orUndefined(client.nativeRequest('HEAD', artifactPath));
  const storedSha = head?.headers.get('x-otter-sha256') ?? undefined;
  if (storedSha !== undefined && storedSha !== sha256) {
    const own = existing?.artifact?.s3Location;
    if (own?.key !== artifactName) {
      throw new CliError(
        `artifact ${artifactName} already holds other content (SHA-256 ${storedSha}); ` +
          'choose another name with --artifact-name (nothing was uploaded)',
      );
    }
    await client.nativeRequest('DELETE', artifactPath);
    out(`replacing artifact ${artifactName} of draft ${packageName} ${versionName}`);
  }
  // The server names its artifact bucket (`otter`, or the real bucket with S3 storage).
  let serverBucket = head?.headers.get('x-otter-bucket') ?? undefined;
  if (storedSha === sha256) {
    out(`artifact ${artifactName} already holds this file`);
  } else {
    const progress = new Progress({ total: plan.size, label: `uploading ${basename(plan.file)}` });
    try {
      const res = await client.nativeRequest('PUT', artifactPath, {
        body: createReadStream(plan.file, { highWaterMark: 1024 * 1024 }).pipe(progressStream(progress)),
        bodySha256: sha256,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(plan.size) },
      });
      serverBucket = res.headers.get('x-otter-bucket') ?? serverBucket;
      await res.arrayBuffer();
      progress.finish();
    } catch (e) {
      progress.finish(false);
      throw e;
    }
  }

  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(existing?.attributes ?? {}))
    if (!(MANAGED_ATTRIBUTES as readonly string[]).includes(k)) attributes[k] = v;
  Object.assign(attributes, plan.attributes, {
    location: `${client.endpoint}${artifactPath}`,
    size: String(plan.size),
    sha256,
  });
  if (plan.signer) {
    const sig = signDigest(plan.signer.privateKeyPem, sha256);
    Object.assign(attributes, {
      signature: sig.signature,
      signatureAlgorithm: sig.algorithm,
      signingKeyId: sig.keyId,
    });
  }
  const bucket = plan.bucket ?? serverBucket ?? DEFAULT_ARTIFACT_BUCKET;
  const artifact = { s3Location: { bucket, key: artifactName } };
  const description = plan.description === undefined ? {} : { description: plan.description };

  if (!existing) {
    const pkg = await orUndefined(iot.send(new GetPackageCommand({ packageName })));
    if (!pkg) {
      await iot.send(new CreatePackageCommand({ packageName }));
      out(`created package ${packageName}`);
    }
    await iot.send(
      new CreatePackageVersionCommand({ packageName, versionName, attributes, artifact, ...description }),
    );
    out(`created version ${packageName} ${versionName} (DRAFT)`);
  } else {
    await iot.send(
      new UpdatePackageVersionCommand({ packageName, versionName, attributes, artifact, ...description }),
    );
    out(`updated draft ${packageName} ${versionName}`);
  }
  let status = 'DRAFT';
  if (plan.publish) {
    try {
      await iot.send(new UpdatePackageVersionCommand({ packageName, versionName, action: 'PUBLISH' }));
    } catch (e) {
      const err = toCliError(client.endpoint, e);
      if (err instanceof CliError) {
        throw new CliError(`${packageName} ${versionName} stays DRAFT: publishing failed: ${err.message}`, {
          ...(err.type === undefined ? {} : { type: err.type }),
        });
      }
      throw err;
    }
    status = 'PUBLISHED';
  }
  const rows: [string, string][] = [
    ['package', packageName],
    ['version', versionName],
    ['status', status],
    ['sha256', sha256],
    ['size', String(plan.size)],
    ['artifact', `${artifactName} (bucket ${bucket})`],
    ['location', attributes.location!],
  ];
  if (plan.signer) {
    rows.push([
      'signed',
      `by ${plan.signer.name} (${attributes.signatureAlgorithm}, keyId ${attributes.signingKeyId})`,
    ]);
  }
  for (const [k, v] of rows) out(`${`${k}:`.padEnd(10)}${v}`);
  return 0;
}

/** Epoch dates as `2024-05-01T10:00:00Z`. */
const iso = (d: Date | undefined) => (d === undefined ? '' : `${d.toISOString().slice(0, 19)}Z`);

function table(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) {
    out(
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    );
  }
}

/** SDK output as plain JSON: no $metadata, dates as ISO strings. */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (k, v) => (k === '$metadata' ? undefined : v)));
}

async function listPackages(iot: IoTClient, json: boolean): Promise<number> {
  const all: PackageSummary[] = [];
  let nextToken: string | undefined;
  do {
    const page = await iot.send(new ListPackagesCommand({ maxResults: 100, nextToken }));
    all.push(...(page.packageSummaries ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  if (json) {
    out(JSON.stringify(plain(all), null, 2));
    return 0;
  }
  if (all.length === 0) {
    out('no packages (create one: otter package push FILE --package NAME --version VERSION)');
    return 0;
  }
  table([
    ['PACKAGE', 'DEFAULT VERSION', 'CREATED', 'MODIFIED'],
    ...all.map((p) => [
      p.packageName ?? '',
      p.defaultVersionName ?? '-',
      iso(p.creationDate),
      iso(p.lastModifiedDate),
    ]),
  ]);
  return 0;
}

async function listVersions(
  iot: IoTClient,
  packageName: string,
  status: PackageVersionStatus | undefined,
  json: boolean,
): Promise<number> {
  const all: PackageVersionSummary[] = [];
  let nextToken: string | undefined;
  do {
    const page = await iot.send(
      new ListPackageVersionsCommand({ packageName, maxResults: 100, nextToken, status }),
    );
    all.push(...(page.packageVersionSummaries ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  if (json) {
    out(JSON.stringify(plain(all), null, 2));
    return 0;
  }
  if (all.length === 0) {
    out(`no${status === undefined ? '' : ` ${status}`} versions of ${packageName}`);
    return 0;
  }
  table([
    ['VERSION', 'STATUS', 'CREATED', 'MODIFIED'],
    ...all.map((v) => [v.versionName ?? '', v.status ?? '', iso(v.creationDate), iso(v.lastModifiedDate)]),
  ]);
  return 0;
}

async function show(
  iot: IoTClient,
  packageName: string,
  versionName: string,
  json: boolean,
): Promise<number> {
  const v: GetPackageVersionResponse = await iot.send(
    new GetPackageVersionCommand({ packageName, versionName }),
  );
  if (json) {
    out(JSON.stringify(plain(v), null, 2));
    return 0;
  }
  const loc = v.artifact?.s3Location;
  const rows: [string, string | undefined][] = [
    ['package', v.packageName],
    ['version', v.versionName],
    ['status', v.status],
    ['error', v.errorReason],
    ['description', v.description],
    ['artifact', loc && `${loc.key} (bucket ${loc.bucket}${loc.version ? `, version ${loc.version}` : ''})`],
    ['created', iso(v.creationDate)],
    ['modified', iso(v.lastModifiedDate)],
    ['arn', v.packageVersionArn],
  ];
  for (const [k, value] of rows) if (value) out(`${`${k}:`.padEnd(13)}${value}`);
  const attributes = Object.entries(v.attributes ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (attributes.length > 0) {
    out('attributes:');
    const width = Math.max(...attributes.map(([k]) => k.length));
    for (const [k, value] of attributes) out(`  ${k.padEnd(width)}  ${value}`);
  }
  return 0;
}
