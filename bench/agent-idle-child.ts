/**
 * Bench helper process: an idle device agent. With R1's `createAgent` exported by @otter/agent it
 * starts the real agent (HTTP transport, local server, long period); otherwise it loads the agent's
 * modules (config, download, documents, handlers, journal, lock) and idles with the timers a waiting
 * agent has (the poll period and the once-a-minute schedule-window check). Prints `ready <mode>`.
 * argv[2] or $BENCH_AGENT_SPEC: JSON { endpoint, stateDir, mode?: 'auto' | 'modules' }. bench/agent.ts also
 * runs it bundled by esbuild under plain node, as a device would run a release.
 */
import { mkdirSync } from 'node:fs';
import * as agentLib from '../packages/agent/src/index.js';

const o = JSON.parse(process.env.BENCH_AGENT_SPEC ?? process.argv[2] ?? '{}') as {
  endpoint: string;
  stateDir: string;
  mode?: string;
};
mkdirSync(o.stateDir, { recursive: true });
const raw = {
  thingName: 'bench-agent',
  endpoint: o.endpoint,
  version: '1.0.0',
  stateDir: o.stateDir,
  requireSignature: false,
  update: { period: 3600 },
  logLevel: 'error',
};

async function withCreateAgent(): Promise<string | undefined> {
  const create = (agentLib as Record<string, unknown>).createAgent;
  if (o.mode === 'modules' || typeof create !== 'function') return undefined;
  try {
    const config = await agentLib.validateAgentConfig(raw, { baseDir: o.stateDir });
    const agent = await (create as (c: unknown) => unknown)(config);
    await (agent as { start(): Promise<void> | void }).start();
    return 'createAgent';
  } catch (e) {
    process.stderr.write(`agent bench: createAgent failed (${(e as Error).message}); idling with modules\n`);
    return undefined;
  }
}

async function withModules(): Promise<string> {
  const [{ createHandlerRegistry }, documents] = await Promise.all([
    import('../packages/agent/src/handlers/registry.js'),
    import('../packages/agent/src/documents/index.js'),
  ]);
  const config = await agentLib.validateAgentConfig(raw, { baseDir: o.stateDir });
  const registry = createHandlerRegistry({ allowedRoots: [o.stateDir] });
  registry.lookup('file');
  // Parse one document so the parsers (ajv schemas) are compiled, as after a first job.
  try {
    documents.parseJobDocument({ version: '1.0', steps: [] });
  } catch {
    // a refusal is fine: the schemas are compiled either way
  }
  void agentLib.download;
  const window = config.update.schedule;
  setInterval(() => agentLib.cronWindowState(window, Date.now()), 60_000);
  setInterval(() => {}, config.update.periodSeconds * 1000);
  return 'modules';
}

const mode = (await withCreateAgent()) ?? (await withModules());
process.stdout.write(`ready ${mode}\n`);
