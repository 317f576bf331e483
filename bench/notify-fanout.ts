/**
 * Notify fan-out benchmark: N devices (default 10,000; BENCH_MQTT_CLIENTS) connected to Otter's
 * embedded broker, each subscribed to its `$aws/things/{t}/jobs/notify-next`; one CreateJob for a
 * group holding all of them; time until every device got its notify-next. Reference: a bare
 * aedes broker in this process publishing N messages of the same size to N subscribers. The
 * devices live in a child process (notify-fanout-clients.ts), so RSS deltas are the broker side's.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AddThingToThingGroupCommand,
  CreateJobCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  IoTClient,
} from '@aws-sdk/client-iot';
import { Aedes } from 'aedes';
import { startServer } from '../packages/server/src/main.js';
import { deviceToken } from '../packages/server/src/mqtt/device-token.js';

export interface NotifyFanoutSide {
  /** Milliseconds from the CreateJob request (reference: the first publish) to the last device's message. */
  ms: number;
  /** Broker-process RSS growth per connected device, KiB. */
  rssPerConnectionKiB: number;
}

export interface NotifyFanoutResult {
  clients: number;
  /** Bytes of one notify-next message (the reference publishes the same size). */
  messageBytes: number;
  otter: NotifyFanoutSide;
  reference: NotifyFanoutSide;
  /** otter.ms / reference.ms */
  ratio: number;
  /** otter.rssPerConnectionKiB / reference.rssPerConnectionKiB */
  memoryRatio: number;
}

export interface NotifyFanoutOptions {
  workDir: string;
  clients: number;
  log?: (line: string) => void;
}

const DOCUMENT = JSON.stringify({
  operation: 'install',
  firmware: { version: '2.0.0', url: 'https://example.com/fw.bin' },
});
const SECRET = 'otter-bench-secret-key-0000000000';

const rssKiB = () => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss / 1024;
};

/** Runs the device child process and hands back its control functions. */
function devices() {
  const child: ChildProcess = fork(
    fileURLToPath(new URL('./notify-fanout-clients.ts', import.meta.url)),
    [],
    {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const next = (kind: string) =>
    new Promise<{ kind: string; at?: number }>((resolve, reject) => {
      const onMessage = (m: { kind: string; at?: number }) => {
        if (m.kind !== kind) return;
        child.off('message', onMessage);
        resolve(m);
      };
      child.on('message', onMessage);
      child.once('exit', (code) => reject(new Error(`device process exited (${code}) before ${kind}`)));
    });
  return {
    connect: async (url: string, clients: { clientId: string; password?: string; topic: string }[]) => {
      const ready = next('ready');
      child.send({ kind: 'connect', url, clients });
      await ready;
    },
    done: () => next('done'),
    close: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.send({ kind: 'close' });
      await exited;
    },
  };
}

async function runPool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

async function measureOtter(workDir: string, n: number, log: (l: string) => void) {
  const dataDir = join(workDir, 'notify-fanout');
  rmSync(dataDir, { recursive: true, force: true });
  const server = await startServer({
    env: {},
    logger: false,
    overrides: {
      port: 0,
      mqttPort: 0,
      mqttWsPort: -1,
      deviceTlsPort: -1,
      dataDir,
      accessKeyId: 'AKIAOTTERBENCH000001',
      secretAccessKey: SECRET,
    },
  });
  try {
    const iot = new IoTClient({
      endpoint: server.url,
      region: 'us-east-1',
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    });
    const names = Array.from({ length: n }, (_, i) => `fan-${String(i).padStart(7, '0')}`);
    const started = Date.now();
    const group = await iot.send(new CreateThingGroupCommand({ thingGroupName: 'fanout' }));
    await runPool(names, 16, async (thingName) => {
      await iot.send(new CreateThingCommand({ thingName }));
      await iot.send(new AddThingToThingGroupCommand({ thingName, thingGroupName: 'fanout' }));
    });
    log(`  notify fan-out: ${n} things in a group in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const dev = devices();
    const before = rssKiB();
    await dev.connect(
      `mqtt://127.0.0.1:${server.mqtt.ports.mqtt}`,
      names.map((t) => ({
        clientId: t,
        password: deviceToken(SECRET, t),
        topic: `$aws/things/${t}/jobs/notify-next`,
      })),
    );
    const rssPerConnectionKiB = (rssKiB() - before) / n;
    const done = dev.done();
    const t0 = Date.now();
    await iot.send(
      new CreateJobCommand({ jobId: 'fanout-job', targets: [group.thingGroupArn!], document: DOCUMENT }),
    );
    const createMs = Date.now() - t0;
    const { at } = await done;
    const ms = at! - t0;
    log(`  notify fan-out: Otter ${ms} ms (CreateJob answered after ${createMs} ms)`);
    await dev.close();
    return { ms, rssPerConnectionKiB };
  } finally {
    await server.close();
  }
}

async function measureReference(n: number, messageBytes: number, log: (l: string) => void) {
  const broker = await Aedes.createBroker();
  const server: Server = createServer((socket) => broker.handle(socket));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  try {
    const topics = Array.from({ length: n }, (_, i) => `ref/${i}/notify-next`);
    const dev = devices();
    const before = rssKiB();
    await dev.connect(
      `mqtt://127.0.0.1:${port}`,
      topics.map((topic, i) => ({ clientId: `ref-${i}`, topic })),
    );
    const rssPerConnectionKiB = (rssKiB() - before) / n;
    const payload = Buffer.alloc(messageBytes, 0x20);
    const done = dev.done();
    const t0 = Date.now();
    for (const topic of topics)
      broker.publish({ cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false }, () => {});
    const { at } = await done;
    const ms = at! - t0;
    log(`  notify fan-out: reference ${ms} ms`);
    await dev.close();
    return { ms, rssPerConnectionKiB };
  } finally {
    await new Promise<void>((r) => broker.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
  }
}

/** Runs both sides and returns the figures (see NotifyFanoutResult). */
export async function runNotifyFanout(opts: NotifyFanoutOptions): Promise<NotifyFanoutResult> {
  const log = opts.log ?? (() => {});
  const n = opts.clients;
  // A notify-next as Otter sends it for this job (same keys, same document).
  const messageBytes = Buffer.byteLength(
    JSON.stringify({
      timestamp: 1_700_000_000,
      execution: {
        jobId: 'fanout-job',
        thingName: 'fan-0000000',
        status: 'QUEUED',
        statusDetails: {},
        queuedAt: 1_700_000_000,
        lastUpdatedAt: 1_700_000_000,
        versionNumber: 1,
        executionNumber: 1,
        jobDocument: JSON.parse(DOCUMENT),
      },
    }),
  );
  // Warm the shared code paths (aedes, mqtt.js) first; Otter runs before the measured reference so
  // its RSS growth is not hidden by pages the reference freed (the reference's is then a lower bound).
  await measureReference(Math.min(200, n), messageBytes, () => {});
  const otter = await measureOtter(opts.workDir, n, log);
  const reference = await measureReference(n, messageBytes, log);
  return {
    clients: n,
    messageBytes,
    otter,
    reference,
    ratio: otter.ms / reference.ms,
    memoryRatio: otter.rssPerConnectionKiB / reference.rssPerConnectionKiB,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const clients = Number(process.env.BENCH_MQTT_CLIENTS ?? 10_000);
  const workDir = fileURLToPath(new URL('./.work/', import.meta.url));
  const result = await runNotifyFanout({ workDir, clients, log: console.log });
  console.log(JSON.stringify(result, null, 2));
}
