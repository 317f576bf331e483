/** Checks shared by everything that runs a device-side executable (scripts, custom handlers). */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import type { ExecResult } from '../handlers/handler.js';

export type ExecutableProblem = 'MISSING' | 'NOT_A_FILE' | 'NOT_EXECUTABLE' | 'INSECURE';

/**
 * Why `path` cannot be run, or undefined when it can: it must be a regular file (symlinks followed),
 * executable by the agent and not writable by group or others (anyone who can edit it owns the device).
 */
export async function executableProblem(
  path: string,
): Promise<{ code: ExecutableProblem; message: string } | undefined> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(path);
  } catch {
    return { code: 'MISSING', message: `${path} does not exist` };
  }
  if (!st.isFile()) return { code: 'NOT_A_FILE', message: `${path} is not a regular file` };
  try {
    await access(path, constants.X_OK);
  } catch {
    return { code: 'NOT_EXECUTABLE', message: `${path} is not executable` };
  }
  if ((st.mode & 0o022) !== 0)
    return {
      code: 'INSECURE',
      message: `${path} is writable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod go-w`,
    };
  return undefined;
}

const TAIL = 2000;

/** The last 2000 characters of a stream, trimmed. */
export const tailOf = (s: string, n = TAIL): string => s.trim().slice(-n);

/** One line on how a command ended. */
export function describeExit(what: string, r: ExecResult, timeoutMs?: number): string {
  if (r.timedOut)
    return `${what} did not finish within ${timeoutMs === undefined ? 'its limit' : `${timeoutMs} ms`}`;
  if (r.error !== undefined) return `${what} could not start: ${r.error}`;
  if (r.code === null) return `${what} was killed by ${r.signal}`;
  return `${what} exited with ${r.code}`;
}

/** statusDetails for a finished command: exit code or signal, stderr tail, stdout tail when asked. */
export function execDetails(r: ExecResult, includeStdOut = false): Record<string, string> {
  const out: Record<string, string> = {};
  if (r.code !== null) out.exitCode = String(r.code);
  if (r.signal !== null) out.signal = r.signal;
  const err = tailOf(r.error ?? r.stderr);
  if (err !== '') out.stderr = err;
  if (includeStdOut && r.stdout.trim() !== '') out.stdout = tailOf(r.stdout);
  return out;
}
