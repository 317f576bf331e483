/**
 * The `agent` handler: the agent updates itself. A release is a tarball (`.tar`, `.tar.gz`, `.tgz`,
 * `.tar.xz`: whatever the system's GNU tar reads) holding `bin/otter-agent`, at its root or inside one
 * top-level folder. Under the install root:
 *
 *   releases/<version>/   one folder per release (at most the current and the previous one are kept)
 *   current -> releases/<version>   the symlink the service starts (`current/bin/otter-agent`)
 *
 * Install: saveState (previous version) → unpack into `releases/.tmp-*` and check it → rename to
 * `releases/<version>` → switch `current` (a new symlink under a temporary name, renamed over it) →
 * run the health check (`current/bin/otter-agent --health` or the configured command) with a
 * timeout → SUCCEEDED with `restartRequired`, or `current` switched back and FAILED. The loop (or
 * systemd) restarts the agent; when the new agent does not come up healthy within its deadline, the
 * loop calls `rollback` with the saved state. Every step leaves `current` on a complete release.
 */
import { randomBytes } from 'node:crypto';
import {
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { isAbsolute, join, normalize, relative, sep } from 'node:path';
import type { HandlerContext, HandlerResult, UpdateHandler } from './handler.js';
import { pickDownloadedFile, Refusal } from './refusal.js';

export interface AgentUpdateHandlerOptions {
  /** The agent's install root (default `/opt/otter-agent`). */
  readonly installRoot?: string;
  /** Health check command and arguments; default `[<root>/current/bin/otter-agent, --health]`. */
  readonly healthCommand?: readonly string[];
  /** The health check is killed and counts as failed after this long (default 30 s). */
  readonly healthTimeoutMs?: number;
  /** How long the loop waits for the restarted agent to report healthy (default 120 s; reported). */
  readonly restartDeadlineMs?: number;
  /** The agent's configuration file, given to the health check as OTTER_AGENT_CONFIG. */
  readonly configFile?: string;
  /**
   * Starts of the new release through `<installRoot>/launcher` allowed without a confirmation;
   * the next start switches `current` back to the previous release (default 3).
   */
  readonly maxUnconfirmedStarts?: number;
  /** Called after each stage, before the next (the loop may journal it). */
  readonly onStage?: (stage: AgentUpdateStage, state: AgentUpdateState) => void | Promise<void>;
}

export const AGENT_UPDATE_STAGES = ['unpacked', 'switched', 'healthy'] as const;
export type AgentUpdateStage = (typeof AGENT_UPDATE_STAGES)[number];

/** What rollback needs; saved (ctx.saveState) before anything changes. */
export interface AgentUpdateState {
  readonly installRoot: string;
  readonly version: string;
  /** The release `current` pointed to before; null on a first install. */
  readonly previousVersion: string | null;
}

/** An agent result: SUCCEEDED ones ask the loop to restart the agent. */
export type AgentUpdateResult = HandlerResult & { readonly restartRequired?: boolean };

export interface AgentUpdateHandler extends UpdateHandler {
  install(ctx: HandlerContext): Promise<AgentUpdateResult>;
  /**
   * After the restart: checks that `current` is still the new release (ctx.savedState) and runs the
   * health check again. SUCCEEDED or FAILED; changes nothing (the loop rolls back on FAILED).
   */
  confirm(ctx: HandlerContext): Promise<HandlerResult>;
  /** How long the restarted agent has to confirm the release (ms). */
  readonly restartDeadlineMs: number;
}

/** A handler whose SUCCEEDED results may ask for a restart, confirmed by `confirm` afterwards. */
export const isRestartingHandler = (h: UpdateHandler): h is AgentUpdateHandler =>
  typeof (h as Partial<AgentUpdateHandler>).confirm === 'function';

export const DEFAULT_AGENT_INSTALL_ROOT = '/opt/otter-agent';
const RELEASES = 'releases';
const CURRENT = 'current';
const TMP = '.tmp-';
const AGENT_BIN = join('bin', 'otter-agent');
const VERSION_PATTERN = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,127}$/;
const PARAMS = ['file', 'version'];

const refusalResult = (e: unknown): AgentUpdateResult =>
  e instanceof Refusal
    ? { status: e.status, reasonCode: e.reasonCode, reason: e.message }
    : { status: 'FAILED', reasonCode: 'HANDLER_ERROR', reason: String((e as Error)?.message ?? e) };

async function fsyncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The version `current` points to (`releases/<version>`), or undefined when there is none. */
export async function readCurrentAgentRelease(installRoot: string): Promise<string | undefined> {
  const target = await readlink(join(installRoot, CURRENT)).catch(() => undefined);
  if (target === undefined) return undefined;
  const parts = normalize(target).split(sep);
  return parts.length === 2 && parts[0] === RELEASES && parts[1] !== undefined ? parts[1] : undefined;
}

/** The launcher systemd starts (`<installRoot>/launcher`), outside every release. */
export const AGENT_LAUNCHER = 'launcher';
/** `<version> <previousVersion> <maxStarts>` while a switched release has not confirmed itself. */
const UNCONFIRMED = 'unconfirmed';
/** How often the launcher started the unconfirmed release. */
const UNCONFIRMED_STARTS = 'unconfirmed-starts';
/** Written by the launcher when it switched back: `<version> <previousVersion> <starts>`. */
const ROLLED_BACK = 'rolled-back';

/**
 * The launcher: counts starts of an unconfirmed release and, once it has started `maxStarts` times
 * without confirming itself (crashing before the job loop could), switches `current` back to the
 * previous release (a temporary symlink renamed over it) before starting what is current. Plain
 * sh, so a release that cannot run at all (broken node, syntax error) is still rolled back.
 */
const LAUNCHER_SCRIPT = `#!/bin/sh
# Otter agent launcher, written by the agent (docs/agent-self-update.md); the service starts this.
root=$(cd "$(dirname "$0")" && pwd)
if [ -f "$root/${UNCONFIRMED}" ]; then
  read -r version previous max < "$root/${UNCONFIRMED}"
  starts=$(cat "$root/${UNCONFIRMED_STARTS}" 2>/dev/null || echo 0)
  starts=$((starts + 1))
  if [ "$starts" -gt "\${max:-3}" ] && [ "$previous" != "-" ] && [ -e "$root/${RELEASES}/$previous/${AGENT_BIN}" ]; then
    echo "otter-agent launcher: release $version started $((starts - 1)) times without confirming itself; back to $previous" >&2
    ln -sfn "${RELEASES}/$previous" "$root/${TMP}current-launcher" && mv -Tf "$root/${TMP}current-launcher" "$root/${CURRENT}"
    echo "$version $previous $((starts - 1))" > "$root/${ROLLED_BACK}"
    rm -f "$root/${UNCONFIRMED}" "$root/${UNCONFIRMED_STARTS}"
    sync
  else
    echo "$starts" > "$root/${UNCONFIRMED_STARTS}.tmp" && mv -f "$root/${UNCONFIRMED_STARTS}.tmp" "$root/${UNCONFIRMED_STARTS}"
  fi
fi
exec "$root/${CURRENT}/${AGENT_BIN}" "$@"
`;

/** Writes (or refreshes) `<installRoot>/launcher`; returns its path. */
export async function writeAgentLauncher(installRoot: string): Promise<string> {
  const path = join(installRoot, AGENT_LAUNCHER);
  const now = await readFile(path, 'utf8').catch(() => undefined);
  if (now === LAUNCHER_SCRIPT) return path;
  const tmp = join(installRoot, `${TMP}launcher-${randomBytes(6).toString('hex')}`);
  await writeFile(tmp, LAUNCHER_SCRIPT, { mode: 0o755 });
  await rename(tmp, path);
  await fsyncDir(installRoot);
  return path;
}

/** Marks `state.version` unconfirmed for the launcher (before the restart). */
async function markUnconfirmed(state: AgentUpdateState, maxStarts: number): Promise<void> {
  const root = state.installRoot;
  await rm(join(root, UNCONFIRMED_STARTS), { force: true });
  await rm(join(root, ROLLED_BACK), { force: true });
  await writeFile(join(root, UNCONFIRMED), `${state.version} ${state.previousVersion ?? '-'} ${maxStarts}\n`);
  await fsyncDir(root);
}

/** Drops the launcher's records (confirmed, or rolled back). */
async function clearLauncherRecords(root: string): Promise<void> {
  for (const name of [UNCONFIRMED, UNCONFIRMED_STARTS, ROLLED_BACK])
    await rm(join(root, name), { force: true });
}

/** What the launcher wrote when it switched back from `version`, if it did. */
async function launcherRollback(
  root: string,
  version: string,
): Promise<{ previous: string; starts: string } | undefined> {
  const text = await readFile(join(root, ROLLED_BACK), 'utf8').catch(() => undefined);
  const [v, previous, starts] = (text ?? '').trim().split(/\s+/);
  return v === version && previous !== undefined && starts !== undefined ? { previous, starts } : undefined;
}

/** Points `current` at `releases/<version>` (or removes it for null) with one rename. */
async function switchCurrent(root: string, version: string | null): Promise<void> {
  const link = join(root, CURRENT);
  if (version === null) {
    await rm(link, { force: true });
  } else {
    const tmp = join(root, `${TMP}current-${randomBytes(6).toString('hex')}`);
    await symlink(join(RELEASES, version), tmp);
    try {
      await rename(tmp, link);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }
  await fsyncDir(root);
}

/** Removes what an interrupted install left behind (temporary folders and links). */
async function removeLeftovers(root: string): Promise<void> {
  for (const dir of [root, join(root, RELEASES)])
    for (const name of await readdir(dir).catch(() => [] as string[]))
      if (name.startsWith(TMP)) await rm(join(dir, name), { recursive: true, force: true });
}

function readParams(ctx: HandlerContext): { file: { name: string; path: string }; version: string } {
  const p = ctx.params;
  const unknown = Object.keys(p).find((k) => !PARAMS.includes(k));
  if (unknown !== undefined) throw new Refusal('INVALID_PARAMS', `unknown parameter ${unknown}`);
  if (p.file !== undefined && typeof p.file !== 'string')
    throw new Refusal('INVALID_PARAMS', 'file must be a string');
  const version = p.version ?? ctx.job?.version;
  if (typeof version !== 'string' || !VERSION_PATTERN.test(version) || version.includes('..'))
    throw new Refusal(
      'INVALID_VERSION',
      `the release version ${JSON.stringify(version ?? null)} is missing or not a plain name (params.version or the job's version)`,
    );
  const file = pickDownloadedFile(ctx, p.file as string | undefined);
  return { file, version };
}

/** Checks the release root exists as a folder. */
async function checkRoot(root: string): Promise<void> {
  if (!isAbsolute(root)) throw new Refusal('HANDLER_NOT_CONFIGURED', `install root ${root} is not absolute`);
  const st = await lstat(root).catch(() => undefined);
  if (!st?.isDirectory())
    throw new Refusal('AGENT_ROOT_MISSING', `the agent install root ${root} does not exist`, 'FAILED');
  await mkdir(join(root, RELEASES), { recursive: true });
}

/** Member names from `tar -tf`: none absolute, none with `..`. */
async function listTarball(ctx: HandlerContext, path: string): Promise<void> {
  const r = await ctx.exec('tar', ['-tf', path], { timeoutMs: 60_000 });
  if (r.code !== 0)
    throw new Refusal(
      'INVALID_RELEASE',
      `the release is not a tarball tar can read: ${(r.error ?? r.stderr).trim().slice(-300)}`,
    );
  for (const member of r.stdout.split('\n')) {
    if (member === '') continue;
    if (member.startsWith('/') || member.split('/').includes('..'))
      throw new Refusal('INVALID_RELEASE', `the release has an unsafe member ${JSON.stringify(member)}`);
  }
}

/** Every entry is a file, folder or a symlink that stays inside `dir`. */
async function checkTree(dir: string, top: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await checkTree(path, top);
    else if (entry.isSymbolicLink()) {
      const target = await readlink(path);
      const resolved = isAbsolute(target) ? target : join(dir, target);
      const rel = relative(top, resolved);
      if (isAbsolute(target) || rel.startsWith('..') || isAbsolute(rel))
        throw new Refusal(
          'INVALID_RELEASE',
          `the release's symlink ${relative(top, path)} -> ${target} leads outside it`,
        );
    } else if (!entry.isFile())
      throw new Refusal('INVALID_RELEASE', `the release holds a special file ${relative(top, path)}`);
  }
}

/** Unpacks into `releases/.tmp-*`; returns the folder holding `bin/otter-agent`. */
async function unpack(ctx: HandlerContext, root: string, tarball: string, version: string): Promise<string> {
  await listTarball(ctx, tarball);
  const tmp = join(root, RELEASES, `${TMP}${version}-${randomBytes(6).toString('hex')}`);
  await mkdir(tmp);
  const r = await ctx.exec('tar', ['-xf', tarball, '-C', tmp, '--no-same-owner'], { timeoutMs: 300_000 });
  if (r.code !== 0)
    throw new Refusal(
      'UNPACK_FAILED',
      `tar could not unpack the release: ${(r.error ?? r.stderr).trim().slice(-300)}`,
      'FAILED',
    );
  await checkTree(tmp, tmp);
  const isAgent = async (dir: string) => (await lstat(join(dir, AGENT_BIN)).catch(() => undefined))?.isFile();
  if (await isAgent(tmp)) return tmp;
  const entries = await readdir(tmp, { withFileTypes: true });
  const only = entries.length === 1 && entries[0]?.isDirectory() ? join(tmp, entries[0].name) : undefined;
  if (only !== undefined && (await isAgent(only))) {
    // One top-level folder: move it up to a temp name of its own, drop the shell.
    const inner = `${tmp}-inner`;
    await rename(only, inner);
    await rm(tmp, { recursive: true });
    return inner;
  }
  throw new Refusal('INVALID_RELEASE', `the release has no ${AGENT_BIN} (at its root or in one folder)`);
}

/** Runs the health check; resolves a reason when it fails. */
async function healthCheck(
  ctx: HandlerContext,
  root: string,
  version: string,
  options: AgentUpdateHandlerOptions,
): Promise<{ ok: true } | { ok: false; reasonCode: string; reason: string }> {
  const [cmd, ...args] = options.healthCommand ?? [join(root, CURRENT, AGENT_BIN), '--health'];
  if (cmd === undefined) return { ok: false, reasonCode: 'HEALTH_CHECK_FAILED', reason: 'no health command' };
  const timeoutMs = options.healthTimeoutMs ?? 30_000;
  const r = await ctx.exec(cmd, args, {
    timeoutMs,
    cwd: join(root, CURRENT),
    env: {
      OTTER_AGENT_VERSION: version,
      OTTER_AGENT_ROOT: root,
      ...(options.configFile === undefined ? {} : { OTTER_AGENT_CONFIG: options.configFile }),
    },
  });
  if (r.code === 0) return { ok: true };
  const tail = (r.error ?? r.stderr).trim().slice(-300);
  if (r.timedOut)
    return {
      ok: false,
      reasonCode: 'HEALTH_CHECK_TIMEOUT',
      reason: `the health check did not finish within ${timeoutMs} ms`,
    };
  return {
    ok: false,
    reasonCode: 'HEALTH_CHECK_FAILED',
    reason: `the health check ${cmd} exited ${r.code ?? r.signal ?? 'without starting'}${tail ? `: ${tail}` : ''}`,
  };
}

/** Puts `current` back on the previous release and removes the new one; idempotent. */
async function restore(state: AgentUpdateState): Promise<string> {
  const root = state.installRoot;
  const now = await readCurrentAgentRelease(root);
  let done: string;
  if (now === state.version && state.version !== state.previousVersion) {
    await switchCurrent(root, state.previousVersion);
    done = `current is ${state.previousVersion ?? 'removed'} again`;
  } else done = `current was still ${now ?? 'absent'}`;
  if (state.version !== state.previousVersion && (await readCurrentAgentRelease(root)) !== state.version)
    await rm(join(root, RELEASES, state.version), { recursive: true, force: true });
  await removeLeftovers(root);
  await clearLauncherRecords(root);
  return done;
}

/** Keeps the current and the previous release, removes older ones. */
async function prune(root: string, keep: readonly (string | null)[]): Promise<void> {
  for (const name of await readdir(join(root, RELEASES)))
    if (!name.startsWith(TMP) && !keep.includes(name))
      await rm(join(root, RELEASES, name), { recursive: true, force: true });
}

/** The `agent` self-update handler. */
export function createAgentUpdateHandler(options: AgentUpdateHandlerOptions = {}): AgentUpdateHandler {
  const root = options.installRoot ?? DEFAULT_AGENT_INSTALL_ROOT;
  const restartDeadlineMs = options.restartDeadlineMs ?? 120_000;
  const validState = (state: AgentUpdateState | undefined): state is AgentUpdateState =>
    typeof state?.installRoot === 'string' &&
    typeof state.version === 'string' &&
    VERSION_PATTERN.test(state.version) &&
    (state.previousVersion === null ||
      (typeof state.previousVersion === 'string' && VERSION_PATTERN.test(state.previousVersion)));
  return {
    name: 'agent',
    restartDeadlineMs,

    async confirm(ctx) {
      const state = ctx.savedState as AgentUpdateState | undefined;
      if (!validState(state))
        return { status: 'FAILED', reasonCode: 'NO_SAVED_STATE', reason: 'nothing recorded to confirm' };
      const now = await readCurrentAgentRelease(state.installRoot);
      const crashed = await launcherRollback(state.installRoot, state.version);
      if (crashed && now !== state.version)
        return {
          status: 'FAILED',
          reasonCode: 'RELEASE_CRASHED',
          reason: `release ${state.version} started ${crashed.starts} times without confirming itself; the launcher switched current back to ${crashed.previous}`,
        };
      if (now !== state.version)
        return {
          status: 'FAILED',
          reasonCode: 'RELEASE_NOT_CURRENT',
          reason: `current is ${now ?? 'absent'}, not ${state.version}, after the restart`,
        };
      const health = await healthCheck(ctx, state.installRoot, state.version, options);
      if (!health.ok) return { status: 'FAILED', reasonCode: health.reasonCode, reason: health.reason };
      await clearLauncherRecords(state.installRoot);
      return {
        status: 'SUCCEEDED',
        installedCriteria: state.version,
        details: { version: state.version, previousVersion: state.previousVersion ?? 'none' },
      };
    },

    async isInstalled(ctx) {
      try {
        const { version } = readParams(ctx);
        return (await readCurrentAgentRelease(root)) === version;
      } catch {
        return false; // install() says why
      }
    },

    async install(ctx) {
      let file: { name: string; path: string };
      let version: string;
      try {
        ({ file, version } = readParams(ctx));
        await checkRoot(root);
      } catch (e) {
        return refusalResult(e);
      }
      const previousVersion = (await readCurrentAgentRelease(root)) ?? null;
      if (previousVersion === version)
        return { status: 'SUCCEEDED', details: { version, note: 'this release is already current' } };
      const state: AgentUpdateState = { installRoot: root, version, previousVersion };
      let switched = false;
      try {
        await ctx.saveState?.(state);
        await removeLeftovers(root);
        const unpacked = await unpack(ctx, root, file.path, version);
        if (ctx.signal.aborted) throw new Refusal('CANCELED', 'the update was canceled', 'FAILED');
        const dest = join(root, RELEASES, version);
        // A folder of that name that is not current (an older copy or an earlier attempt) goes.
        await rm(dest, { recursive: true, force: true });
        await rename(unpacked, dest);
        await fsyncDir(join(root, RELEASES));
        await options.onStage?.('unpacked', state);
        if (ctx.signal.aborted) throw new Refusal('CANCELED', 'the update was canceled', 'FAILED');
        await switchCurrent(root, version);
        switched = true;
        await options.onStage?.('switched', state);
        const health = await healthCheck(ctx, root, version, options);
        if (!health.ok) throw new Refusal(health.reasonCode, health.reason, 'FAILED');
        await options.onStage?.('healthy', state);
        await writeAgentLauncher(root);
        await markUnconfirmed(state, options.maxUnconfirmedStarts ?? 3);
        await prune(root, [version, previousVersion]);
        ctx.logger.info(`agent: release ${version} is current (was ${previousVersion ?? 'none'}); restart`);
        return {
          status: 'SUCCEEDED',
          restartRequired: true,
          installedCriteria: version,
          details: {
            version,
            previousVersion: previousVersion ?? 'none',
            restartRequired: 'true',
            restartDeadlineMs: String(restartDeadlineMs),
          },
        };
      } catch (e) {
        const result = refusalResult(e);
        // Nothing to undo for a refusal before the switch, except the unpacked folders.
        const rollback = await restore(state).catch((r) => `incomplete: ${(r as Error).message}`);
        ctx.logger.warn(`agent: update to ${version} failed: ${result.reason}; ${rollback}`, {
          switched,
        });
        return { ...result, details: { ...result.details, rollback } };
      }
    },

    async rollback(ctx) {
      const state = ctx.savedState as AgentUpdateState | undefined;
      if (!validState(state))
        return { status: 'FAILED', reasonCode: 'NO_SAVED_STATE', reason: 'nothing recorded to roll back to' };
      try {
        // The previous release must still be whole before current goes back to it.
        if (state.previousVersion !== null)
          await realpath(join(state.installRoot, RELEASES, state.previousVersion, AGENT_BIN));
        return { status: 'SUCCEEDED', details: { rollback: await restore(state) } };
      } catch (e) {
        return { status: 'FAILED', reasonCode: 'ROLLBACK_INCOMPLETE', reason: (e as Error).message };
      }
    },
  };
}
