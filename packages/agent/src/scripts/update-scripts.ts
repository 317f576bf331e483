/**
 * Pre- and post-update scripts (seed 002's `managedRespawn`). When enabled, `<scriptsDir>/pre-update`
 * and `<scriptsDir>/post-update` must both exist, be executable (and not writable by group or others)
 * and exit 0 within the timeout. runPre checks both before running anything, so a missing post script
 * fails the job before anything is installed. A failing post script is reported, not acted on: the
 * agent loop decides to roll back.
 */
import { join } from 'node:path';
import { createExec } from '../handlers/exec.js';
import type { Exec } from '../handlers/handler.js';
import { describeExit, execDetails, executableProblem } from './executable.js';

export interface UpdateScriptsOptions {
  /** Config `managedRespawn`: when false, runPre and runPost do nothing. */
  readonly enabled: boolean;
  readonly scriptsDir?: string;
  /** Per script (default 5 minutes). */
  readonly timeoutMs?: number;
  readonly exec?: Exec;
  readonly preName?: string;
  readonly postName?: string;
}

/** What a script is told about the update (environment OTTER_JOB_ID, OTTER_VERSION, ...). */
export interface UpdateScriptEnv {
  readonly jobId?: string;
  readonly thingName?: string;
  /** The version being installed. */
  readonly version?: string;
  /** The version installed before the update. */
  readonly previousVersion?: string;
  /** post-update only: how the install went (SUCCEEDED or FAILED). */
  readonly installResult?: string;
}

export type UpdateScriptOutcome =
  | { readonly ok: true; readonly ran: boolean }
  | {
      readonly ok: false;
      /** PRE_SCRIPT_MISSING, POST_SCRIPT_NOT_EXECUTABLE, PRE_SCRIPT_FAILED, POST_SCRIPT_TIMEOUT, ... */
      readonly reasonCode: string;
      readonly reason: string;
      readonly details?: Readonly<Record<string, string>>;
    };

export interface UpdateScripts {
  /** Checks that both scripts are usable, then runs the pre-update script. */
  runPre(env?: UpdateScriptEnv): Promise<UpdateScriptOutcome>;
  /** Runs the post-update script (after install); not ok → the caller rolls back. */
  runPost(env?: UpdateScriptEnv): Promise<UpdateScriptOutcome>;
}

type Phase = 'PRE' | 'POST';

export function createUpdateScripts(options: UpdateScriptsOptions): UpdateScripts {
  const exec = options.exec ?? createExec();
  const timeoutMs = options.timeoutMs ?? 5 * 60_000;
  const names: Record<Phase, string> = {
    PRE: options.preName ?? 'pre-update',
    POST: options.postName ?? 'post-update',
  };

  async function check(phase: Phase): Promise<UpdateScriptOutcome | undefined> {
    if (options.scriptsDir === undefined)
      return {
        ok: false,
        reasonCode: `${phase}_SCRIPT_MISSING`,
        reason: 'managedRespawn is on but no scriptsDir is configured',
      };
    const problem = await executableProblem(join(options.scriptsDir, names[phase]));
    if (!problem) return undefined;
    return { ok: false, reasonCode: `${phase}_SCRIPT_${problem.code}`, reason: problem.message };
  }

  async function run(phase: Phase, env: UpdateScriptEnv): Promise<UpdateScriptOutcome> {
    const path = join(options.scriptsDir ?? '', names[phase]);
    const vars: Record<string, string> = { OTTER_PHASE: phase === 'PRE' ? 'pre-update' : 'post-update' };
    if (env.jobId !== undefined) vars.OTTER_JOB_ID = env.jobId;
    if (env.thingName !== undefined) vars.OTTER_THING_NAME = env.thingName;
    if (env.version !== undefined) vars.OTTER_VERSION = env.version;
    if (env.previousVersion !== undefined) vars.OTTER_PREVIOUS_VERSION = env.previousVersion;
    if (env.installResult !== undefined) vars.OTTER_INSTALL_RESULT = env.installResult;
    const r = await exec(path, [], { timeoutMs, env: vars });
    if (r.code === 0) return { ok: true, ran: true };
    return {
      ok: false,
      reasonCode: r.timedOut
        ? `${phase}_SCRIPT_TIMEOUT`
        : r.error !== undefined
          ? `${phase}_SCRIPT_NOT_STARTED`
          : `${phase}_SCRIPT_FAILED`,
      reason: describeExit(path, r, timeoutMs),
      details: execDetails(r),
    };
  }

  return {
    async runPre(env = {}) {
      if (!options.enabled) return { ok: true, ran: false };
      const problem = (await check('PRE')) ?? (await check('POST'));
      if (problem) return problem;
      return run('PRE', env);
    },
    async runPost(env = {}) {
      if (!options.enabled) return { ok: true, ran: false };
      const problem = await check('POST');
      if (problem) return problem;
      return run('POST', env);
    },
  };
}
