import type { Clock } from '@otter/core';
import type { ArtifactService } from '../artifacts/artifact-service.js';
import type { AwsHandler, AwsHandlers } from '../aws/aws-plane.js';
import { DynamicGroups } from '../services/dynamic-groups.js';
import { JobEngine, type JobNotifier } from '../services/job-engine.js';
import { checkPackageShadowUpdate, PACKAGE_SHADOW } from '../services/package-shadow.js';
import type { RegistryStore } from '../store/index.js';
import { caCertificateHandlers } from './ca-certificates.js';
import { certificateHandlers } from './certificates.js';
import { fleetIndexHandlers } from './fleet-index.js';
import { jobTemplateHandlers } from './job-templates.js';
import { jobHandlers } from './jobs.js';
import { jobsDataHandlers } from './jobs-data.js';
import { type PublishCheck, packageHandlers } from './packages.js';
import { type ShadowChange, shadowHandlers } from './shadows.js';
import { tagHandlers } from './tags.js';
import { thingGroupHandlers } from './thing-groups.js';
import { thingTypeHandlers } from './thing-types.js';
import { thingHandlers } from './things.js';

export interface HandlerDeps {
  store: RegistryStore;
  clock: Clock;
  /** Runs before a package version is published (artifact and signature checks); default: accept. */
  publishCheck?: PublishCheck | undefined;
  /** Hears every accepted shadow change after dynamic groups have followed it (MQTT notifications). */
  onShadowChange?: ((change: ShadowChange) => Promise<void>) | undefined;
  /** Jobs read documentSource artifacts and presign `${aws:iot:s3-presigned-url:…}` through it. */
  artifacts?: ArtifactService | undefined;
  /** Hears which things' pending job executions changed (MQTT `notify` / `notify-next`). */
  jobNotifier?: JobNotifier | undefined;
}

/** The handlers of every AWS operation, and the services the MQTT side and the scheduler share. */
export interface ServerServices {
  handlers: AwsHandlers;
  jobs: JobEngine;
  dynamicGroups: DynamicGroups;
}

/** Every AWS operation Otter serves, by signing service. */
export function createAwsHandlers(deps: HandlerDeps): AwsHandlers {
  return createServices(deps).handlers;
}

/** Builds the handlers and the services behind them, once per server. */
export function createServices({
  store,
  clock,
  publishCheck,
  onShadowChange,
  artifacts,
  jobNotifier,
}: HandlerDeps): ServerServices {
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
  const iotdata = shadowHandlers(
    store,
    clock,
    async (change) => {
      await dynamicGroups.refreshThing(change.thingName);
      await onShadowChange?.(change);
    },
    // The reserved `$package` shadow may name only package versions the catalog has.
    async (_thingName, shadowName, payload) => {
      if (shadowName === PACKAGE_SHADOW) await checkPackageShadowUpdate(store.packages, payload);
    },
  );
  const jobs = new JobEngine({
    store,
    clock,
    artifacts,
    notifier: jobNotifier,
    // Through UpdateThingShadow, so the `$package` check, dynamic groups and notifications follow.
    updateShadow: async (thingName, shadowName, payload) => {
      await iotdata.UpdateThingShadow!({ thingName, shadowName, payload }, undefined as never);
    },
  });
  const now = () => clock.now();
  const handlers: AwsHandlers = {
    iot: {
      ...things,
      CreateThing: refreshing(things.CreateThing!),
      UpdateThing: refreshing(things.UpdateThing!),
      ...thingTypeHandlers(store, clock),
      ...thingGroupHandlers(store, clock, dynamicGroups),
      ...fleetIndexHandlers(store),
      ...tagHandlers(store),
      ...packageHandlers(store, clock, { publishCheck }),
      ...certificateHandlers(store, clock),
      ...caCertificateHandlers(store, clock),
      ...jobHandlers(store, jobs, now),
      ...jobTemplateHandlers(store, jobs, now),
    },
    iotdata,
    'iot-jobs-data': jobsDataHandlers(jobs, now),
  };
  return { handlers, jobs, dynamicGroups };
}
