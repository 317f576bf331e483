/** A real HandlerContext for handler tests: real exec, a temp work folder, saveState recorded. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createExec } from './exec.js';
import type { DownloadedFile, HandlerContext } from './handler.js';

export function testContext(
  params: Record<string, unknown>,
  files: DownloadedFile[] = [],
  extra: Partial<HandlerContext> = {},
): HandlerContext & { saved: unknown[] } {
  const saved: unknown[] = [];
  const noop = () => {};
  return {
    workDir: mkdtempSync(join(tmpdir(), 'otter-work-')),
    files,
    params,
    logger: { debug: noop, info: noop, warn: noop, error: noop },
    signal: new AbortController().signal,
    exec: createExec(),
    saveState: async (s) => {
      saved.push(structuredClone(s));
    },
    job: { jobId: 'job-1', thingName: 'dev-1', version: '2.0.0' },
    ...extra,
    saved,
  };
}
