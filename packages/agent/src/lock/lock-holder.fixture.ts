/** Test helper process: takes the agent lock in argv[2], says so, and holds it until killed. */
import { acquireAgentLock } from './agent-lock.js';

try {
  const lock = acquireAgentLock(process.argv[2] ?? '.');
  process.stdout.write(`locked ${lock.owner.pid}\n`);
  setInterval(() => {}, 60_000);
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(3);
}
