/**
 * What `otter agent status` prints: the running agent (from the lock), the job in flight (from the
 * journal) and the last job's result (`last-result.json`, written atomically when a final status
 * was reported). Reads files only; works while the agent runs and after it stopped.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Journal, type JournalState } from '../journal/journal.js';
import { isOwnerAlive, LOCK_FILE, type LockOwner } from '../lock/agent-lock.js';

export const LAST_RESULT_FILE = 'last-result.json';

/** The last job whose final status was reported (or found already final on the service). */
export interface LastResult {
  readonly jobId: string;
  readonly status: string;
  readonly reasonCode?: string;
  readonly reason?: string;
  /** Epoch ms. */
  readonly finishedAt: number;
  /** Whether the service took the status (false: it was already final there, e.g. canceled). */
  readonly reported: boolean;
  readonly installed?: Readonly<Record<string, string>>;
}

export interface AgentStatus {
  readonly stateDir: string;
  /** The agent holding the lock, when it still runs. */
  readonly running?: LockOwner;
  /** A lock file left by an agent that is gone. */
  readonly staleLock?: LockOwner;
  readonly job?: {
    readonly jobId: string;
    readonly status: string;
    readonly step: string;
    readonly attempt: number;
    readonly startedAt: number;
    readonly updatedAt: number;
    readonly reason?: string;
  };
  /** Set when the journal cannot be read. */
  readonly journalError?: string;
  readonly lastResult?: LastResult;
}

export function writeLastResult(stateDir: string, result: LastResult): void {
  const file = join(stateDir, LAST_RESULT_FILE);
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, `${JSON.stringify(result)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export function readLastResult(stateDir: string): LastResult | undefined {
  try {
    return JSON.parse(readFileSync(join(stateDir, LAST_RESULT_FILE), 'utf8')) as LastResult;
  } catch {
    return undefined;
  }
}

function readLock(stateDir: string): LockOwner | undefined {
  try {
    const v = JSON.parse(readFileSync(join(stateDir, LOCK_FILE), 'utf8')) as LockOwner;
    return typeof v.pid === 'number' && typeof v.startedAt === 'number' ? v : undefined;
  } catch {
    return undefined;
  }
}

export function readAgentStatus(stateDir: string): AgentStatus {
  const owner = readLock(stateDir);
  let state: JournalState | undefined;
  let journalError: string | undefined;
  try {
    // A read-only look: Journal.load also drops a torn temp file, which is harmless.
    state = new Journal(stateDir).load();
  } catch (e) {
    journalError = (e as Error).message;
  }
  const lastResult = readLastResult(stateDir);
  return {
    stateDir,
    ...(owner && isOwnerAlive(owner) ? { running: owner } : owner ? { staleLock: owner } : {}),
    ...(state
      ? {
          job: {
            jobId: state.jobId,
            status: state.status,
            step: state.step,
            attempt: state.attempt,
            startedAt: state.startedAt,
            updatedAt: state.updatedAt,
            ...(state.reason === undefined ? {} : { reason: state.reason }),
          },
        }
      : {}),
    ...(journalError === undefined ? {} : { journalError }),
    ...(lastResult ? { lastResult } : {}),
  };
}

/** The status as lines for people. */
export function formatAgentStatus(s: AgentStatus): string {
  const iso = (ms: number) => new Date(ms).toISOString();
  const lines = [`state dir:   ${s.stateDir}`];
  if (s.running)
    lines.push(`agent:       running (pid ${s.running.pid}, started ${iso(s.running.startedAt)})`);
  else if (s.staleLock) lines.push(`agent:       not running (stale lock of pid ${s.staleLock.pid})`);
  else lines.push('agent:       not running');
  if (s.journalError) lines.push(`journal:     unreadable: ${s.journalError}`);
  if (s.job)
    lines.push(
      `current job: ${s.job.jobId} ${s.job.status} at step ${s.job.step} (attempt ${s.job.attempt}, since ${iso(s.job.startedAt)})`,
    );
  else lines.push('current job: none');
  if (s.lastResult) {
    const r = s.lastResult;
    lines.push(
      `last result: ${r.jobId} ${r.status}${r.reasonCode ? ` (${r.reasonCode})` : ''} at ${iso(r.finishedAt)}${r.reported ? '' : ' [already final on the service]'}`,
    );
  } else lines.push('last result: none');
  return lines.join('\n');
}
