import { invalidRequest, notFound } from '@otter/core';
import type { AwsHandler } from '../aws/aws-plane.js';
import type { RegistryStore } from '../store/index.js';
import { decodeToken, encodeToken } from './paging.js';

/** ARN resource kinds Otter can tag, and the `tags.resource_type` each is stored under. */
const RESOURCE_TYPES = { thing: 'thing', thinggroup: 'thingGroup', thingtype: 'thingType' } as const;
type ArnKind = keyof typeof RESOURCE_TYPES;

export interface ResourceArn {
  kind: ArnKind;
  /** `thing`, `thingGroup` or `thingType`. */
  resourceType: (typeof RESOURCE_TYPES)[ArnKind];
  name: string;
}

const ARN = /^arn:aws[a-z-]*:iot:[a-z0-9-]*:\d{12}:([a-z]+)\/([a-zA-Z0-9:_-]{1,128})$/;

/** Parses `arn:aws:iot:REGION:ACCOUNT:(thing|thinggroup|thingtype)/NAME`; InvalidRequestException otherwise. */
export function parseResourceArn(arn: string, only?: ArnKind): ResourceArn {
  const m = ARN.exec(arn);
  const kind = m?.[1];
  if (!m || kind === undefined || !(kind in RESOURCE_TYPES) || (only !== undefined && kind !== only))
    throw invalidRequest(`Invalid ARN: ${arn}`);
  const k = kind as ArnKind;
  return { kind: k, resourceType: RESOURCE_TYPES[k], name: m[2]! };
}

const TAG_PAGE = 50;

export function tagHandlers(store: RegistryStore): Record<string, AwsHandler> {
  async function requireResource(arn: string): Promise<ResourceArn> {
    const r = parseResourceArn(arn);
    const exists =
      r.kind === 'thing'
        ? await store.things.get(r.name)
        : r.kind === 'thinggroup'
          ? await store.thingGroups.get(r.name)
          : await store.thingTypes.get(r.name);
    if (!exists) throw notFound(`${arn} not found`);
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
