import { randomUUID } from 'node:crypto';
import { connectAsync } from 'mqtt';
import type { Incoming, MqttLog, MqttTransport } from './transport.js';

/** Every Otter node joins this shared-subscription group, so each request is handled by one node. */
export const SHARE_GROUP = 'otter';

/**
 * Splits Otter's own `share` query parameter off the broker URL: absent → the `otter` group,
 * `share=off` (or empty) → plain subscriptions (one Otter node, or a broker without working
 * shared subscriptions on `$` topics, such as Mosquitto 2.0.11), `share=NAME` → group NAME.
 */
export function parseBrokerUrl(url: string): { url: string; shareGroup: string | undefined } {
  const parsed = new URL(url);
  const share = parsed.searchParams.get('share');
  parsed.searchParams.delete('share');
  const shareGroup = share === null ? SHARE_GROUP : share === '' || share === 'off' ? undefined : share;
  if (shareGroup !== undefined && !/^[A-Za-z0-9_-]+$/.test(shareGroup))
    throw new Error(
      `mqttUrl: share group must be letters, digits, _ or -, got ${JSON.stringify(shareGroup)}`,
    );
  return { url: parsed.toString(), shareGroup };
}

/**
 * Otter as a client of an external broker (Mosquitto, EMQX, …). Requests arrive through shared
 * subscriptions `$share/otter/<filter>` (see parseBrokerUrl): with several Otter nodes the broker hands each request to
 * one of them. Access control between devices is the broker's job in this mode (docs/mqtt.md).
 */
export async function startExternalTransport(
  brokerUrl: string,
  onIncoming: Incoming,
  log: MqttLog,
): Promise<MqttTransport> {
  const { url, shareGroup } = parseBrokerUrl(brokerUrl);
  const client = await connectAsync(url, {
    clientId: `otter-${randomUUID().slice(0, 8)}`,
    clean: true,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
  });
  client.on('message', (topic, payload) => onIncoming(topic, payload, undefined));
  client.on('error', (error) => log.error({ err: error.message, url }, 'mqtt broker connection error'));
  client.on('reconnect', () => log.warn({ url }, 'reconnecting to the mqtt broker'));
  return {
    mode: 'external',
    ports: {},
    publish: async (topic, payload, qos) => {
      await client.publishAsync(topic, payload, { qos });
    },
    listen: async (filter) => {
      // mqtt.js re-subscribes after a reconnect (`resubscribe` defaults to true).
      const topic = shareGroup === undefined ? filter : `$share/${shareGroup}/${filter}`;
      const granted = await client.subscribeAsync(topic, { qos: 1 });
      if (granted.some((g) => g.qos === 128))
        throw new Error(`the mqtt broker refused the subscription ${topic}`);
    },
    close: async () => {
      await client.endAsync();
    },
  };
}
