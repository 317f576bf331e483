/**
 * `otter agent --config FILE` (the device agent, until SIGTERM/SIGINT, or exit code
 * AGENT_RESTART_EXIT_CODE when a self-update needs a restart), `otter agent --health` (the
 * self-update health check) and `otter agent status [--config FILE] [--json]`. Also runnable
 * directly: `node --import tsx packages/agent/src/main.ts --config FILE`. The one place that reads
 * the environment: OTTER_AGENT_CONFIG, OTTER_AGENT_FILE_ROOTS, OTTER_AGENT_PACKAGE,
 * OTTER_AGENT_MQTT_TOKEN (each overrides its configuration key).
 */
import { mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { OtterError } from '@otter/core/errors';
import { AGENT_RESTART_EXIT_CODE, createAgent } from './agent/agent.js';
import { type AgentConfig, loadAgentConfig } from './config/agent-config.js';
import { writeAgentLauncher } from './handlers/agent-update.js';
import { createLogger } from './loop/logger.js';
import { formatAgentStatus, readAgentStatus } from './status/status.js';

export const DEFAULT_AGENT_CONFIG = '/etc/otter/agent.json5';

const USAGE = `usage: otter agent [--config FILE] [options]     run the device agent (docs/agent.md)
       otter agent status [--config FILE] [--json]  the running agent, current job and last result

options:
  -c, --config FILE          JSON5 configuration (default $OTTER_AGENT_CONFIG or ${DEFAULT_AGENT_CONFIG})
  --allow-root DIR           a folder the file handler may write into (repeatable; $OTTER_AGENT_FILE_ROOTS,
                             ':'-separated); replaces the configuration's handlers.fileRoots
  --package NAME             package reported to the $package shadow with a document's version
                             ($OTTER_AGENT_PACKAGE); replaces the configuration's packageName
  --progress-interval MS     minimum time between progress reports (default 5000)
  --check                    validate the configuration and exit
  --health                   health check of this release (self-update): the configuration loads and
                             the state folder is writable; exit 0 healthy, 1 not

exit codes: 0 stopped, 1 could not start / unhealthy, 2 bad usage or configuration,
            ${AGENT_RESTART_EXIT_CODE} restart me (a self-update switched releases; systemd Restart=always does it)
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
  let config: AgentConfig;
  try {
    config = await loadAgentConfig(configFile);
  } catch (e) {
    err(`otter agent: ${(e as Error).message}\n`);
    return values.health ? 1 : 2;
  }
  if (values.health) return health(config, configFile, env, out, err);
  if (sub === 'status') {
    const status = readAgentStatus(config.stateDir);
    out(values.json ? `${JSON.stringify(status, null, 2)}\n` : `${formatAgentStatus(status)}\n`);
    return 0;
  }
  if (config.selfUpdate !== undefined) {
    // The launcher the service starts: rolls back a new release that keeps crashing at start.
    await writeAgentLauncher(config.selfUpdate.installRoot).catch((e: unknown) =>
      err(
        `otter agent: could not write ${config.selfUpdate?.installRoot}/launcher: ${(e as Error).message}\n`,
      ),
    );
  }
  if (values.check) {
    out(`${configFile}: ok\n`);
    return 0;
  }

  const flagRoots = [
    ...(values['allow-root'] ?? []),
    ...(env.OTTER_AGENT_FILE_ROOTS ?? '').split(':').filter((s) => s !== ''),
  ].map((p) => resolve(p));
  const fileRoots = flagRoots.length > 0 ? flagRoots : config.handlers.fileRoots;
  const packageName = values.package ?? env.OTTER_AGENT_PACKAGE ?? config.packageName;
  let mqttPassword = env.OTTER_AGENT_MQTT_TOKEN;
  if (!mqttPassword && config.mqtt.tokenFile !== undefined) {
    try {
      mqttPassword = readFileSync(config.mqtt.tokenFile, 'utf8').trim();
    } catch (e) {
      err(`otter agent: mqtt.tokenFile: cannot read ${config.mqtt.tokenFile}: ${(e as Error).message}\n`);
      return 2;
    }
  }
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
    ...(mqttPassword ? { mqttPassword } : {}),
    ...(config.selfUpdate === undefined
      ? {}
      : {
          agentUpdate: {
            installRoot: config.selfUpdate.installRoot,
            ...(config.selfUpdate.healthCommand === undefined
              ? {}
              : { healthCommand: config.selfUpdate.healthCommand }),
            healthTimeoutMs: config.selfUpdate.healthTimeoutSeconds * 1000,
            restartDeadlineMs: config.selfUpdate.restartDeadlineSeconds * 1000,
            maxUnconfirmedStarts: config.selfUpdate.maxUnconfirmedStarts,
            configFile,
          },
        }),
  });
  agent.on('error', () => {}); // logged by the agent; keeps EventEmitter from throwing

  let exitCode = 0;
  const stopped = new Promise<void>((done) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      if (signal === 'restart') {
        exitCode = AGENT_RESTART_EXIT_CODE;
        logger.info('exiting to be restarted', { exitCode });
      } else logger.info('signal received', { signal });
      agent.stop().then(done, (e: unknown) => {
        logger.error('stop failed', { error: (e as Error).message });
        done();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    agent.once('restart', () => stop('restart'));
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
  return exitCode;
}

/**
 * `--health`: what a release must manage before it may stay current. The configuration loaded
 * (done by the caller) and the agent's modules with it (this file imports them), and the state
 * folder takes a write. The server is not contacted: an update is not rolled back for a network
 * outage (the restarted agent reports when it can, within selfUpdate.restartDeadlineSeconds).
 */
function health(config: AgentConfig, configFile: string, env: Env, out: Out, err: Out): number {
  const probe = join(config.stateDir, `.health-${process.pid}`);
  try {
    mkdirSync(config.stateDir, { recursive: true });
    writeFileSync(probe, 'ok\n');
    rmSync(probe, { force: true });
  } catch (e) {
    err(
      `otter agent: unhealthy: the state folder ${config.stateDir} is not writable: ${(e as Error).message}\n`,
    );
    return 1;
  }
  const release = env.OTTER_AGENT_VERSION ? ` (release ${env.OTTER_AGENT_VERSION})` : '';
  out(`healthy${release}: ${configFile} loads, ${config.stateDir} is writable\n`);
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
      health: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

/** True when argv[1] is this module, also through symlinks (a release runs as current/lib/…). */
function isEntryPoint(argv1: string | undefined): boolean {
  if (argv1 === undefined) return false;
  let path = resolve(argv1);
  try {
    path = realpathSync(path);
  } catch {
    // keep the resolved path
  }
  return import.meta.url === pathToFileURL(path).href;
}

const direct = isEntryPoint(process.argv[1]);
if (direct) {
  process.exitCode = await agentCommand(process.argv.slice(2));
}
