/**
 * The `script` handler (seed 003's update script): runs `<scriptsDir>/<script>` (default `update`),
 * or a downloaded file of the update (`scriptFile`), with the downloaded file's path as its first
 * argument, then `args`. Exit 0 = SUCCEEDED; anything else, a hang past the timeout, or a script
 * that cannot start = FAILED. Environment: OTTER_UPDATE_FILE, OTTER_UPDATE_NAME, OTTER_JOB_ID,
 * OTTER_VERSION, OTTER_THING_NAME, OTTER_WORK_DIR.
 */
import { chmod, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeExit, execDetails, executableProblem } from '../scripts/executable.js';
import type { DownloadedFile, HandlerContext, HandlerResult, UpdateHandler } from './handler.js';

export interface ScriptHandlerOptions {
  /** Folder of the device's scripts; required to run one by name. */
  readonly scriptsDir?: string;
  /** Default limit per run (default 15 minutes); a step's timeoutSeconds overrides it. */
  readonly timeoutMs?: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;
const PARAMS = ['script', 'scriptFile', 'file', 'args'];

const rejected = (reasonCode: string, reason: string): HandlerResult => ({
  status: 'REJECTED',
  reasonCode,
  reason,
});
const failed = (reasonCode: string, reason: string, details?: Record<string, string>): HandlerResult => ({
  status: 'FAILED',
  reasonCode,
  reason,
  ...(details ? { details } : {}),
});

interface ScriptParams {
  readonly script?: string;
  readonly scriptFile?: string;
  readonly file?: string;
  readonly args: string[];
}

/** The params, or the reason they are refused. */
function readParams(p: Readonly<Record<string, unknown>>): ScriptParams | string {
  const unknown = Object.keys(p).find((k) => !PARAMS.includes(k));
  if (unknown !== undefined) return `unknown parameter ${unknown}`;
  for (const k of ['script', 'scriptFile', 'file'] as const) {
    const v = p[k];
    if (v !== undefined && (typeof v !== 'string' || !NAME.test(v)))
      return `${k} must be a file name (letters, digits, . _ + -; no / or ..)`;
  }
  if (p.script !== undefined && p.scriptFile !== undefined) return 'give script or scriptFile, not both';
  const args = p.args ?? [];
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string' || a.includes('\0')))
    return 'args must be an array of strings';
  return {
    ...(p.script === undefined ? {} : { script: p.script as string }),
    ...(p.scriptFile === undefined ? {} : { scriptFile: p.scriptFile as string }),
    ...(p.file === undefined ? {} : { file: p.file as string }),
    args: args as string[],
  };
}

function findFile(ctx: HandlerContext, name: string | undefined): DownloadedFile | undefined | string {
  if (name === undefined) return ctx.files.length === 1 ? ctx.files[0] : undefined;
  return ctx.files.find((f) => f.name === name) ?? `no downloaded file named ${name}`;
}

/** The `script` update handler. */
export function createScriptHandler(options: ScriptHandlerOptions = {}): UpdateHandler {
  return {
    name: 'script',
    async install(ctx) {
      const params = readParams(ctx.params);
      if (typeof params === 'string') return rejected('INVALID_PARAMS', params);
      const file = findFile(ctx, params.file);
      if (typeof file === 'string') return rejected('FILE_NOT_FOUND', file);
      let command: string;
      if (params.scriptFile !== undefined) {
        const source = findFile(ctx, params.scriptFile);
        if (typeof source !== 'object')
          return rejected('FILE_NOT_FOUND', `no downloaded file named ${params.scriptFile}`);
        // The verified download is copied so that making it executable changes nothing else.
        command = join(ctx.workDir, `script-${params.scriptFile}`);
        try {
          await copyFile(source.path, command);
          await chmod(command, 0o700);
        } catch (e) {
          return failed('SCRIPT_NOT_STARTED', `cannot prepare ${params.scriptFile}: ${(e as Error).message}`);
        }
      } else {
        if (options.scriptsDir === undefined)
          return failed('SCRIPTS_DIR_NOT_CONFIGURED', 'the agent has no scriptsDir configured');
        command = join(options.scriptsDir, params.script ?? 'update');
        const problem = await executableProblem(command);
        if (problem)
          return failed(
            problem.code === 'MISSING' ? 'SCRIPT_MISSING' : `SCRIPT_${problem.code}`,
            problem.message,
          );
      }
      const timeoutMs = ctx.timeoutMs ?? options.timeoutMs ?? 15 * 60_000;
      const env: Record<string, string> = { OTTER_WORK_DIR: ctx.workDir };
      if (file) {
        env.OTTER_UPDATE_FILE = file.path;
        env.OTTER_UPDATE_NAME = file.name;
      }
      if (ctx.job) {
        env.OTTER_JOB_ID = ctx.job.jobId;
        if (ctx.job.version !== undefined) env.OTTER_VERSION = ctx.job.version;
        if (ctx.job.thingName !== undefined) env.OTTER_THING_NAME = ctx.job.thingName;
      }
      const args = [...(file ? [file.path] : []), ...params.args];
      ctx.logger.info(`script: running ${command} ${args.join(' ')}`);
      const r = await ctx.exec(command, args, { timeoutMs, env, cwd: ctx.workDir });
      const details = execDetails(r);
      if (r.code === 0)
        return { status: 'SUCCEEDED', ...(Object.keys(details).length > 1 ? { details } : {}) };
      const code = r.timedOut
        ? 'SCRIPT_TIMEOUT'
        : ctx.signal.aborted
          ? 'CANCELED'
          : r.error !== undefined
            ? 'SCRIPT_NOT_STARTED'
            : 'SCRIPT_FAILED';
      return failed(code, describeExit(command, r, timeoutMs), details);
    },
  };
}
