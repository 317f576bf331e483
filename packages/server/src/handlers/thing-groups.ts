import type { Clock } from '@otter/core';
import { invalidRequest, notFound, parseFleetQuery } from '@otter/core';
import type { AwsContext, AwsHandler } from '../aws/aws-plane.js';
import type { DynamicGroups } from '../services/dynamic-groups.js';
import type { RegistryStore, ThingGroupRecord } from '../store/index.js';
import { decodeToken, encodeToken, pageSize, seconds } from './paging.js';
import { parseResourceArn } from './tags.js';

interface AttributePayload {
  attributes?: Record<string, string>;
  merge?: boolean;
}
interface ThingGroupProperties {
  thingGroupDescription?: string;
  attributePayload?: AttributePayload;
}
type Tags = { Key: string; Value?: string }[] | undefined;

/** The only fleet index and query version AWS (and Otter) support for dynamic groups. */
export const THINGS_INDEX = 'AWS_Things';
export const QUERY_VERSION = '2017-09-30';

const groupArn = (ctx: AwsContext, name: string) => ctx.arn(`thinggroup/${name}`);
const groupRef = (ctx: AwsContext, name: string) => ({ groupName: name, groupArn: groupArn(ctx, name) });
const isDynamic = (g: ThingGroupRecord) => g.queryString !== undefined;

function properties(g: ThingGroupRecord) {
  return {
    thingGroupDescription: g.description,
    attributePayload: { attributes: g.attributes },
  };
}

/** Validates a dynamic group's index name, query version and query (InvalidQueryException when malformed). */
function checkQuery(input: { indexName?: string; queryVersion?: string; queryString?: string }): void {
  if (input.indexName !== undefined && input.indexName !== THINGS_INDEX)
    throw notFound(`Index ${input.indexName} does not exist`);
  if (input.queryVersion !== undefined && input.queryVersion !== QUERY_VERSION)
    throw invalidRequest(`Query version ${input.queryVersion} is not supported`);
  if (input.queryString !== undefined) parseFleetQuery(input.queryString);
}

interface MembershipInput {
  thingGroupName?: string;
  thingGroupArn?: string;
  thingName?: string;
  thingArn?: string;
}

export function thingGroupHandlers(
  store: RegistryStore,
  clock: Clock,
  dynamicGroups: DynamicGroups,
): Record<string, AwsHandler> {
  const tag = async (name: string, tags: Tags) => {
    if (tags?.length)
      await store.tags.tag('thingGroup', name, Object.fromEntries(tags.map((t) => [t.Key, t.Value ?? ''])));
  };

  const groupName = (input: { thingGroupName?: string; thingGroupArn?: string }): string => {
    if (input.thingGroupName !== undefined) return input.thingGroupName;
    if (input.thingGroupArn !== undefined) return parseResourceArn(input.thingGroupArn, 'thinggroup').name;
    throw invalidRequest('Either thingGroupName or thingGroupArn must be specified');
  };
  const thingName = (input: { thingName?: string; thingArn?: string }): string => {
    if (input.thingName !== undefined) return input.thingName;
    if (input.thingArn !== undefined) return parseResourceArn(input.thingArn, 'thing').name;
    throw invalidRequest('Either thingName or thingArn must be specified');
  };

  const staticGroup = async (name: string): Promise<ThingGroupRecord> => {
    const g = await store.thingGroups.describe(name);
    if (isDynamic(g))
      throw invalidRequest(`Cannot add things to or remove things from dynamic thing group ${name}.`);
    return g;
  };

  /** Adds or removes one membership named by names or ARNs, then lets dynamic groups follow. */
  const changeMembership = async (
    input: MembershipInput,
    change: (group: string, thing: string) => Promise<void>,
  ) => {
    const thing = thingName(input);
    await change(groupName(input), thing);
    await dynamicGroups.refreshThing(thing);
    return {};
  };
  const addThing = async (group: string, thing: string) => {
    await staticGroup(group);
    await store.thingGroups.addThing(group, thing);
  };
  const removeThing = async (group: string, thing: string) => {
    await staticGroup(group);
    await store.thingGroups.removeThing(group, thing);
  };

  const deleteGroup = async (name: string, expectedVersion: number | undefined, dynamic: boolean) => {
    const g = await store.thingGroups.get(name);
    if (!g) return {};
    if (dynamic && !isDynamic(g)) throw invalidRequest(`Thing group ${name} is not a dynamic thing group.`);
    if (!dynamic && isDynamic(g))
      throw invalidRequest(`Thing group ${name} is a dynamic thing group; use DeleteDynamicThingGroup.`);
    const members: string[] = [];
    if (isDynamic(g)) {
      let after: string | undefined;
      do {
        const page = await store.thingGroups.listThings(name, { after, limit: 500 });
        members.push(...page.items);
        after = page.nextToken;
      } while (after !== undefined);
    }
    await store.thingGroups.delete(name, expectedVersion);
    if (isDynamic(g)) {
      dynamicGroups.invalidate();
      for (const m of members) await dynamicGroups.refreshThing(m);
    }
    return {};
  };

  return {
    CreateThingGroup: async (
      input: {
        thingGroupName: string;
        parentGroupName?: string;
        thingGroupProperties?: ThingGroupProperties;
        tags?: Tags;
      },
      ctx,
    ) => {
      if (input.parentGroupName !== undefined) {
        const parent = await store.thingGroups.get(input.parentGroupName);
        if (!parent) throw notFound(`Thing group ${input.parentGroupName} cannot be found.`);
        if (isDynamic(parent)) throw invalidRequest('Dynamic thing groups cannot be part of a hierarchy.');
      }
      const g = await store.thingGroups.create(
        {
          thingGroupName: input.thingGroupName,
          parentGroupName: input.parentGroupName,
          description: input.thingGroupProperties?.thingGroupDescription,
          attributes: input.thingGroupProperties?.attributePayload?.attributes,
        },
        clock.now(),
      );
      await tag(g.thingGroupName, input.tags);
      return {
        thingGroupName: g.thingGroupName,
        thingGroupArn: groupArn(ctx, g.thingGroupName),
        thingGroupId: g.thingGroupId,
      };
    },

    DescribeThingGroup: async (input: { thingGroupName: string }, ctx) => {
      const g = await store.thingGroups.describe(input.thingGroupName);
      const ancestors = await store.thingGroups.ancestors(g.thingGroupName);
      return {
        thingGroupName: g.thingGroupName,
        thingGroupId: g.thingGroupId,
        thingGroupArn: groupArn(ctx, g.thingGroupName),
        version: g.version,
        thingGroupProperties: properties(g),
        thingGroupMetadata: {
          parentGroupName: g.parentGroupName,
          rootToParentThingGroups:
            g.parentGroupName === undefined
              ? undefined
              : ancestors.map((a) => groupRef(ctx, a.thingGroupName)),
          creationDate: seconds(g.createdAt),
        },
        ...(isDynamic(g)
          ? {
              indexName: g.indexName ?? THINGS_INDEX,
              queryString: g.queryString,
              queryVersion: g.queryVersion ?? QUERY_VERSION,
              status: 'ACTIVE',
            }
          : {}),
      };
    },

    UpdateThingGroup: async (input: {
      thingGroupName: string;
      thingGroupProperties: ThingGroupProperties;
      expectedVersion?: number;
    }) => {
      const g = await store.thingGroups.update(input.thingGroupName, {
        description: input.thingGroupProperties.thingGroupDescription,
        attributePayload: input.thingGroupProperties.attributePayload,
        expectedVersion: input.expectedVersion,
      });
      return { version: g.version };
    },

    DeleteThingGroup: async (input: { thingGroupName: string; expectedVersion?: number }) =>
      deleteGroup(input.thingGroupName, input.expectedVersion, false),

    ListThingGroups: async (
      input: {
        parentGroup?: string;
        namePrefixFilter?: string;
        recursive?: boolean;
        maxResults?: number;
        nextToken?: string;
      },
      ctx,
    ) => {
      const page = await store.thingGroups.list({
        parentGroup: input.parentGroup,
        namePrefix: input.namePrefixFilter,
        recursive: input.recursive,
        after: decodeToken(input.nextToken),
        limit: pageSize(input.maxResults, 50),
      });
      return {
        thingGroups: page.items.map((g) => groupRef(ctx, g.thingGroupName)),
        nextToken: encodeToken(page.nextToken),
      };
    },

    AddThingToThingGroup: (input: MembershipInput) => changeMembership(input, addThing),
    RemoveThingFromThingGroup: (input: MembershipInput) => changeMembership(input, removeThing),

    UpdateThingGroupsForThing: async (input: {
      thingName?: string;
      thingGroupsToAdd?: string[];
      thingGroupsToRemove?: string[];
    }) => {
      if (input.thingName === undefined) throw invalidRequest('thingName must be specified');
      await store.things.describe(input.thingName);
      for (const g of [...(input.thingGroupsToAdd ?? []), ...(input.thingGroupsToRemove ?? [])])
        await staticGroup(g);
      for (const g of input.thingGroupsToAdd ?? []) await store.thingGroups.addThing(g, input.thingName);
      for (const g of input.thingGroupsToRemove ?? [])
        await store.thingGroups.removeThing(g, input.thingName);
      await dynamicGroups.refreshThing(input.thingName);
      return {};
    },

    ListThingsInThingGroup: async (input: {
      thingGroupName: string;
      recursive?: boolean;
      maxResults?: number;
      nextToken?: string;
    }) => {
      const page = await store.thingGroups.listThings(input.thingGroupName, {
        recursive: input.recursive,
        after: decodeToken(input.nextToken),
        limit: pageSize(input.maxResults, 50),
      });
      return { things: page.items, nextToken: encodeToken(page.nextToken) };
    },

    ListThingGroupsForThing: async (
      input: { thingName: string; maxResults?: number; nextToken?: string },
      ctx,
    ) => {
      const page = await store.thingGroups.listGroupsForThing(input.thingName, {
        after: decodeToken(input.nextToken),
        limit: pageSize(input.maxResults, 50),
      });
      return { thingGroups: page.items.map((n) => groupRef(ctx, n)), nextToken: encodeToken(page.nextToken) };
    },

    CreateDynamicThingGroup: async (
      input: {
        thingGroupName: string;
        thingGroupProperties?: ThingGroupProperties;
        indexName?: string;
        queryString: string;
        queryVersion?: string;
        tags?: Tags;
      },
      ctx,
    ) => {
      checkQuery(input);
      const g = await store.thingGroups.create(
        {
          thingGroupName: input.thingGroupName,
          description: input.thingGroupProperties?.thingGroupDescription,
          attributes: input.thingGroupProperties?.attributePayload?.attributes,
          queryString: input.queryString,
          queryVersion: input.queryVersion ?? QUERY_VERSION,
          indexName: input.indexName ?? THINGS_INDEX,
        },
        clock.now(),
      );
      await tag(g.thingGroupName, input.tags);
      dynamicGroups.invalidate();
      await dynamicGroups.recompute(g.thingGroupName);
      return {
        thingGroupName: g.thingGroupName,
        thingGroupArn: groupArn(ctx, g.thingGroupName),
        thingGroupId: g.thingGroupId,
        indexName: g.indexName ?? THINGS_INDEX,
        queryString: g.queryString,
        queryVersion: g.queryVersion ?? QUERY_VERSION,
      };
    },

    UpdateDynamicThingGroup: async (input: {
      thingGroupName: string;
      thingGroupProperties: ThingGroupProperties;
      expectedVersion?: number;
      indexName?: string;
      queryString?: string;
      queryVersion?: string;
    }) => {
      const existing = await store.thingGroups.describe(input.thingGroupName);
      if (!isDynamic(existing))
        throw invalidRequest(`Thing group ${input.thingGroupName} is not a dynamic thing group.`);
      checkQuery(input);
      const g = await store.thingGroups.update(input.thingGroupName, {
        description: input.thingGroupProperties.thingGroupDescription,
        attributePayload: input.thingGroupProperties.attributePayload,
        expectedVersion: input.expectedVersion,
        queryString: input.queryString,
        queryVersion: input.queryVersion,
        indexName: input.indexName,
      });
      if (input.queryString !== undefined && input.queryString !== existing.queryString) {
        dynamicGroups.invalidate();
        await dynamicGroups.recompute(g.thingGroupName);
      }
      return { version: g.version };
    },

    DeleteDynamicThingGroup: async (input: { thingGroupName: string; expectedVersion?: number }) =>
      deleteGroup(input.thingGroupName, input.expectedVersion, true),
  };
}
