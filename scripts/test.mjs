#!/usr/bin/env node
// `npm test`: lint, type check, model check, then every test file with node's test runner.
// Backends that need services run when OTTER_TEST_DATABASE_URL / OTTER_TEST_MQTT_URL are set.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

// The SDK's Node.js 20 support notice would otherwise repeat in every test file's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

for (const [name, v] of [
  ['PostgreSQL', 'OTTER_TEST_DATABASE_URL'],
  ['MQTT broker', 'OTTER_TEST_MQTT_URL'],
]) {
  if (!process.env[v]) console.log(`NOTE: ${name} suites are skipped: ${v} is not set`);
}
for (const [name, v] of [
  ['aws CLI', 'OTTER_TEST_AWS_CLI'],
  ['real apt (installs and purges otter-test-* packages)', 'OTTER_TEST_APT'],
]) {
  if (process.env[v] !== '1') console.log(`NOTE: the ${name} suite is skipped: set ${v}=1 to run it`);
}
if (!process.argv.includes('--no-lint')) {
  run('npx', ['biome', 'check', '.']);
  run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']);
}
const files = readdirSync('packages', { recursive: true, withFileTypes: false })
  .map((f) => `packages/${f}`)
  .filter((f) => /\/src\/.*\.test\.ts$/.test(f) && !f.includes('node_modules'))
  .sort();
run(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files]);
