/**
 * One agent per device: `<stateDir>/agent.lock`, created with O_EXCL, holding the owner's pid and
 * start time. A lock whose owner is gone (no such pid, or the pid now belongs to a process started
 * at another time) is stale and taken over; a live owner makes a second agent fail fast.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { OtterError } from '@otter/core/errors';

export const LOCK_FILE = 'agent.lock';

export interface LockOwner {
  readonly pid: number;
  /** Epoch ms at which the owner process started. */
  readonly startedAt: number;
  readonly hostname?: string;
}

/** Another agent holds the lock. */
export class AgentLockError extends OtterError {
  readonly owner: LockOwner | undefined;

  constructor(message: string, owner?: LockOwner) {
    super('ConflictException', message);
    this.name = 'AgentLockError';
    this.owner = owner;
  }
}

export interface AgentLock {
  readonly path: string;
  readonly owner: LockOwner;
  /** Whether a stale lock was taken over. */
  readonly tookOver?: LockOwner;
  /** Removes the lock file if it is still ours. */
  release(): void;
}

/** Epoch ms at which process `pid` started (Linux /proc), or undefined where unknown. */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime, clock ticks since boot) counts from after the `(comm)` field, which may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    const btime = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1];
    if (!Number.isFinite(ticks) || btime === undefined) return undefined;
    return Number(btime) * 1000 + (ticks / 100) * 1000; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** Whether the process that wrote `owner` still runs. */
export function isOwnerAlive(owner: LockOwner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false; // ESRCH: gone
  }
  const started = processStartTime(owner.pid);
  // A reused pid: a process started well after or before the owner is not the owner.
  return started === undefined || Math.abs(started - owner.startedAt) < 5000;
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    return typeof v.pid === 'number' && typeof v.startedAt === 'number'
      ? {
          pid: v.pid,
          startedAt: v.startedAt,
          ...(typeof v.hostname === 'string' ? { hostname: v.hostname } : {}),
        }
      : undefined;
  } catch {
    return undefined;
  }
}

const ageMs = (path: string) => {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
};

/** Creates `path` with O_EXCL holding `owner`; false when it already exists. */
function create(path: string, owner: LockOwner): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    writeSync(fd, `${JSON.stringify(owner)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** A lock file that does not parse and is this old was left by a crash between create and write. */
const TORN_AFTER_MS = 10_000;

/** Takes the device's agent lock in `stateDir` or throws AgentLockError naming the holder. */
export function acquireAgentLock(stateDir: string): AgentLock {
  mkdirSync(stateDir, { recursive: true });
  const path = join(stateDir, LOCK_FILE);
  const owner: LockOwner = {
    pid: process.pid,
    startedAt: processStartTime(process.pid) ?? Math.round(Date.now() - process.uptime() * 1000),
    hostname: hostname(),
  };
  const lock = (tookOver?: LockOwner): AgentLock => ({
    path,
    owner,
    ...(tookOver ? { tookOver } : {}),
    release() {
      if (readOwner(path)?.pid === owner.pid) rmSync(path, { force: true });
    },
  });
  if (create(path, owner)) return lock();

  const holder = readOwner(path);
  if (holder === undefined && ageMs(path) < TORN_AFTER_MS) {
    throw new AgentLockError(`Another Otter agent is starting (lock file ${path} is being written)`);
  }
  if (holder !== undefined && isOwnerAlive(holder)) {
    throw new AgentLockError(
      `Another Otter agent is already running on this device (pid ${holder.pid}, started ${new Date(holder.startedAt).toISOString()}); lock file ${path}`,
      holder,
    );
  }
  // Stale. Only one contender may take over: the one that creates the takeover guard.
  const guard = `${path}.takeover`;
  if (ageMs(guard) > TORN_AFTER_MS) rmSync(guard, { force: true });
  if (!create(guard, owner)) {
    throw new AgentLockError(`Another Otter agent is taking over the stale lock ${path}`);
  }
  try {
    const again = readOwner(path);
    if (again !== undefined && (again.pid !== holder?.pid || again.startedAt !== holder.startedAt)) {
      if (isOwnerAlive(again)) {
        throw new AgentLockError(
          `Another Otter agent is already running on this device (pid ${again.pid})`,
          again,
        );
      }
    }
    try {
      unlinkSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (!create(path, owner)) throw new AgentLockError(`Another Otter agent took the lock ${path} first`);
    return lock(holder ?? { pid: 0, startedAt: 0 });
  } finally {
    rmSync(guard, { force: true });
  }
}
