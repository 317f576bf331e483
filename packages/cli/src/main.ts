import { parseArgs } from 'node:util';
import { CliError } from './client.js';
import { keysCommand } from './commands/keys.js';
import { packageCommand } from './commands/package.js';

const USAGE = `usage: otter <command> [options]

commands:
  server [--config FILE]   start the Otter server (settings: docs/configuration.md)
  keys <subcommand>        signing keys: generate, import, list, register (docs/signing.md)
  package <subcommand>     package versions: push, ls, show (docs/packages.md)
  agent [--config FILE]    run the device agent; 'agent status' shows it (docs/agent.md)
  help                     show this text
`;

/** Runs one `otter` command; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'server':
        return await serverCommand(rest);
      case 'keys':
        return await keysCommand(rest, process.env);
      case 'package':
        return await packageCommand(rest, process.env);
      case 'agent':
        // Loaded on demand: the agent needs none of the server's dependencies.
        return await (await import('@otter/agent')).agentCommand(rest, process.env);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return 0;
      default:
        process.stderr.write(`otter: unknown command '${command}'\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof CliError) {
      process.stderr.write(`otter: ${e.message}\n`);
      return e.exitCode;
    }
    // The server's modules load only for `otter server` (the agent must not need them).
    const isConfigError = command === 'server' && e instanceof (await import('@otter/server')).ConfigError;
    if (isConfigError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS_')) {
      process.stderr.write(`otter: ${(e as Error).message}\n`);
      return 2;
    }
    const err = e as { code?: string; address?: string; port?: number };
    if (err.code === 'EADDRINUSE' || err.code === 'EACCES') {
      process.stderr.write(
        `otter: cannot listen on ${err.address}:${err.port} (${err.code}); set OTTER_PORT (HTTP), OTTER_MQTT_PORT or OTTER_MQTT_WS_PORT, or --config\n`,
      );
      return 1;
    }
    throw e;
  }
}

async function serverCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } } });
  const { startServer } = await import('@otter/server');
  const server = await startServer({
    env: process.env,
    ...(values.config ? { configFile: values.config } : {}),
  });
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      server.log.info({ signal }, 'shutting down');
      server.close().then(resolve, resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
