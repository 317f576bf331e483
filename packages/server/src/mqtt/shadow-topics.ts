import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type Clock,
  isOtterError,
  OtterError,
  SHADOW_MAX_CLIENT_TOKEN_BYTES,
  type ShadowErrorDocument,
  shadowRejectedDocument,
} from '@otter/core';
import type { AwsContext, AwsHandler } from '../aws/aws-plane.js';
import type { ShadowChange } from '../handlers/shadows.js';
import type { RouteHandler } from './topic-router.js';

/** The shadow topic prefix: classic `$aws/things/T/shadow`, named `$aws/things/T/shadow/name/N`. */
export const shadowTopic = (thingName: string, shadowName: string | undefined): string =>
  shadowName === undefined
    ? `$aws/things/${thingName}/shadow`
    : `$aws/things/${thingName}/shadow/name/${shadowName}`;

const OPERATIONS = {
  get: 'GetThingShadow',
  update: 'UpdateThingShadow',
  delete: 'DeleteThingShadow',
} as const;

/** The rejected codes AWS documents for shadow topics; anything else reaches devices as 500. */
const SHADOW_ERROR_CODES = new Set([400, 401, 403, 404, 409, 413, 415, 429, 500]);

/**
 * Set while an MQTT request runs a handler: its `/accepted` reply comes from the route itself, and
 * the change's other messages wait here until that reply is out (AWS order: accepted, delta, documents).
 */
const fromMqtt = new AsyncLocalStorage<(() => Promise<void>)[]>();

interface ShadowPublisher {
  route(pattern: string, handler: RouteHandler): void;
  publish(topic: string, payload: Buffer | string | object, opts?: { qos?: 0 | 1 }): Promise<void>;
}

/** A valid `clientToken` of a get or delete request (whose payload is otherwise ignored, as on AWS). */
function clientTokenOf(payload: Buffer): string | undefined {
  try {
    const token: unknown = JSON.parse(payload.toString('utf8'))?.clientToken;
    return typeof token === 'string' && Buffer.byteLength(token) <= SHADOW_MAX_CLIENT_TOKEN_BYTES
      ? token
      : undefined;
  } catch {
    return undefined;
  }
}

/** `/rejected` payload: `{code, message, timestamp, clientToken?}`; unknown errors never leak details. */
export function rejection(error: unknown, nowMs: number, payload: Buffer): ShadowErrorDocument {
  const known =
    isOtterError(error) && SHADOW_ERROR_CODES.has(error.status)
      ? error
      : new OtterError('InternalFailureException', 'Internal service failure');
  return shadowRejectedDocument(known, nowMs, payload);
}

/**
 * The Device Shadow MQTT API on top of the iot-data handlers (the same code as HTTP):
 * `<prefix>/{get,update,delete}` answered on `/accepted` or `/rejected`, the `clientToken` echoed.
 */
export function registerShadowTopics(
  mqtt: ShadowPublisher,
  handlers: Record<string, AwsHandler>,
  clock: Clock,
  context: () => AwsContext,
): void {
  for (const named of [false, true]) {
    for (const [op, operation] of Object.entries(OPERATIONS)) {
      const handler = handlers[operation];
      if (!handler) continue;
      const pattern = `${shadowTopic('{thingName}', named ? '{shadowName}' : undefined)}/${op}`;
      mqtt.route(pattern, async (thingName, params, payload, reply) => {
        const prefix = shadowTopic(thingName, params.shadowName);
        try {
          const input = {
            thingName,
            ...(params.shadowName === undefined ? {} : { shadowName: params.shadowName }),
            ...(op === 'update' ? { payload } : {}),
          };
          const after: (() => Promise<void>)[] = [];
          const out = await fromMqtt.run(after, () => handler(input, context()));
          const doc = JSON.parse(String(out?.payload ?? '{}')) as Record<string, unknown>;
          // Update echoes the token itself; get and delete take it from the request, as AWS does.
          const clientToken = op === 'update' ? undefined : clientTokenOf(payload);
          await reply(`${prefix}/${op}/accepted`, clientToken === undefined ? doc : { ...doc, clientToken });
          for (const publish of after) await publish();
        } catch (error) {
          await reply(`${prefix}/${op}/rejected`, rejection(error, clock.now(), payload));
        }
      });
    }
  }
}

/**
 * Publishes what a shadow change means to subscribers, wherever it came from (HTTP or MQTT):
 * `/update/accepted` or `/delete/accepted` for changes made over HTTP (an MQTT request gets its
 * own reply instead), `/update/delta` when there is a delta, and `/update/documents`.
 */
export async function publishShadowChange(mqtt: ShadowPublisher, change: ShadowChange): Promise<void> {
  const prefix = shadowTopic(change.thingName, change.shadowName);
  const pending = fromMqtt.getStore();
  if (change.kind === 'delete') {
    if (!pending) await mqtt.publish(`${prefix}/delete/accepted`, change.accepted);
    return;
  }
  if (pending) {
    pending.push(() => publishFollowUps(mqtt, prefix, change));
    return;
  }
  await mqtt.publish(`${prefix}/update/accepted`, change.accepted);
  await publishFollowUps(mqtt, prefix, change);
}

async function publishFollowUps(mqtt: ShadowPublisher, prefix: string, change: ShadowChange): Promise<void> {
  if (change.delta) await mqtt.publish(`${prefix}/update/delta`, change.delta);
  await mqtt.publish(`${prefix}/update/documents`, {
    previous: change.previous ?? null,
    current: change.current,
    timestamp: change.timestamp,
    ...(change.clientToken === undefined ? {} : { clientToken: change.clientToken }),
  });
}
