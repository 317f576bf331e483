import { Worker } from 'node:worker_threads';
import type { LoadRequest, LoadResult } from './load-worker.js';

const WORKER_URL = new URL('./load-worker.ts', import.meta.url).href;

/**
 * Workers do not inherit the loader hooks that `--import tsx` registered in the main thread,
 * so a tiny bootstrap registers tsx in the worker before importing the TypeScript module.
 */
const BOOTSTRAP = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL)}); });`;

/** Runs the load generator in a worker thread and resolves with its result. */
export function runLoad(req: LoadRequest): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(BOOTSTRAP, { eval: true, workerData: req });
    worker.once('message', (msg: LoadResult | { fatal: string }) => {
      if ('fatal' in msg) reject(new Error(msg.fatal));
      else resolve(msg);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}
