/**
 * Notify fan-out benchmark: N devices (default 10,000; BENCH_MQTT_CLIENTS) connected to Otter's
 * embedded broker, each subscribed to its `$aws/things/{t}/jobs/notify-next`; one CreateJob for a
 * group holding all of them; time until every device got its notify-next. Reference: a bare aedes
 * broker publishing N messages of the same size to N subscribers.
 *
 * Three kinds of process, so memory figures mean something: each broker side runs in its own child
 * (notify-fanout-broker.ts, `--expose-gc`), the devices in another (notify-fanout-clients.ts). A
 * side's memory per connection is its broker process's growth (after two full GCs) from before to
 * after the N devices connected and subscribed, divided by N, after a warm-up of 100 connections
 * that were connected and closed again (so lazily loaded code is not counted).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CreateJobCommand, DescribeThingGroupCommand, IoTClient } from '@aws-sdk/client-iot';
import { deviceToken } from '../packages/server/src/mqtt/device-token.js';
import { thingName } from './jobs-fleet.js';
import { FANOUT_ACCESS_KEY, FANOUT_SECRET } from './notify-fanout-broker.js';

export interface MemoryDelta {
  /** Resident set size growth per connection, KiB. */
  rssKiB: number;
  /** V8 heap used + external memory growth per connection, KiB. */
  heapExternalKiB: number;
}

export interface NotifyFanoutSide extends MemoryDelta {
  /** Milliseconds from the CreateJob request (reference: the first publish) to the last device's message. */
  ms: number;
}

export interface NotifyFanoutResult {
  clients: number;
  /** Bytes of one notify-next message (the reference publishes the same size). */
  messageBytes: number;
  otter: NotifyFanoutSide;
  reference: NotifyFanoutSide;
  /** reference.ms / otter.ms: the throughput ratio (≥ 0.8 is the goal). */
  ratio: number;
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
const WARMUP = 100;

type Msg = { kind: string; [k: string]: unknown };

/** A child process with request/answer over IPC. */
function child(file: string, execArgv: string[]) {
  const proc: ChildProcess = fork(fileURLToPath(new URL(file, import.meta.url)), [], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = (kind: string) =>
    new Promise<Msg>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`${file} exited (${code}) before ${kind}`));
      const onMessage = (m: Msg) => {
        if (m.kind !== kind) return;
        proc.off('message', onMessage);
        proc.off('exit', onExit);
        resolve(m);
      };
      proc.on('message', onMessage);
      proc.once('exit', onExit);
    });
  return {
    ask: async (m: Msg, answer: string) => {
      const p = next(answer);
      proc.send(m);
      return p;
    },
    next,
    close: async () => {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.send({ kind: 'close' });
      await exited;
    },
  };
}

interface Spec {
  clientId: string;
  password?: string;
  topic: string;
}

async function measureSide(
  side: 'otter' | 'reference',
  opts: NotifyFanoutOptions,
  messageBytes: number,
): Promise<NotifyFanoutSide> {
  const n = opts.clients;
  const log = opts.log ?? (() => {});
  const broker = child('./notify-fanout-broker.ts', ['--import', 'tsx', '--expose-gc']);
  const devices = child('./notify-fanout-clients.ts', ['--import', 'tsx']);
  try {
    const started = await broker.ask({ kind: 'start', side, workDir: opts.workDir, clients: n }, 'started');
    const url = `mqtt://127.0.0.1:${started.mqttPort as number}`;
    const specs: Spec[] = Array.from({ length: n }, (_, i) => {
      if (side === 'reference') return { clientId: `ref-${i}`, topic: `ref/${i}/notify-next` };
      const t = thingName(i);
      return {
        clientId: t,
        password: deviceToken(FANOUT_SECRET, t),
        topic: `$aws/things/${t}/jobs/notify-next`,
      };
    });
    await devices.ask({ kind: 'connect', url, clients: specs.slice(0, WARMUP) }, 'ready');
    await devices.ask({ kind: 'disconnect' }, 'disconnected');
    await new Promise((r) => setTimeout(r, 500)); // let the broker drop the closed sessions
    const before = await broker.ask({ kind: 'memory' }, 'memory');
    await devices.ask({ kind: 'connect', url, clients: specs }, 'ready');
    const after = await broker.ask({ kind: 'memory' }, 'memory');
    const perConn = (k: string) => ((after[k] as number) - (before[k] as number)) / n / 1024;
    const memory = {
      rssKiB: perConn('rss'),
      heapExternalKiB: perConn('heapUsed') + perConn('external'),
    };
    const done = devices.next('done');
    let t0: number;
    if (side === 'otter') {
      const iot = new IoTClient({
        endpoint: started.url as string,
        region: 'us-east-1',
        credentials: { accessKeyId: FANOUT_ACCESS_KEY, secretAccessKey: FANOUT_SECRET },
      });
      const { thingGroupArn } = await iot.send(new DescribeThingGroupCommand({ thingGroupName: 'all' }));
      t0 = Date.now();
      await iot.send(
        new CreateJobCommand({ jobId: 'fanout-job', targets: [thingGroupArn!], document: DOCUMENT }),
      );
      log(`  notify fan-out: CreateJob answered after ${Date.now() - t0} ms`);
      iot.destroy();
    } else {
      const published = await broker.ask(
        { kind: 'publish', topics: specs.map((s) => s.topic), bytes: messageBytes },
        'published',
      );
      t0 = published.at as number;
    }
    const at = (await done).at as number;
    const ms = at - t0;
    log(
      `  notify fan-out: ${side} ${ms} ms, ${memory.rssKiB.toFixed(1)} KiB RSS / ${memory.heapExternalKiB.toFixed(1)} KiB heap+external per connection`,
    );
    return { ms, ...memory };
  } finally {
    await devices.close();
    await broker.close();
  }
}

/** Runs both sides and returns the figures (see NotifyFanoutResult). */
export async function runNotifyFanout(opts: NotifyFanoutOptions): Promise<NotifyFanoutResult> {
  const n = opts.clients;
  // A notify-next as Otter sends it for this job (same keys, same document).
  const messageBytes = Buffer.byteLength(
    JSON.stringify({
      timestamp: 1_700_000_000,
      execution: {
        jobId: 'fanout-job',
        thingName: thingName(0),
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
  const otter = await measureSide('otter', opts, messageBytes);
  const reference = await measureSide('reference', opts, messageBytes);
  return { clients: n, messageBytes, otter, reference, ratio: reference.ms / otter.ms };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const clients = Number(process.env.BENCH_MQTT_CLIENTS ?? 10_000);
  const workDir = fileURLToPath(new URL('./.work/', import.meta.url));
  const result = await runNotifyFanout({ workDir, clients, log: console.log });
  console.log(JSON.stringify(result, null, 2));
}
