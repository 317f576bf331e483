import type { Clock } from '@otter/core';
import type { AwsContext, AwsHandler } from '../aws/aws-plane.js';
import type { RegistryStore } from '../store/index.js';
import type { ThingTypeRecord } from '../store/records.js';
import { decodeToken, encodeToken, pageSize, seconds } from './paging.js';

interface ThingTypeProperties {
  thingTypeDescription?: string;
  searchableAttributes?: string[];
}

const typeArn = (ctx: AwsContext, name: string) => ctx.arn(`thingtype/${name}`);

function view(t: ThingTypeRecord, ctx: AwsContext) {
  return {
    thingTypeName: t.thingTypeName,
    thingTypeId: t.thingTypeId,
    thingTypeArn: typeArn(ctx, t.thingTypeName),
    thingTypeProperties: {
      thingTypeDescription: t.description,
      searchableAttributes: t.searchableAttributes.length ? t.searchableAttributes : undefined,
    },
    thingTypeMetadata: {
      deprecated: t.deprecated,
      deprecationDate: seconds(t.deprecatedAt),
      creationDate: seconds(t.createdAt),
    },
  };
}

export function thingTypeHandlers(store: RegistryStore, clock: Clock): Record<string, AwsHandler> {
  return {
    CreateThingType: async (
      input: {
        thingTypeName: string;
        thingTypeProperties?: ThingTypeProperties;
        tags?: { Key: string; Value?: string }[];
      },
      ctx,
    ) => {
      const t = await store.thingTypes.create(
        {
          thingTypeName: input.thingTypeName,
          description: input.thingTypeProperties?.thingTypeDescription,
          searchableAttributes: input.thingTypeProperties?.searchableAttributes,
        },
        clock.now(),
      );
      if (input.tags?.length)
        await store.tags.tag(
          'thingType',
          t.thingTypeName,
          Object.fromEntries(input.tags.map((x) => [x.Key, x.Value ?? ''])),
        );
      return {
        thingTypeName: t.thingTypeName,
        thingTypeArn: typeArn(ctx, t.thingTypeName),
        thingTypeId: t.thingTypeId,
      };
    },
    DescribeThingType: async (input: { thingTypeName: string }, ctx) =>
      view(await store.thingTypes.describe(input.thingTypeName), ctx),
    ListThingTypes: async (
      input: { thingTypeName?: string; maxResults?: number; nextToken?: string },
      ctx,
    ) => {
      const page = await store.thingTypes.list({
        thingTypeName: input.thingTypeName,
        after: decodeToken(input.nextToken),
        limit: pageSize(input.maxResults, 50),
      });
      return { thingTypes: page.items.map((t) => view(t, ctx)), nextToken: encodeToken(page.nextToken) };
    },
    DeprecateThingType: async (input: { thingTypeName: string; undoDeprecate?: boolean }) => {
      await store.thingTypes.deprecate(input.thingTypeName, input.undoDeprecate ?? false, clock.now());
      return {};
    },
    DeleteThingType: async (input: { thingTypeName: string }) => {
      await store.thingTypes.delete(input.thingTypeName, clock.now());
      return {};
    },
  };
}
