/**
 * Child process of the notify fan-out benchmark (notify-fanout.ts): holds the N MQTT device
 * connections, so the parent's RSS is the broker's alone. IPC protocol:
 * parent → `{kind:'connect', url, clients:[{clientId, password?, topic}]}`, child → `{kind:'ready'}`
 * once every client is connected and subscribed; child → `{kind:'done', at}` (epoch ms) when every
 * client has received its first message on its topic; parent → `{kind:'disconnect'}` ends every
 * client (child → `{kind:'disconnected'}`); parent → `{kind:'close'}` ends them and exits.
 */
import { connectAsync, type MqttClient } from 'mqtt';

interface ClientSpec {
  clientId: string;
  password?: string;
  topic: string;
}
type Message =
  | { kind: 'connect'; url: string; clients: ClientSpec[] }
  | { kind: 'disconnect' }
  | { kind: 'close' };

const CONNECT_CONCURRENCY = 100;
const clients: MqttClient[] = [];
const send = (m: object) => process.send?.(m);

process.on('message', async (m: Message) => {
  if (m.kind === 'close') {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
    process.exit(0);
  }
  if (m.kind === 'disconnect') {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => {})));
    send({ kind: 'disconnected' });
    return;
  }
  let waiting = m.clients.length;
  let next = 0;
  const connectOne = async () => {
    while (next < m.clients.length) {
      const spec = m.clients[next++]!;
      const client = await connectAsync(m.url, {
        clientId: spec.clientId,
        username: spec.clientId,
        ...(spec.password === undefined ? {} : { password: spec.password }),
        reconnectPeriod: 0,
        connectTimeout: 30_000,
        keepalive: 0,
      });
      let got = false;
      client.on('message', (topic) => {
        if (got || topic !== spec.topic) return;
        got = true;
        if (--waiting === 0) send({ kind: 'done', at: Date.now() });
      });
      await client.subscribeAsync(spec.topic, { qos: 1 });
      clients.push(client);
    }
  };
  await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, connectOne));
  send({ kind: 'ready' });
});
