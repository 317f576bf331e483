/**
 * Builds a release tarball of the device agent for the `agent` self-update handler
 * (docs/agent-self-update.md):
 *
 *   node --import tsx packages/agent/src/release/build-release.ts --version 1.1.0 [--out FILE]
 *
 * The tarball holds `bin/otter-agent` (a sh script running `node lib/otter-agent.mjs`, node from
 * $OTTER_AGENT_NODE or PATH), `lib/` (the agent and all its dependencies bundled by esbuild into ESM
 * chunks: the MQTT client is a chunk of its own, loaded only with transport mqtt) and `VERSION`.
 * It needs Node.js 20 on the device and nothing else: no npm install, none of the server's modules.
 * esbuild comes with tsx (a dev dependency of the repository), so build on a development machine.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));
const VERSION_PATTERN = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,127}$/;

const WRAPPER = (version: string) => `#!/bin/sh
# Otter device agent ${version}: run by the service as <installRoot>/current/bin/otter-agent.
here=$(dirname "$0")
exec "\${OTTER_AGENT_NODE:-node}" "$here/../lib/otter-agent.mjs" "$@"
`;

/** Builds the release; returns the tarball's path. */
export async function buildAgentRelease(version: string, out: string): Promise<string> {
  if (!VERSION_PATTERN.test(version) || version.includes('..'))
    throw new Error(`--version ${JSON.stringify(version)} is not a plain release name`);
  const { build } = await import('esbuild');
  const stage = mkdtempSync(join(tmpdir(), 'otter-agent-release-'));
  try {
    mkdirSync(join(stage, 'bin'));
    await build({
      entryPoints: { 'otter-agent': MAIN },
      bundle: true,
      splitting: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outdir: join(stage, 'lib'),
      outExtension: { '.js': '.mjs' },
      chunkNames: 'chunks/[name]-[hash]',
      // Drops comments (smaller, and an ASCII-only file is held by V8 in half the memory).
      minifyWhitespace: true,
      charset: 'ascii',
      logLevel: 'warning',
      // CommonJS dependencies (ajv, mqtt) call require().
      banner: {
        js: "import { createRequire as __otterCreateRequire } from 'node:module'; const require = __otterCreateRequire(import.meta.url);",
      },
    });
    writeFileSync(join(stage, 'bin', 'otter-agent'), WRAPPER(version));
    chmodSync(join(stage, 'bin', 'otter-agent'), 0o755);
    writeFileSync(join(stage, 'VERSION'), `${version}\n`);
    const file = resolve(out);
    mkdirSync(dirname(file), { recursive: true });
    execFileSync('tar', ['-czf', file, '-C', stage, 'bin', 'lib', 'VERSION']);
    return file;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { version: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || values.version === undefined) {
    process.stderr.write(
      'usage: node --import tsx packages/agent/src/release/build-release.ts --version VERSION [--out FILE]\n',
    );
    process.exitCode = values.help ? 0 : 2;
  } else {
    try {
      const file = await buildAgentRelease(values.version, values.out ?? `otter-agent-${values.version}.tgz`);
      process.stdout.write(`${file}\n`);
    } catch (e) {
      process.stderr.write(`build-release: ${(e as Error).message}\n`);
      process.exitCode = 1;
    }
  }
}
