/**
 * Test helper process: runs the agent handler's install (JSON options in argv[2]) and kills itself
 * with SIGKILL at the stage `crashAt`, the way a power cut would. Saved state goes to `stateFile`.
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { createAgentUpdateHandler } from './agent-update.js';
import { testContext } from './test-context.fixture.js';

const o = JSON.parse(process.argv[2] ?? '{}') as {
  root: string;
  tarball: string;
  version: string;
  stateFile: string;
  crashAt?: string;
};
const handler = createAgentUpdateHandler({
  installRoot: o.root,
  onStage: (stage) => {
    if (stage === o.crashAt) process.kill(process.pid, 'SIGKILL');
  },
});
const ctx = testContext({ version: o.version }, [{ name: 'agent.tgz', path: o.tarball }], {
  saveState: async (s) => {
    const fd = openSync(o.stateFile, 'w');
    writeSync(fd, JSON.stringify(s));
    fsyncSync(fd);
    closeSync(fd);
  },
});
handler.install(ctx).then((r) => process.stdout.write(`${JSON.stringify(r)}\n`));
