/**
 * The transport a configuration asks for, with the device's certificate read from its files.
 * The MQTT client library is loaded only when the transport is mqtt (dynamic import): an HTTP agent
 * never loads it, which keeps its idle memory down. Use `loadMqttTransport()` for the MQTT module.
 */
import { readFileSync } from 'node:fs';
import type { AgentConfig } from '../config/agent-config.js';
import { createHttpTransport } from './http-transport.js';
import type { MqttTransportOptions } from './mqtt-transport.js';
import type { JobsTransport } from './transport.js';

export * from './http-transport.js';
export type { MqttTransportOptions } from './mqtt-transport.js';
export * from './transport.js';

/** The MQTT transport module, loaded on first use (it pulls in the mqtt client library). */
export const loadMqttTransport = () => import('./mqtt-transport.js');

/** The device's TLS material from the configuration's files (undefined members are left out). */
export function readDeviceTls(config: AgentConfig): { cert?: string; key?: string; ca?: string } {
  const read = (f: string | undefined) => (f === undefined ? undefined : readFileSync(f, 'utf8'));
  const cert = read(config.certificateFile);
  const key = read(config.keyFile);
  const ca = read(config.caFile);
  return {
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    ...(ca === undefined ? {} : { ca }),
  };
}

export interface TransportExtras {
  /** MQTT password (the device token) for a plain or WebSocket listener. */
  readonly mqttPassword?: string;
  readonly onConnectionEvent?: MqttTransportOptions['onConnectionEvent'];
}

/** The configured transport; async because the MQTT module is loaded only when it is used. */
export async function createTransport(
  config: AgentConfig,
  extras: TransportExtras = {},
): Promise<JobsTransport> {
  const tls = readDeviceTls(config);
  if (config.transport === 'mqtt' && config.mqttUrl !== undefined) {
    const { createMqttTransport } = await loadMqttTransport();
    return createMqttTransport({
      url: config.mqttUrl,
      thingName: config.thingName,
      tls,
      ...(extras.mqttPassword === undefined ? {} : { password: extras.mqttPassword }),
      ...(extras.onConnectionEvent ? { onConnectionEvent: extras.onConnectionEvent } : {}),
    });
  }
  return createHttpTransport({ endpoint: config.endpoint, thingName: config.thingName, tls });
}
