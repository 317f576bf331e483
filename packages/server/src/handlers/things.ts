import type { Clock } from '@otter/core';
import { invalidRequest } from '@otter/core';
import type { AwsContext, AwsHandler } from '../aws/aws-plane.js';
import type { RegistryStore } from '../store/index.js';
import type { ThingRecord } from '../store/records.js';
import { decodeToken, encodeToken, pageSize } from './paging.js';

interface AttributePayload {
  attributes?: Record<string, string>;
  merge?: boolean;
}

const thingArn = (ctx: AwsContext, name: string) => ctx.arn(`thing/${name}`);

function describe(t: ThingRecord, ctx: AwsContext) {
  return {
    defaultClientId: t.thingName,
    thingName: t.thingName,
    thingId: t.thingId,
    thingArn: thingArn(ctx, t.thingName),
    thingTypeName: t.thingTypeName,
    attributes: t.attributes,
    version: t.version,
  };
}

export function thingHandlers(store: RegistryStore, clock: Clock): Record<string, AwsHandler> {
  return {
    CreateThing: async (
      input: {
        thingName: string;
        thingTypeName?: string;
        attributePayload?: AttributePayload;
        billingGroupName?: string;
      },
      ctx,
    ) => {
      if (input.billingGroupName) throw invalidRequest('Billing groups are not supported by Otter');
      const t = await store.things.create(
        {
          thingName: input.thingName,
          thingTypeName: input.thingTypeName,
          attributes: input.attributePayload?.attributes,
        },
        clock.now(),
      );
      return { thingName: t.thingName, thingArn: thingArn(ctx, t.thingName), thingId: t.thingId };
    },
    DescribeThing: async (input: { thingName: string }, ctx) =>
      describe(await store.things.describe(input.thingName), ctx),
    UpdateThing: async (input: {
      thingName: string;
      thingTypeName?: string;
      attributePayload?: AttributePayload;
      expectedVersion?: number;
      removeThingType?: boolean;
    }) => {
      if (input.removeThingType && input.thingTypeName)
        throw invalidRequest('Cannot set thingTypeName and removeThingType at the same time');
      await store.things.update(
        input.thingName,
        {
          thingTypeName: input.thingTypeName,
          removeThingType: input.removeThingType,
          attributePayload: input.attributePayload,
          expectedVersion: input.expectedVersion,
        },
        clock.now(),
      );
      return {};
    },
    DeleteThing: async (input: { thingName: string; expectedVersion?: number }) => {
      await store.things.delete(input.thingName, input.expectedVersion);
      return {};
    },
    ListThings: async (
      input: {
        attributeName?: string;
        attributeValue?: string;
        thingTypeName?: string;
        usePrefixAttributeValue?: boolean;
        maxResults?: number;
        nextToken?: string;
      },
      ctx,
    ) => {
      if (input.attributeValue !== undefined && input.attributeName === undefined)
        throw invalidRequest('attributeValue requires attributeName');
      const page = await store.things.list({
        attributeName: input.attributeName,
        attributeValue: input.attributeValue,
        usePrefixAttributeValue: input.usePrefixAttributeValue,
        thingTypeName: input.thingTypeName,
        after: decodeToken(input.nextToken),
        limit: pageSize(input.maxResults, 50),
      });
      return {
        things: page.items.map((t) => ({
          thingName: t.thingName,
          thingTypeName: t.thingTypeName,
          thingArn: thingArn(ctx, t.thingName),
          attributes: t.attributes,
          version: t.version,
        })),
        nextToken: encodeToken(page.nextToken),
      };
    },
  };
}
