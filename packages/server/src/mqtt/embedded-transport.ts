import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { createServer as createTlsServer, TLSSocket } from 'node:tls';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { deviceMayPublish, deviceMaySubscribe, isThingName, topicMatches } from './topic-access.js';
import type { Incoming, MqttLog, MqttPorts, MqttTransport } from './transport.js';

/**
 * Decides whether a device may connect. `thingName` is the MQTT client id; `peerCertificate` the
 * DER of its TLS client certificate (TLS listener only). Resolves true to accept.
 */
export interface DeviceAuthenticator {
  authenticate(request: {
    thingName: string;
    password: Buffer | undefined;
    peerCertificate: Buffer | undefined;
  }): Promise<boolean>;
}

export interface EmbeddedOptions {
  host: string;
  /** -1 = off, 0 = any free port. */
  mqttPort: number;
  wsPort: number;
  tls?: { port: number; key: string | Buffer; cert: string | Buffer } | undefined;
  authenticator: DeviceAuthenticator;
  /**
   * Hears devices connect and disconnect (fleet indexing `connectivity`). `disconnectReason` uses
   * the AWS names: CLIENT_INITIATED_DISCONNECT, DUPLICATE_CLIENTID, FORBIDDEN_ACCESS,
   * MQTT_KEEP_ALIVE_TIMEOUT, SERVER_INITIATED_DISCONNECT, CONNECTION_LOST.
   */
  onConnectivity?: ((thingName: string, connected: boolean, disconnectReason?: string) => void) | undefined;
}

/** MQTT CONNACK return codes (aedes' AuthErrorCode is a const enum we cannot import). */
const IDENTIFIER_REJECTED = 2;
const BAD_USERNAME_OR_PASSWORD = 4;

const authError = (message: string, returnCode: number): AuthenticateError =>
  Object.assign(new Error(message), { returnCode }) as AuthenticateError;

const listen = (server: NetServer | HttpServer, port: number, host: string): Promise<number> =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });

const closeServer = (server: NetServer | HttpServer): Promise<void> =>
  new Promise((resolve) => server.close(() => resolve()));

/**
 * Otter's own broker (aedes, in memory): plain TCP, WebSocket on `/mqtt`, optionally TLS with
 * client certificates. The client id is the thing name; a device may use only topics under
 * `$aws/things/<its thing>/` (topic-access.ts). Otter's own publishes bypass the hooks.
 */
export async function startEmbeddedTransport(
  opts: EmbeddedOptions,
  onIncoming: Incoming,
  log: MqttLog,
): Promise<MqttTransport> {
  /** Each client's subscription filters, to know whether a reply reaches it without help. */
  const subscriptions = new WeakMap<Client, Set<string>>();
  /** Why the broker itself is closing a client, when it is (else the client's doing or a lost link). */
  const closeReasons = new WeakMap<Client, string>();
  let closing = false;
  const broker = await Aedes.createBroker({
    authenticate: (client, _username, password, done) => {
      const thingName = client.id;
      if (!isThingName(thingName))
        return done(authError('the client id must be a thing name', IDENTIFIER_REJECTED), false);
      const conn = client.conn;
      const peerCertificate =
        conn instanceof TLSSocket ? conn.getPeerCertificate(false)?.raw || undefined : undefined;
      opts.authenticator.authenticate({ thingName, password, peerCertificate }).then(
        (ok) => {
          // aedes closes the connected client with the same id when this one registers.
          const previous = connectedClient(thingName);
          if (ok && previous && previous !== client) closeReasons.set(previous, 'DUPLICATE_CLIENTID');
          done(ok ? null : authError('not authorized', BAD_USERNAME_OR_PASSWORD), ok);
        },
        (error: Error) => {
          log.warn({ thingName, err: error.message }, 'mqtt device refused');
          done(authError('not authorized', BAD_USERNAME_OR_PASSWORD), false);
        },
      );
    },
    authorizePublish: (client, packet, done) => {
      if (client === null || deviceMayPublish(client.id, packet.topic)) return done(null);
      log.warn({ thingName: client.id, topic: packet.topic }, 'mqtt publish refused');
      closeReasons.set(client, 'FORBIDDEN_ACCESS');
      done(new Error(`${client.id} may not publish to ${packet.topic}`));
    },
    authorizeSubscribe: (client, sub, done) => {
      if (deviceMaySubscribe(client.id, sub.topic)) return done(null, sub);
      log.warn({ thingName: client.id, topic: sub.topic }, 'mqtt subscribe refused');
      done(null, null); // SUBACK 0x80 for this filter; the connection stays up
    },
  });
  /** The client registered under an id (aedes keeps them in `clients`, which its types omit). */
  const connectedClient = (id: string): Client | undefined =>
    (broker as unknown as { clients: Record<string, Client | undefined> }).clients[id];
  broker.on('client', (client) => opts.onConnectivity?.(client.id, true));
  broker.on('keepaliveTimeout', (client) => closeReasons.set(client, 'MQTT_KEEP_ALIVE_TIMEOUT'));
  broker.on('clientDisconnect', (client) => {
    const current = connectedClient(client.id);
    if (current && current !== client) return; // a newer connection of the same thing is up
    const reason =
      closeReasons.get(client) ??
      (closing
        ? 'SERVER_INITIATED_DISCONNECT'
        : (client as Client & { _disconnected?: boolean })._disconnected
          ? 'CLIENT_INITIATED_DISCONNECT'
          : 'CONNECTION_LOST');
    opts.onConnectivity?.(client.id, false, reason);
  });
  broker.on('subscribe', (subs, client) => {
    const set = subscriptions.get(client) ?? new Set<string>();
    subscriptions.set(client, set);
    for (const s of subs) set.add(s.topic);
  });
  broker.on('unsubscribe', (topics, client) => {
    const set = subscriptions.get(client);
    for (const t of topics) set?.delete(t);
  });
  broker.on('publish', (packet, client) => {
    if (!client) return; // Otter's own publishes
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    onIncoming(packet.topic, payload, {
      thingName: client.id,
      deliver: async (topic, reply) => {
        const subscribed = subscriptions.get(client);
        if (subscribed && [...subscribed].some((f) => topicMatches(f, topic))) return;
        if (client.closed) return;
        await new Promise<void>((resolve) =>
          client.publish({ cmd: 'publish', topic, payload: reply, qos: 0, retain: false, dup: false }, () =>
            resolve(),
          ),
        );
      },
    });
  });

  const ports: MqttPorts = {};
  const servers: (NetServer | HttpServer)[] = [];
  let wss: WebSocketServer | undefined;
  try {
    if (opts.mqttPort >= 0) {
      const server = createNetServer((socket) => broker.handle(socket));
      servers.push(server);
      ports.mqtt = await listen(server, opts.mqttPort, opts.host);
    }
    if (opts.wsPort >= 0) {
      const server = createHttpServer((_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket: connect to /mqtt\n');
      });
      servers.push(server);
      wss = new WebSocketServer({ server, path: '/mqtt' });
      wss.on('connection', (ws, req) => broker.handle(createWebSocketStream(ws), req));
      ports.ws = await listen(server, opts.wsPort, opts.host);
    }
    if (opts.tls) {
      const server = createTlsServer(
        { key: opts.tls.key, cert: opts.tls.cert, requestCert: true, rejectUnauthorized: false },
        (socket) => broker.handle(socket),
      );
      servers.push(server);
      ports.tls = await listen(server, opts.tls.port, opts.host);
    }
  } catch (error) {
    await Promise.all(servers.map(closeServer));
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw error;
  }

  return {
    mode: 'embedded',
    ports,
    publish: (topic, payload, qos) =>
      new Promise((resolve, reject) =>
        broker.publish({ cmd: 'publish', topic, payload, qos, retain: false, dup: false }, (error) =>
          error ? reject(error) : resolve(),
        ),
      ),
    listen: async () => {},
    close: async () => {
      closing = true;
      const closingServers = servers.map(closeServer);
      wss?.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const s of servers) if ('closeAllConnections' in s) s.closeAllConnections();
      await Promise.all(closingServers);
    },
  };
}
