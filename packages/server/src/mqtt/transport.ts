/** The device that sent a request, when the broker is Otter's own. */
export interface Requester {
  thingName: string;
  /**
   * Hands a reply straight to the requester when it has no subscription matching `topic` (Otter
   * answers even a device that did not subscribe first). No-op when it has one: the publish reaches it.
   */
  deliver(topic: string, payload: Buffer): Promise<void>;
}

/** A request message as the transport received it. */
export type Incoming = (topic: string, payload: Buffer, requester: Requester | undefined) => void;

/** Ports the embedded broker listens on; absent when a listener is off (always absent for an external broker). */
export interface MqttPorts {
  mqtt?: number;
  ws?: number;
  tls?: number;
}

/** What the MQTT service needs from a broker: embedded (aedes) or external (an mqtt.js client). */
export interface MqttTransport {
  readonly mode: 'embedded' | 'external';
  readonly ports: MqttPorts;
  publish(topic: string, payload: Buffer, qos: 0 | 1): Promise<void>;
  /** Start receiving requests matching `filter` (the embedded broker sees every publish anyway). */
  listen(filter: string): Promise<void>;
  close(): Promise<void>;
}

export interface MqttLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLog: MqttLog = { info() {}, warn() {}, error() {} };
