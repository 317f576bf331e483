/**
 * `otter agent --config FILE` (the device agent, until SIGTERM/SIGINT) and
 * `otter agent status [--config FILE] [--json]`. Also runnable directly:
 * `node --import tsx packages/agent/src/main.ts --config FILE`. The one place that reads the
 * environment: OTTER_AGENT_CONFIG, OTTER_AGENT_FILE_ROOTS, OTTER_AGENT_PACKAGE, OTTER_AGENT_MQTT_TOKEN.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { OtterError } from '@otter/core';
import { createAgent } from './agent/agent.js';
import { loadAgentConfig } from './config/agent-config.js';
import { createLogger } from './loop/logger.js';
import { formatAgentStatus, readAgentStatus } from './status/status.js';

export const DEFAULT_AGENT_CONFIG = '/etc/otter/agent.json5';

const USAGE = `usage: otter agent [--config FILE] [options]     run the device agent (docs/agent.md)
       otter agent status [--config FILE] [--json]  the running agent, current job and last result

options:
  -c, --config FILE          JSON5 configuration (default $OTTER_AGENT_CONFIG or ${DEFAULT_AGENT_CONFIG})
  --allow-root DIR           a folder the file handler may write into (repeatable; $OTTER_AGENT_FILE_ROOTS, ':'-separated)
  --package NAME             package reported to the $package shadow with a document's version ($OTTER_AGENT_PACKAGE)
  --progress-interval MS     minimum time between progress reports (default 5000)
  --check                    validate the configuration and exit
`;

type Env = Readonly<Record<string, string | undefined>>;
type Out = (text: string) => void;

/** Runs `otter agent …`; resolves to the exit code (the agent itself resolves when stopped). */
export async function agentCommand(
  argv: readonly string[],
  env: Env = process.env,
  out: Out = (t) => process.stdout.write(t),
  err: Out = (t) => process.stderr.write(t),
): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    err(`otter agent: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out(USAGE);
    return 0;
  }
  const configFile = resolve(values.config ?? env.OTTER_AGENT_CONFIG ?? DEFAULT_AGENT_CONFIG);
  const sub = positionals[0];
  if (sub !== undefined && sub !== 'status' && sub !== 'run') {
    err(`otter agent: unknown subcommand '${sub}'\n\n${USAGE}`);
    return 2;
  }
  let config: ReturnType<typeof loadAgentConfig>;
  try {
    config = loadAgentConfig(configFile);
  } catch (e) {
    err(`otter agent: ${(e as Error).message}\n`);
    return 2;
  }
  if (sub === 'status') {
    const status = readAgentStatus(config.stateDir);
    out(values.json ? `${JSON.stringify(status, null, 2)}\n` : `${formatAgentStatus(status)}\n`);
    return 0;
  }
  if (values.check) {
    out(`${configFile}: ok\n`);
    return 0;
  }

  const fileRoots = [
    ...(values['allow-root'] ?? []),
    ...(env.OTTER_AGENT_FILE_ROOTS ?? '').split(':').filter((s) => s !== ''),
  ].map((p) => resolve(p));
  const packageName = values.package ?? env.OTTER_AGENT_PACKAGE;
  const progressIntervalMs =
    values['progress-interval'] === undefined ? 5000 : Number(values['progress-interval']);
  if (!Number.isFinite(progressIntervalMs) || progressIntervalMs < 0) {
    err('otter agent: --progress-interval must be a number of milliseconds\n');
    return 2;
  }
  const logger = createLogger(config.logLevel, (line) => err(`${line}\n`));
  const agent = createAgent(config, {
    logger,
    fileRoots,
    progressIntervalMs,
    ...(packageName ? { packageName } : {}),
    ...(env.OTTER_AGENT_MQTT_TOKEN ? { mqttPassword: env.OTTER_AGENT_MQTT_TOKEN } : {}),
  });
  agent.on('error', () => {}); // logged by the agent; keeps EventEmitter from throwing

  const stopped = new Promise<void>((done) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info('signal received', { signal });
      agent.stop().then(done, (e: unknown) => {
        logger.error('stop failed', { error: (e as Error).message });
        done();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  try {
    await agent.start();
  } catch (e) {
    logger.fatal('agent could not start', {
      error: (e as Error).message,
      ...(e instanceof OtterError ? { type: e.type } : {}),
    });
    return 1;
  }
  await stopped;
  return 0;
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      'allow-root': { type: 'string', multiple: true },
      package: { type: 'string' },
      'progress-interval': { type: 'string' },
      check: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

const direct =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (direct) {
  process.exitCode = await agentCommand(process.argv.slice(2));
}
