/**
 * A server process for job-scheduler.multiprocess.test.ts: `startServer` configured from the
 * environment (OTTER_*), reporting its URL to the parent over IPC; on `stop` it closes and sends
 * its scheduler's totals back.
 */
import { startServer } from '../main.js';

const server = await startServer({ env: process.env });
process.send?.({ url: server.url });
process.on('message', (message) => {
  if (message !== 'stop') return;
  void server.close().then(() => process.send?.({ totals: server.scheduler.totals }, () => process.exit(0)));
});
