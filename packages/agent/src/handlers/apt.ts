import { readFile } from 'node:fs/promises';
import {
  type AptManifest,
  type AptPackage,
  aptInstalledCriteria,
  debianVersionsEqual,
  isDebianError,
  parseAptManifest,
} from '@otter/core/debian';
import type { ExecResult, HandlerContext, HandlerResult, UpdateHandler } from './handler.js';

/** Where the apt tools are and how to run them; tests point these at a private apt state. */
export interface AptHandlerOptions {
  readonly aptGet?: string;
  readonly aptCache?: string;
  readonly dpkgQuery?: string;
  readonly dpkg?: string;
  /** Extra arguments for every apt-get and apt-cache call (e.g. `-o Dir::Etc::sourcelist=…`). */
  readonly aptOptions?: readonly string[];
  /** Run `apt-get update` before installing (default true). */
  readonly update?: boolean;
  /** Limit for each apt-get / dpkg call (default 15 minutes). */
  readonly timeoutMs?: number;
  /** How long apt waits for the dpkg lock held by someone else (default 120 s). */
  readonly lockTimeoutSec?: number;
}

/** Versions installed before the update (absent: not installed); what rollback restores. */
export interface AptSavedState {
  readonly manifest: AptManifest;
  readonly before: Readonly<Record<string, string>>;
}

const ENV = { DEBIAN_FRONTEND: 'noninteractive', APT_LISTCHANGES_FRONTEND: 'none', LC_ALL: 'C' };
const TAIL = 2000;
/** dpkg-query's own `${field}` syntax (not a JS template); `\t` and `\n` are its escapes. */
const DPKG_QUERY_FORMAT = ['-f=${Package}', '${Version}', '${db:Status-Status}\\n'].join('\\t');

const tail = (r: ExecResult) => (r.error ?? r.stderr.trim() ?? '').slice(-TAIL);
const describeExit = (what: string, r: ExecResult) =>
  r.timedOut
    ? `${what} timed out`
    : r.error !== undefined
      ? `${what} could not start: ${r.error}`
      : `${what} exited with ${r.code ?? r.signal}`;

class AptFailure extends Error {
  constructor(
    readonly reasonCode: string,
    message: string,
    readonly stderrTail = '',
    readonly interrupted = false,
  ) {
    super(message);
  }
}

/** The manifest: inline `params.manifest`, else the only downloaded file, else the first `*.json`. */
async function loadManifest(ctx: HandlerContext): Promise<AptManifest> {
  const inline = ctx.params.manifest;
  if (inline !== undefined) return parseAptManifest(inline);
  const file = ctx.files.length === 1 ? ctx.files[0] : ctx.files.find((f) => f.name.endsWith('.json'));
  if (!file)
    throw new AptFailure(
      'MANIFEST_MISSING',
      'no apt manifest: no params.manifest and no downloaded .json file',
    );
  return parseAptManifest(await readFile(file.path, 'utf8'));
}

/** The `apt` update handler (seed 004 manifests): install / upgrade / downgrade / remove, verify, roll back. */
export function createAptHandler(options: AptHandlerOptions = {}): UpdateHandler {
  const aptGet = options.aptGet ?? 'apt-get';
  const aptCache = options.aptCache ?? 'apt-cache';
  const dpkgQuery = options.dpkgQuery ?? 'dpkg-query';
  const dpkg = options.dpkg ?? 'dpkg';
  const timeoutMs = options.timeoutMs ?? 15 * 60_000;
  const aptOptions = [
    '-q',
    '-o',
    `DPkg::Lock::Timeout=${options.lockTimeoutSec ?? 120}`,
    '-o',
    'Dpkg::Options::=--force-confdef',
    '-o',
    'Dpkg::Options::=--force-confold',
    ...(options.aptOptions ?? []),
  ];

  const run = (ctx: HandlerContext, cmd: string, args: readonly string[]) => {
    ctx.logger.info(`running ${cmd} ${args.join(' ')}`);
    return ctx.exec(cmd, args, { timeoutMs, env: ENV });
  };

  /** Runs a command that must exit 0; `changes`: a failure may have left packages half-changed. */
  const mustRun = async (
    ctx: HandlerContext,
    code: string,
    what: string,
    args: string[],
    changes: boolean,
  ) => {
    const r = await run(ctx, aptGet, args);
    if (r.code !== 0) {
      throw new AptFailure(r.timedOut ? 'APT_TIMEOUT' : code, describeExit(what, r), tail(r), changes);
    }
    return r;
  };

  /** Installed versions (dpkg status `installed` only) of the named packages. */
  async function installed(ctx: HandlerContext, names: readonly string[]): Promise<Record<string, string>> {
    const r = await ctx.exec(dpkgQuery, ['-W', DPKG_QUERY_FORMAT, '--', ...names], {
      timeoutMs: 60_000,
      env: ENV,
    });
    // Exit 1 only means "some of these are unknown"; anything else is a real failure.
    if (r.code !== 0 && r.code !== 1) {
      throw new AptFailure('DPKG_QUERY_FAILED', describeExit('dpkg-query', r), tail(r));
    }
    const found: Record<string, string> = {};
    for (const line of r.stdout.split('\n')) {
      const [name, version, status] = line.split('\t');
      if (name && version && status === 'installed' && names.includes(name)) found[name] = version;
    }
    return found;
  }

  /** The repository's exact version string Debian-equal to the requested one (`1.0.8` → `1.0.8-0`). */
  async function resolveVersion(ctx: HandlerContext, pkg: AptPackage, current?: string): Promise<string> {
    const wanted = pkg.version!;
    const r = await ctx.exec(aptCache, [...aptOptions, 'madison', pkg.name], { timeoutMs: 60_000, env: ENV });
    const available = r.stdout
      .split('\n')
      .map((l) => l.split('|').map((s) => s.trim()))
      .filter(([name]) => name === pkg.name)
      .map(([, version]) => version ?? '');
    const match = available.find((v) => v === wanted) ?? available.find((v) => safeEqual(v, wanted));
    if (match) return match;
    if (current !== undefined && safeEqual(current, wanted)) return current;
    throw new AptFailure(
      'VERSION_NOT_AVAILABLE',
      `${pkg.name} ${wanted} is not available (repository has: ${available.join(', ') || 'none'})`,
      tail(r),
    );
  }

  /** What differs from the manifest after the run; empty when every package is as asked. */
  function mismatches(manifest: AptManifest, now: Record<string, string>): string[] {
    const wrong: string[] = [];
    for (const p of manifest.packages) {
      const v = now[p.name];
      if (p.remove) {
        if (v !== undefined) wrong.push(`${p.name} is still installed (${v})`);
      } else if (v === undefined) {
        wrong.push(`${p.name} is not installed`);
      } else if (p.version !== undefined && !safeEqual(v, p.version)) {
        wrong.push(`${p.name} is ${v}, not ${p.version}`);
      }
    }
    return wrong;
  }

  async function apply(ctx: HandlerContext, manifest: AptManifest, before: Record<string, string>) {
    if (options.update ?? true) {
      await mustRun(ctx, 'APT_UPDATE_FAILED', 'apt-get update', [...aptOptions, 'update'], false);
    }
    // Resolve every version before changing anything: a missing version fails with the device untouched.
    const targets = new Map<string, string>();
    for (const p of manifest.packages) {
      if (!p.remove && p.version !== undefined)
        targets.set(p.name, await resolveVersion(ctx, p, before[p.name]));
    }
    // Listed order; consecutive installs go to one apt-get call so that apt resolves them together.
    const batches: Array<{ remove: boolean; packages: AptPackage[] }> = [];
    for (const p of manifest.packages) {
      const last = batches.at(-1);
      if (last && last.remove === p.remove) last.packages.push(p);
      else batches.push({ remove: p.remove, packages: [p] });
    }
    for (const batch of batches) {
      if (ctx.signal.aborted) throw new AptFailure('CANCELED', 'the update was canceled', '', true);
      // Removing what is not installed is a no-op (apt-get would fail on a name it does not know).
      const present = batch.remove
        ? await installed(
            ctx,
            batch.packages.map((p) => p.name),
          )
        : {};
      const packages = batch.remove
        ? batch.packages.filter((p) => present[p.name] !== undefined)
        : batch.packages;
      if (packages.length === 0) continue;
      const args = batch.remove
        ? [...aptOptions, 'remove', '-y', '--', ...packages.map((p) => p.name)]
        : [
            ...aptOptions,
            'install',
            '-y',
            '--allow-downgrades',
            '--',
            ...packages.map((p) => (targets.has(p.name) ? `${p.name}=${targets.get(p.name)}` : p.name)),
          ];
      const what = `apt-get ${batch.remove ? 'remove' : 'install'}`;
      await mustRun(ctx, batch.remove ? 'APT_REMOVE_FAILED' : 'APT_INSTALL_FAILED', what, args, true);
    }
    const now = await installed(
      ctx,
      manifest.packages.map((p) => p.name),
    );
    const wrong = mismatches(manifest, now);
    if (wrong.length > 0)
      throw new AptFailure('VERIFY_FAILED', `after apt-get: ${wrong.join('; ')}`, '', true);
    return now;
  }

  /** Puts the recorded versions back; returns what is still wrong (empty when restored). */
  async function restore(ctx: HandlerContext, state: AptSavedState, interrupted: boolean): Promise<string> {
    if (interrupted) {
      await run(ctx, dpkg, ['--configure', '-a', '--force-confdef', '--force-confold']);
    }
    const names = state.manifest.packages.map((p) => p.name);
    const now = await installed(ctx, names);
    const args = names.flatMap((n) => {
      const was = state.before[n];
      if (was === undefined) return now[n] === undefined ? [] : [`${n}-`];
      return now[n] === was ? [] : [`${n}=${was}`];
    });
    if (args.length > 0) {
      const r = await run(ctx, aptGet, [...aptOptions, 'install', '-y', '--allow-downgrades', '--', ...args]);
      if (r.code !== 0) return `${describeExit('apt-get install (rollback)', r)}: ${tail(r).slice(-500)}`;
    }
    const after = await installed(ctx, names);
    const wrong = names.filter((n) => after[n] !== state.before[n]);
    return wrong
      .map((n) => `${n} is ${after[n] ?? 'not installed'}, was ${state.before[n] ?? 'not installed'}`)
      .join('; ');
  }

  const failure = (e: unknown, extra: Record<string, string> = {}): HandlerResult => {
    const f =
      e instanceof AptFailure
        ? e
        : new AptFailure('HANDLER_ERROR', `apt handler failed: ${(e as Error)?.message ?? String(e)}`);
    return {
      status: 'FAILED',
      reasonCode: f.reasonCode,
      reason: f.message,
      details: { ...(f.stderrTail ? { stderr: f.stderrTail } : {}), ...extra },
    };
  };

  return {
    name: 'apt',

    async isInstalled(ctx) {
      let manifest: AptManifest;
      try {
        manifest = await loadManifest(ctx);
      } catch {
        return false; // install() reports why
      }
      const now = await installed(
        ctx,
        manifest.packages.map((p) => p.name),
      );
      return mismatches(manifest, now).length === 0;
    },

    async install(ctx) {
      let manifest: AptManifest;
      try {
        manifest = await loadManifest(ctx);
      } catch (e) {
        if (isDebianError(e)) return { status: 'REJECTED', reasonCode: e.code, reason: e.message };
        if (e instanceof AptFailure)
          return { status: 'REJECTED', reasonCode: e.reasonCode, reason: e.message };
        return { status: 'REJECTED', reasonCode: 'MANIFEST_UNREADABLE', reason: (e as Error).message };
      }
      if (ctx.signal.aborted) return failure(new AptFailure('CANCELED', 'the update was canceled'));
      let state: AptSavedState;
      try {
        state = {
          manifest,
          before: await installed(
            ctx,
            manifest.packages.map((p) => p.name),
          ),
        };
        await ctx.saveState?.(state);
      } catch (e) {
        return failure(e);
      }
      ctx.logger.info('apt: installed before the update', { before: state.before });
      try {
        const now = await apply(ctx, manifest, state.before);
        return { status: 'SUCCEEDED', installedCriteria: aptInstalledCriteria(manifest), installed: now };
      } catch (e) {
        const interrupted = e instanceof AptFailure && e.interrupted;
        if (!interrupted) return failure(e); // nothing was changed
        ctx.logger.warn('apt: update failed, restoring the previous versions', { error: String(e) });
        let left: string;
        try {
          left = await restore(ctx, state, e.reasonCode === 'APT_TIMEOUT');
        } catch (r) {
          left = String(r);
        }
        return failure(e, { rollback: left === '' ? 'restored' : `incomplete: ${left}` });
      }
    },

    async rollback(ctx) {
      const state = ctx.savedState as AptSavedState | undefined;
      if (!state?.manifest || !state.before) {
        return { status: 'FAILED', reasonCode: 'NO_SAVED_STATE', reason: 'nothing recorded to roll back to' };
      }
      try {
        const left = await restore(ctx, state, true);
        return left === ''
          ? { status: 'SUCCEEDED', installed: state.before }
          : { status: 'FAILED', reasonCode: 'ROLLBACK_INCOMPLETE', reason: left };
      } catch (e) {
        return failure(e);
      }
    },
  };
}

/** Debian equality that treats an unparsable version (from a broken repository) as unequal. */
function safeEqual(a: string, b: string): boolean {
  try {
    return debianVersionsEqual(a, b);
  } catch {
    return false;
  }
}
