import {
  applyShadowUpdate,
  type Clock,
  type DeltaDocument,
  epochSeconds,
  isOtterError,
  notFound,
  OtterError,
  type ShadowDeleteDocument,
  type ShadowSnapshot,
  type ShadowState,
  shadowDeleteResponse,
  shadowGetResponse,
  type UpdateAcceptedDocument,
  validateShadowName,
} from '@otter/core';
import type { AwsContext, AwsHandler } from '../aws/aws-plane.js';
import type { RegistryStore } from '../store/index.js';
import { CLASSIC_SHADOW } from '../store/index.js';
import { decodeToken, encodeToken, pageSize } from './paging.js';

/**
 * How often an update is re-applied when another writer stored the shadow between our read and
 * our write. Each retry re-reads the shadow, so a client-supplied `version` is checked against the
 * newest one (and fails with ConflictException rather than being retried).
 */
const MAX_UPDATE_ATTEMPTS = 20;

/** The store key of a shadow: the classic shadow when no name is given, else a validated name. */
function shadowKey(shadowName: string | undefined): string {
  if (shadowName === undefined) return CLASSIC_SHADOW;
  validateShadowName(shadowName);
  return shadowName;
}

/**
 * AWS's wording: the classic shadow is named after its thing, a named shadow by its name
 * (`{"code":404,"message":"No shadow exists with name: 'Limits'"}`).
 */
const noShadow = (thingName: string, shadowName: string) =>
  notFound(`No shadow exists with name: '${shadowName === CLASSIC_SHADOW ? thingName : shadowName}'`);

/** Shadow documents travel as the raw blob payload (JsonDocument), never re-encoded by the codec. */
const json = (doc: unknown): Buffer => Buffer.from(JSON.stringify(doc), 'utf8');

/**
 * One accepted change to a shadow, from HTTP or MQTT. `shadowName` is undefined for the classic
 * shadow. `accepted` is the `/update/accepted` or `/delete/accepted` payload, `delta` the
 * `/update/delta` payload when the update set a desired value that differs from reported.
 */
export interface ShadowChange {
  thingName: string;
  shadowName: string | undefined;
  kind: 'update' | 'delete';
  /** The shadow before the change; absent when the update created it. */
  previous?: ShadowSnapshot;
  /** The shadow after an update; absent after a delete. */
  current?: ShadowSnapshot;
  delta?: DeltaDocument;
  accepted: UpdateAcceptedDocument | ShadowDeleteDocument;
  version: number;
  /** Epoch seconds. */
  timestamp: number;
  clientToken?: string;
}

interface ShadowInput {
  thingName: string;
  shadowName?: string;
}

/**
 * A device on the TLS listener reaches only its own thing's shadows. The listener checks this
 * before the handler runs; this is a second guard. (Internal callers pass no context.)
 */
function authorizeCaller(ctx: AwsContext | undefined, thingName: string): void {
  if (ctx?.device && ctx.device.thingName !== thingName)
    throw new OtterError(
      'ForbiddenException',
      `The certificate of thing ${ctx.device.thingName} may not access thing ${thingName}`,
    );
}

/** Checks an update's payload before it is applied (e.g. `$package` against the catalog); throws to refuse it. */
export type ShadowUpdateCheck = (thingName: string, shadowName: string, payload: Buffer) => Promise<void>;

/**
 * The iot-data (Device Shadow REST API) operations. `onChange` runs after every accepted update
 * or delete, so dynamic groups, the fleet index and MQTT subscribers follow the shadow. `checkUpdate` runs
 * before an update changes anything.
 */
export function shadowHandlers(
  store: RegistryStore,
  clock: Clock,
  onChange: (change: ShadowChange) => Promise<void>,
  checkUpdate?: ShadowUpdateCheck,
): Record<string, AwsHandler> {
  return {
    GetThingShadow: async (input: ShadowInput, ctx) => {
      authorizeCaller(ctx, input.thingName);
      const name = shadowKey(input.shadowName);
      const shadow = await store.shadows.get(input.thingName, name);
      if (!shadow) throw noShadow(input.thingName, name);
      return { payload: json(shadowGetResponse(shadow, clock.now())) };
    },

    UpdateThingShadow: async (input: ShadowInput & { payload: Buffer }, ctx) => {
      authorizeCaller(ctx, input.thingName);
      const name = shadowKey(input.shadowName);
      await store.things.describe(input.thingName); // ResourceNotFoundException for an unknown thing
      await checkUpdate?.(input.thingName, name, input.payload);
      for (let attempt = 1; ; attempt++) {
        const current: ShadowState | undefined = await store.shadows.get(input.thingName, name);
        const now = clock.now();
        // Throws InvalidRequest / Conflict (client `version`) / RequestEntityTooLarge / UnsupportedDocumentEncoding.
        const deletedVersion = current
          ? undefined
          : await store.shadows.deletedVersion(input.thingName, name, now);
        const result = applyShadowUpdate(
          current,
          input.payload,
          now,
          deletedVersion === undefined ? {} : { deletedVersion },
        );
        try {
          await store.shadows.put(input.thingName, name, result.next, current?.version ?? null, now);
        } catch (error) {
          if (
            isOtterError(error) &&
            error.type === 'VersionConflictException' &&
            attempt < MAX_UPDATE_ATTEMPTS
          )
            continue;
          throw error;
        }
        await onChange({
          thingName: input.thingName,
          shadowName: input.shadowName,
          kind: 'update',
          ...(current ? { previous: result.documents.previous! } : {}),
          current: result.documents.current,
          ...(result.delta ? { delta: result.delta } : {}),
          accepted: result.accepted,
          version: result.next.version,
          timestamp: result.next.timestamp,
          ...(result.accepted.clientToken === undefined ? {} : { clientToken: result.accepted.clientToken }),
        });
        return { payload: json(result.accepted) };
      }
    },

    DeleteThingShadow: async (input: ShadowInput, ctx) => {
      authorizeCaller(ctx, input.thingName);
      const name = shadowKey(input.shadowName);
      const deleted = await store.shadows.delete(input.thingName, name, undefined, clock.now());
      if (!deleted) throw noShadow(input.thingName, name);
      const accepted = shadowDeleteResponse(deleted, clock.now());
      await onChange({
        thingName: input.thingName,
        shadowName: input.shadowName,
        kind: 'delete',
        previous: { state: deleted.state, metadata: deleted.metadata, version: deleted.version },
        accepted,
        version: deleted.version,
        timestamp: accepted.timestamp,
      });
      return { payload: json(accepted) };
    },

    ListNamedShadowsForThing: async (
      input: { thingName: string; nextToken?: string; pageSize?: number },
      ctx,
    ) => {
      authorizeCaller(ctx, input.thingName);
      await store.things.describe(input.thingName);
      const page = await store.shadows.listNamed(input.thingName, {
        after: decodeToken(input.nextToken),
        limit: pageSize(input.pageSize, 25),
      });
      return {
        results: page.items,
        nextToken: encodeToken(page.nextToken),
        timestamp: epochSeconds(clock.now()),
      };
    },
  };
}
