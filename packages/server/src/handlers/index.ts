import type { Clock } from '@otter/core';
import type { AwsHandlers } from '../aws/aws-plane.js';
import type { RegistryStore } from '../store/index.js';
import { thingTypeHandlers } from './thing-types.js';
import { thingHandlers } from './things.js';

export interface HandlerDeps {
  store: RegistryStore;
  clock: Clock;
}

/** Every AWS operation Otter serves, by signing service. */
export function createAwsHandlers({ store, clock }: HandlerDeps): AwsHandlers {
  return {
    iot: {
      ...thingHandlers(store, clock),
      ...thingTypeHandlers(store, clock),
    },
  };
}
