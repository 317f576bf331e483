/**
 * Broker side of the notify fan-out benchmark (notify-fanout.ts), one child process per side so its
 * memory is its own: `--expose-gc`, and RSS / heap / external are read after two full GCs.
 * IPC: parent → `{kind:'start', side:'otter'|'reference', workDir, clients}`, child →
 * `{kind:'started', mqttPort, url?}`; parent → `{kind:'memory'}`, child → `{kind:'memory', ...}`;
 * parent → `{kind:'publish', topics, bytes}` (reference), child → `{kind:'published', at}`;
 * parent → `{kind:'close'}` (the child exits).
 */
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { type RunningServer, startServer } from '../packages/server/src/main.js';
import { createDatabase } from '../packages/server/src/store/index.js';
import { loadJobsFleet } from './jobs-fleet.js';

export const FANOUT_ACCESS_KEY = 'AKIAOTTERBENCH000001';
export const FANOUT_SECRET = 'otter-bench-secret-key-0000000000';

type Message =
  | { kind: 'start'; side: 'otter' | 'reference'; workDir: string; clients: number }
  | { kind: 'memory' }
  | { kind: 'publish'; topics: string[]; bytes: number }
  | { kind: 'close' };

let otter: RunningServer | undefined;
let broker: Aedes | undefined;
let net: Server | undefined;
const send = (m: object) => process.send?.(m);

function memory() {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

process.on('message', async (m: Message) => {
  try {
    if (m.kind === 'start' && m.side === 'otter') {
      const dataDir = join(m.workDir, 'notify-fanout');
      rmSync(dataDir, { recursive: true, force: true });
      const db = await createDatabase(undefined, dataDir);
      await loadJobsFleet(db, { things: m.clients, sampleSize: 1, allGroup: true });
      await db.close();
      otter = await startServer({
        env: {},
        logger: false,
        overrides: {
          port: 0,
          mqttPort: 0,
          mqttWsPort: -1,
          deviceTlsPort: -1,
          dataDir,
          accessKeyId: FANOUT_ACCESS_KEY,
          secretAccessKey: FANOUT_SECRET,
        },
      });
      send({ kind: 'started', url: otter.url, mqttPort: otter.mqtt.ports.mqtt });
    } else if (m.kind === 'start') {
      broker = await Aedes.createBroker();
      const b = broker;
      net = createServer((socket) => b.handle(socket));
      await new Promise<void>((r) => net!.listen(0, '127.0.0.1', () => r()));
      const address = net.address();
      send({ kind: 'started', mqttPort: typeof address === 'object' && address ? address.port : 0 });
    } else if (m.kind === 'memory') {
      send({ kind: 'memory', ...memory() });
    } else if (m.kind === 'publish') {
      const payload = Buffer.alloc(m.bytes, 0x20);
      const at = Date.now();
      for (const topic of m.topics)
        broker!.publish({ cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false }, () => {});
      send({ kind: 'published', at });
    } else if (m.kind === 'close') {
      await otter?.close();
      if (broker) await new Promise<void>((r) => broker!.close(() => r()));
      if (net) await new Promise<void>((r) => net!.close(() => r()));
      process.exit(0);
    }
  } catch (error) {
    console.error(error);
    process.exit(1);
  }
});
