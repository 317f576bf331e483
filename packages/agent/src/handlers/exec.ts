import { spawn } from 'node:child_process';
import type { Exec, ExecOptions, ExecResult } from './handler.js';

/** Output kept per stream: enough for an error tail, bounded for chatty commands. */
const MAX_OUTPUT = 256 * 1024;
const KILL_GRACE_MS = 5000;

/** The default Exec: spawn without a shell, bounded output, timeout and abort signal honoured. */
export function createExec(signal?: AbortSignal): Exec {
  return (cmd: string, args: readonly string[], options: ExecOptions = {}) =>
    new Promise<ExecResult>((resolve) => {
      const out: string[] = ['', ''];
      let timedOut = false;
      let error: string | undefined;
      const child = spawn(cmd, [...args], {
        env: { ...process.env, ...options.env },
        stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
        // Its own process group, so a timeout also stops what a script started (a `sleep` would
        // otherwise keep the pipes open and the command "running" after its shell was killed).
        detached: true,
      });
      if (options.stdin !== undefined && child.stdin) {
        // A command that exits without reading its input must not crash the agent (EPIPE).
        child.stdin.on('error', () => {});
        child.stdin.end(options.stdin);
      }
      const keep = (i: 0 | 1) => (chunk: Buffer) => {
        const s = out[i]! + chunk.toString('utf8');
        out[i] = s.length > MAX_OUTPUT ? s.slice(-MAX_OUTPUT) : s;
      };
      child.stdout?.on('data', keep(0));
      child.stderr?.on('data', keep(1));
      let killer: NodeJS.Timeout | undefined;
      const kill = (sig: NodeJS.Signals) => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, sig);
        } catch {
          child.kill(sig);
        }
      };
      const stop = () => {
        kill('SIGTERM');
        killer ??= setTimeout(() => kill('SIGKILL'), KILL_GRACE_MS);
      };
      const timer =
        options.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              timedOut = true;
              stop();
            }, options.timeoutMs);
      signal?.addEventListener('abort', stop, { once: true });
      child.on('error', (e) => {
        error = e.message;
      });
      child.on('close', (code, sig) => {
        clearTimeout(timer);
        clearTimeout(killer);
        signal?.removeEventListener('abort', stop);
        resolve({
          code: error === undefined ? code : null,
          signal: sig,
          stdout: out[0]!,
          stderr: out[1]!,
          timedOut,
          ...(error === undefined ? {} : { error }),
        });
      });
    });
}
