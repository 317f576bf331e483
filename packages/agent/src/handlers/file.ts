/**
 * The `file` handler: places a downloaded file at `dest` atomically. The new content goes to
 * `<dest>.otter-new` in the same folder and is fsynced; the current file is copied to
 * `<dest>.otter-prev` (fsynced) before anything changes; then one rename puts the new file in place.
 * `dest` is therefore always either the old or the new file, never a mix. Rollback puts the previous
 * copy back (or removes a file that did not exist before). Destinations outside the configured
 * allowed roots, relative paths and `..` segments are REJECTED before anything is touched.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, chown, copyFile, lstat, open, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize, sep } from 'node:path';
import type { UpdateHandler } from './handler.js';
import { pickDownloadedFile, Refusal } from './refusal.js';

export interface FileHandlerOptions {
  /** Folders the handler may write into (a destination must be inside one of them). */
  readonly allowedRoots: readonly string[];
}

/** What rollback needs; saved before anything changes. */
export interface FileSavedState {
  readonly dest: string;
  /** Whether a file was at dest before (then `<dest>.otter-prev` holds it once the new file is in). */
  readonly hadPrevious: boolean;
  /** SHA-256 of the new content: rollback acts only when dest holds it. */
  readonly newSha256: string;
  /** SHA-256 of the file that was there before. */
  readonly prevSha256?: string;
}

const NEW = '.otter-new';
const PREV = '.otter-prev';
const PARAMS = ['file', 'dest', 'mode', 'uid', 'gid'];

interface FileParams {
  readonly file?: string;
  readonly dest: string;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
}

function readParams(p: Readonly<Record<string, unknown>>): FileParams {
  const unknown = Object.keys(p).find((k) => !PARAMS.includes(k));
  if (unknown !== undefined) throw new Refusal('INVALID_PARAMS', `unknown parameter ${unknown}`);
  if (typeof p.dest !== 'string' || p.dest === '' || p.dest.includes('\0'))
    throw new Refusal('INVALID_PARAMS', 'dest is required: an absolute path');
  if (p.file !== undefined && typeof p.file !== 'string')
    throw new Refusal('INVALID_PARAMS', 'file must be a string');
  let mode: number | undefined;
  if (p.mode !== undefined) {
    if (typeof p.mode !== 'string' || !/^0?[0-7]{3,4}$/.test(p.mode))
      throw new Refusal('INVALID_PARAMS', 'mode must be an octal string such as "0644"');
    mode = Number.parseInt(p.mode, 8);
  }
  for (const k of ['uid', 'gid'] as const) {
    const v = p[k];
    if (v !== undefined && (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) > 4294967294))
      throw new Refusal('INVALID_PARAMS', `${k} must be a numeric id`);
  }
  return {
    dest: p.dest,
    ...(p.file === undefined ? {} : { file: p.file as string }),
    ...(mode === undefined ? {} : { mode }),
    ...(p.uid === undefined ? {} : { uid: p.uid as number }),
    ...(p.gid === undefined ? {} : { gid: p.gid as number }),
  };
}

const inside = (path: string, root: string) =>
  path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);

/** The destination as written, once it is known to be inside an allowed root (symlinks resolved). */
async function checkDestination(dest: string, roots: readonly string[]): Promise<string> {
  if (!isAbsolute(dest)) throw new Refusal('PATH_NOT_ABSOLUTE', `dest ${dest} is not an absolute path`);
  if (dest.split('/').includes('..')) throw new Refusal('PATH_TRAVERSAL', `dest ${dest} contains ..`);
  const clean = normalize(dest);
  if (clean.endsWith(sep) || basename(clean) === '')
    throw new Refusal('INVALID_PARAMS', `dest ${dest} names a folder`);
  if (basename(clean).endsWith(NEW) || basename(clean).endsWith(PREV))
    throw new Refusal('INVALID_PARAMS', `dest ${dest} ends with an Otter working suffix`);
  if (roots.length === 0)
    throw new Refusal('DEST_NOT_ALLOWED', 'the agent has no allowed roots for the file handler');
  // The folder's real path counts, so that a symlink inside a root cannot lead out of it.
  let folder: string;
  try {
    folder = await realpath(dirname(clean));
  } catch {
    throw new Refusal('DEST_DIR_MISSING', `the folder of ${dest} does not exist`, 'FAILED');
  }
  const realRoots = await Promise.all(roots.map((r) => realpath(r).catch(() => normalize(r))));
  if (!realRoots.some((r) => inside(folder, r)))
    throw new Refusal('DEST_NOT_ALLOWED', `dest ${dest} is outside the allowed roots (${roots.join(', ')})`);
  const target = join(folder, basename(clean));
  const st = await lstat(target).catch(() => undefined);
  if (st && !st.isFile())
    throw new Refusal(
      'DEST_NOT_A_FILE',
      `dest ${dest} exists and is not a regular file (${st.isSymbolicLink() ? 'a symlink' : 'a folder or device'})`,
    );
  return target;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Copies src to dst and fsyncs dst. */
async function copyDurably(src: string, dst: string): Promise<void> {
  await rm(dst, { force: true });
  await copyFile(src, dst);
  await fsyncPath(dst);
}

/** Puts the previous file back when dest holds the new content; returns what was done. */
async function restore(state: FileSavedState): Promise<string> {
  const prev = state.dest + PREV;
  await rm(state.dest + NEW, { force: true });
  const current = await sha256Of(state.dest).catch(() => undefined);
  // dest only ever changes by one rename, so anything but the new content is the old file.
  if (current !== state.newSha256 || current === state.prevSha256)
    return 'the previous file was still in place';
  if (state.hadPrevious) {
    const kept = await sha256Of(prev).catch(() => 'missing');
    if (kept !== state.prevSha256)
      throw new Error(`${prev} is ${kept === 'missing' ? 'missing' : 'damaged'}`);
    await rename(prev, state.dest);
  } else {
    await rm(state.dest, { force: true });
  }
  await fsyncPath(dirname(state.dest));
  return state.hadPrevious ? 'the previous file was restored' : 'the new file was removed';
}

/** The `file` update handler. */
export function createFileHandler(options: FileHandlerOptions): UpdateHandler {
  return {
    name: 'file',

    async isInstalled(ctx) {
      try {
        const params = readParams(ctx.params);
        const source = pickDownloadedFile(ctx, params.file);
        const dest = await checkDestination(params.dest, options.allowedRoots);
        return (await sha256Of(dest).catch(() => '')) === (await sha256Of(source.path));
      } catch {
        return false; // install() says why
      }
    },

    async install(ctx) {
      let params: FileParams;
      let dest: string;
      let source: { name: string; path: string };
      try {
        params = readParams(ctx.params);
        source = pickDownloadedFile(ctx, params.file);
        dest = await checkDestination(params.dest, options.allowedRoots);
      } catch (e) {
        if (e instanceof Refusal) {
          return { status: e.status, reasonCode: e.reasonCode, reason: e.message };
        }
        return { status: 'FAILED', reasonCode: 'HANDLER_ERROR', reason: String(e) };
      }
      const next = dest + NEW;
      let state: FileSavedState | undefined;
      try {
        const before = await stat(dest).catch(() => undefined);
        state = {
          dest,
          hadPrevious: before !== undefined,
          newSha256: await sha256Of(source.path),
          ...(before ? { prevSha256: await sha256Of(dest) } : {}),
        };
        await ctx.saveState?.(state);
        if (ctx.signal.aborted)
          return { status: 'FAILED', reasonCode: 'CANCELED', reason: 'the update was canceled' };
        await copyDurably(source.path, next);
        const mode = params.mode ?? (before ? before.mode & 0o7777 : 0o644);
        await chmod(next, mode);
        // Owner: as asked, else the replaced file's; chown only when it differs (works unprivileged).
        const placed = await stat(next);
        const uid = params.uid ?? before?.uid ?? placed.uid;
        const gid = params.gid ?? before?.gid ?? placed.gid;
        if (uid !== placed.uid || gid !== placed.gid) await chown(next, uid, gid);
        if (before) await copyDurably(dest, dest + PREV);
        else await rm(dest + PREV, { force: true });
        await rename(next, dest);
        await fsyncPath(dirname(dest));
        ctx.logger.info(`file: placed ${source.name} at ${dest}`);
        return {
          status: 'SUCCEEDED',
          details: { dest, previous: before ? `${dest}${PREV}` : 'none' },
        };
      } catch (e) {
        const reason = `placing ${dest} failed: ${(e as Error).message}`;
        let rollback = 'nothing was changed';
        if (state) rollback = await restore(state).catch((r) => `incomplete: ${(r as Error).message}`);
        else await rm(next, { force: true }).catch(() => {});
        return { status: 'FAILED', reasonCode: 'FILE_PLACE_FAILED', reason, details: { rollback } };
      }
    },

    async rollback(ctx) {
      const state = ctx.savedState as FileSavedState | undefined;
      if (typeof state?.dest !== 'string' || typeof state.newSha256 !== 'string')
        return { status: 'FAILED', reasonCode: 'NO_SAVED_STATE', reason: 'nothing recorded to roll back to' };
      try {
        return { status: 'SUCCEEDED', details: { rollback: await restore(state) } };
      } catch (e) {
        return { status: 'FAILED', reasonCode: 'ROLLBACK_INCOMPLETE', reason: (e as Error).message };
      }
    },
  };
}
