/** The transport a configuration asks for, with the device's certificate read from its files. */
import { readFileSync } from 'node:fs';
import type { AgentConfig } from '../config/agent-config.js';
import { createHttpTransport } from './http-transport.js';
import { createMqttTransport, type MqttTransportOptions } from './mqtt-transport.js';
import type { JobsTransport } from './transport.js';

export * from './http-transport.js';
export * from './mqtt-transport.js';
export * from './transport.js';

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

export function createTransport(config: AgentConfig, extras: TransportExtras = {}): JobsTransport {
  const tls = readDeviceTls(config);
  if (config.transport === 'mqtt' && config.mqttUrl !== undefined) {
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
