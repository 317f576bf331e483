import type { Clock } from '@otter/core';
import type { AwsHandler, AwsHandlers } from '../aws/aws-plane.js';
import { DynamicGroups } from '../services/dynamic-groups.js';
import type { RegistryStore } from '../store/index.js';
import { fleetIndexHandlers } from './fleet-index.js';
import { packageHandlers } from './packages.js';
import { shadowHandlers } from './shadows.js';
import { tagHandlers } from './tags.js';
import { thingGroupHandlers } from './thing-groups.js';
import { thingTypeHandlers } from './thing-types.js';
import { thingHandlers } from './things.js';

export interface HandlerDeps {
  store: RegistryStore;
  clock: Clock;
}

/** Every AWS operation Otter serves, by signing service. */
export function createAwsHandlers({ store, clock }: HandlerDeps): AwsHandlers {
  const dynamicGroups = new DynamicGroups(store);
  /** Dynamic group membership follows every change to a thing's registry data or shadows. */
  const refreshing =
    (h: AwsHandler): AwsHandler =>
    async (input, ctx) => {
      const out = await h(input, ctx);
      await dynamicGroups.refreshThing(input.thingName);
      return out;
    };
  const things = thingHandlers(store, clock);
  return {
    iot: {
      ...things,
      CreateThing: refreshing(things.CreateThing!),
      UpdateThing: refreshing(things.UpdateThing!),
      ...thingTypeHandlers(store, clock),
      ...thingGroupHandlers(store, clock, dynamicGroups),
      ...fleetIndexHandlers(store),
      ...tagHandlers(store),
      ...packageHandlers(store, clock),
    },
    iotdata: shadowHandlers(store, clock, (thingName) => dynamicGroups.refreshThing(thingName)),
  };
}
