/**
 * Custom handlers: executables in the agent's handlers folder, `<handlersDir>/<name>` for the step
 * handler `custom:<name>` (Device Client handlers such as `install-packages.sh` are found the same way).
 * Called with `params.args` as argv (Device Client documents: `[runAsUser, ...args]`) and a JSON
 * context on stdin: `{jobId, thingName, version, handler, params, files: [{name, path}], workDir}`.
 * Exit 0 = SUCCEEDED; exit 65 (EX_DATAERR) = REJECTED, the handler saying the update is bad and
 * nothing was changed (Otter documents only); anything else, a hang or a failure to start = FAILED.
 */
import { join } from 'node:path';
import { describeExit, execDetails, executableProblem } from '../scripts/executable.js';
import type { HandlerResult, UpdateHandler } from './handler.js';

export interface CustomHandlerOptions {
  /** The handlers folder (config `handlers.dir`). */
  readonly handlersDir: string;
  /** Default limit per run (default 15 minutes); a step's timeoutSeconds overrides it. */
  readonly timeoutMs?: number;
}

/** The exit code with which a custom handler rejects an update (sysexits EX_DATAERR). */
export const REJECT_EXIT_CODE = 65;
const NAME = /^[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,127}$/;

/** A custom handler name is one file name of the handlers folder: no `/`, not `.` or `..`. */
export const isCustomHandlerName = (name: string): boolean =>
  NAME.test(name) && name !== '.' && name !== '..';

const countLines = (s: string) => s.split('\n').filter((l) => l.trim() !== '').length;

/** The handler for `custom:<name>`; the name is checked again here (REJECTED when unusable). */
export function createCustomHandler(name: string, options: CustomHandlerOptions): UpdateHandler {
  return {
    name: `custom:${name}`,
    async install(ctx): Promise<HandlerResult> {
      if (!isCustomHandlerName(name))
        return {
          status: 'REJECTED',
          reasonCode: 'INVALID_HANDLER_NAME',
          reason: `custom handler ${JSON.stringify(name)} is not a file name of the handlers folder`,
        };
      const args = ctx.params.args ?? [];
      if (!Array.isArray(args) || args.some((a) => typeof a !== 'string' || a.includes('\0')))
        return {
          status: 'REJECTED',
          reasonCode: 'INVALID_PARAMS',
          reason: 'args must be an array of strings',
        };
      const allowStdErr = ctx.params.allowStdErr;
      if (allowStdErr !== undefined && (!Number.isSafeInteger(allowStdErr) || (allowStdErr as number) < 0))
        return {
          status: 'REJECTED',
          reasonCode: 'INVALID_PARAMS',
          reason: 'allowStdErr must be an integer >= 0',
        };
      const command = join(options.handlersDir, name);
      const problem = await executableProblem(command);
      if (problem?.code === 'MISSING')
        return {
          status: 'REJECTED',
          reasonCode: 'HANDLER_NOT_FOUND',
          reason: `no handler ${name}: ${problem.message}`,
        };
      if (problem)
        return { status: 'FAILED', reasonCode: `HANDLER_${problem.code}`, reason: problem.message };

      const context = {
        ...(ctx.job ? { jobId: ctx.job.jobId } : {}),
        ...(ctx.job?.thingName === undefined ? {} : { thingName: ctx.job.thingName }),
        ...(ctx.job?.version === undefined ? {} : { version: ctx.job.version }),
        handler: name,
        params: ctx.params,
        files: ctx.files.map((f) => ({ name: f.name, path: f.path })),
        workDir: ctx.workDir,
      };
      const env: Record<string, string> = { OTTER_WORK_DIR: ctx.workDir };
      if (ctx.job) {
        env.OTTER_JOB_ID = ctx.job.jobId;
        if (ctx.job.version !== undefined) env.OTTER_VERSION = ctx.job.version;
        if (ctx.job.thingName !== undefined) env.OTTER_THING_NAME = ctx.job.thingName;
      }
      const first = ctx.files[0];
      if (ctx.files.length === 1 && first) env.OTTER_UPDATE_FILE = first.path;
      const timeoutMs = ctx.timeoutMs ?? options.timeoutMs ?? 15 * 60_000;
      ctx.logger.info(`custom: running ${command} ${(args as string[]).join(' ')}`);
      const r = await ctx.exec(command, args as string[], {
        timeoutMs,
        env,
        cwd: ctx.workDir,
        stdin: `${JSON.stringify(context)}\n`,
      });
      const details = execDetails(r, ctx.params.includeStdOut === true);
      const what = `handler ${name}`;
      if (r.code === 0) {
        if (typeof allowStdErr === 'number' && countLines(r.stderr) > allowStdErr)
          return {
            status: 'FAILED',
            reasonCode: 'STDERR_NOT_ALLOWED',
            reason: `${what} wrote ${countLines(r.stderr)} lines to stderr (allowStdErr: ${allowStdErr})`,
            details,
          };
        return { status: 'SUCCEEDED', details };
      }
      if (r.code === REJECT_EXIT_CODE && ctx.params.deviceClient !== true)
        return { status: 'REJECTED', reasonCode: 'HANDLER_REJECTED', reason: describeExit(what, r), details };
      const reasonCode = r.timedOut
        ? 'HANDLER_TIMEOUT'
        : ctx.signal.aborted
          ? 'CANCELED'
          : r.error !== undefined
            ? 'HANDLER_NOT_STARTED'
            : 'HANDLER_FAILED';
      return { status: 'FAILED', reasonCode, reason: describeExit(what, r, timeoutMs), details };
    },
  };
}
