import { invalidRequest, notFound } from '@otter/core';
import type { AwsHandler } from '../aws/aws-plane.js';
import type { RegistryStore } from '../store/index.js';
import { decodeToken, encodeToken } from './paging.js';

/** ARN resource kinds Otter can tag, and the `tags.resource_type` each is stored under. */
const RESOURCE_TYPES = {
  thing: 'thing',
  thinggroup: 'thingGroup',
  thingtype: 'thingType',
  package: 'package',
  packageversion: 'packageVersion',
  job: 'job',
  jobtemplate: 'jobTemplate',
  cacert: 'caCertificate',
} as const;
type ArnKind = keyof typeof RESOURCE_TYPES;

export interface ResourceArn {
  kind: ArnKind;
  /** `thing`, `thingGroup`, `thingType`, `package`, `packageVersion`, `job`, `jobTemplate` or `caCertificate`. */
  resourceType: (typeof RESOURCE_TYPES)[ArnKind];
  /** The resource's name; `<package>/<version>` for a package version. */
  name: string;
}

const ARN_PREFIX = '^arn:aws[a-z-]*:iot:[a-z0-9-]*:\\d{12}:';
const ARN = new RegExp(`${ARN_PREFIX}(thing|thinggroup|thingtype)\\/([a-zA-Z0-9:_-]{1,128})$`);
/** Job and job template ids: `[a-zA-Z0-9_-]{1,64}` (CreateJob, CreateJobTemplate). */
const JOB_ARN = new RegExp(`${ARN_PREFIX}(job|jobtemplate)\\/([a-zA-Z0-9_-]{1,64})$`);
/** CA certificate ids: 64 hex characters (RegisterCACertificate). */
const CA_ARN = new RegExp(`${ARN_PREFIX}cacert\\/([a-f0-9]{64})$`);
/** Package and version names follow the catalog's `[a-zA-Z0-9-_.]+` (1–128 and 1–64 characters). */
const PACKAGE_ARN = new RegExp(
  `${ARN_PREFIX}package\\/([a-zA-Z0-9._-]{1,128})(?:\\/version\\/([a-zA-Z0-9._-]{1,64}))?$`,
);

/**
 * Parses `arn:aws:iot:REGION:ACCOUNT:(thing|thinggroup|thingtype)/NAME`, `…:package/NAME`,
 * `…:package/NAME/version/VERSION`, `…:job/ID`, `…:jobtemplate/ID` and `…:cacert/ID`; InvalidRequestException
 * otherwise.
 */
export function parseResourceArn(arn: string, only?: ArnKind): ResourceArn {
  let parsed: ResourceArn | undefined;
  const m = ARN.exec(arn);
  const j = JOB_ARN.exec(arn);
  const c = CA_ARN.exec(arn);
  if (c) {
    parsed = { kind: 'cacert', resourceType: RESOURCE_TYPES.cacert, name: c[1]! };
  } else if (m) {
    const kind = m[1] as 'thing' | 'thinggroup' | 'thingtype';
    parsed = { kind, resourceType: RESOURCE_TYPES[kind], name: m[2]! };
  } else if (j) {
    const kind = j[1] as 'job' | 'jobtemplate';
    parsed = { kind, resourceType: RESOURCE_TYPES[kind], name: j[2]! };
  } else {
    const p = PACKAGE_ARN.exec(arn);
    if (p?.[2] !== undefined)
      parsed = { kind: 'packageversion', resourceType: 'packageVersion', name: `${p[1]}/${p[2]}` };
    else if (p) parsed = { kind: 'package', resourceType: 'package', name: p[1]! };
  }
  if (!parsed || (only !== undefined && parsed.kind !== only)) throw invalidRequest(`Invalid ARN: ${arn}`);
  return parsed;
}

/** Whether the resource an ARN names exists. */
async function resourceExists(store: RegistryStore, r: ResourceArn): Promise<boolean> {
  switch (r.kind) {
    case 'thing':
      return (await store.things.get(r.name)) !== undefined;
    case 'thinggroup':
      return (await store.thingGroups.get(r.name)) !== undefined;
    case 'thingtype':
      return (await store.thingTypes.get(r.name)) !== undefined;
    case 'package':
      return (await store.packages.get(r.name)) !== undefined;
    case 'packageversion': {
      const [pkg, version] = r.name.split('/') as [string, string];
      return (await store.packages.getVersion(pkg, version)) !== undefined;
    }
    case 'job':
      return (await store.jobs.getJob(r.name)) !== undefined;
    case 'jobtemplate':
      return (await store.jobs.getTemplate(r.name)) !== undefined;
    case 'cacert':
      return (await store.certificates.caCertificates.get(r.name)) !== undefined;
  }
}

const TAG_PAGE = 50;

export function tagHandlers(store: RegistryStore): Record<string, AwsHandler> {
  async function requireResource(arn: string): Promise<ResourceArn> {
    const r = parseResourceArn(arn);
    if (!(await resourceExists(store, r))) throw notFound(`${arn} not found`);
    return r;
  }

  return {
    TagResource: async (input: { resourceArn: string; tags: { Key: string; Value?: string }[] }) => {
      const r = await requireResource(input.resourceArn);
      await store.tags.tag(
        r.resourceType,
        r.name,
        Object.fromEntries(input.tags.map((t) => [t.Key, t.Value ?? ''])),
      );
      return {};
    },
    UntagResource: async (input: { resourceArn: string; tagKeys: string[] }) => {
      const r = await requireResource(input.resourceArn);
      await store.tags.untag(r.resourceType, r.name, input.tagKeys);
      return {};
    },
    ListTagsForResource: async (input: { resourceArn: string; nextToken?: string }) => {
      const r = await requireResource(input.resourceArn);
      const after = decodeToken(input.nextToken);
      // Sorted here by code unit so paging does not depend on the database's collation.
      const all = Object.entries(await store.tags.list(r.resourceType, r.name))
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .filter(([key]) => after === undefined || key > after);
      const page = all.slice(0, TAG_PAGE);
      return {
        tags: page.map(([Key, Value]) => ({ Key, Value })),
        nextToken: all.length > TAG_PAGE ? encodeToken(page[page.length - 1]![0]) : undefined,
      };
    },
  };
}
