import { close, open } from 'node:fs';

/** How long a file nobody reads stays open. */
const IDLE_MS = 2000;
/** Files kept open at most; beyond this, files are opened and closed per use. */
const MAX_OPEN = 256;

export interface OpenFile {
  readonly fd: number;
  /** Gives the descriptor back; it must not be used afterwards. */
  release(): void;
}

interface Entry {
  fd: Promise<number>;
  users: number;
  timer: NodeJS.Timeout | undefined;
}

const openAsync = (path: string) =>
  new Promise<number>((resolve, reject) => open(path, 'r', (e, fd) => (e ? reject(e) : resolve(fd))));

/**
 * Read-only descriptors of immutable files shared by concurrent and successive reads, so a burst
 * of small Range requests pays one `open` (a thread-pool round trip, often the largest fixed cost
 * of a 1 MiB range) instead of one per request. Only for files whose bytes never change once
 * visible, such as content-addressed blobs: a descriptor kept across an unlink and re-create of
 * the same path still reads identical bytes. Idle descriptors close after a short delay.
 */
export class OpenFileCache {
  readonly #entries = new Map<string, Entry>();

  /** Opens `path` (or shares its open descriptor); rejects as `fs.open` does. */
  async acquire(path: string): Promise<OpenFile> {
    let entry = this.#entries.get(path);
    if (entry === undefined) {
      if (this.#entries.size >= MAX_OPEN) {
        const fd = await openAsync(path);
        return { fd, release: once(() => close(fd, () => {})) };
      }
      entry = { fd: openAsync(path), users: 0, timer: undefined };
      this.#entries.set(path, entry);
      const created = entry;
      // A failed open is not cached: the next reader tries again.
      created.fd.catch(() => {
        if (this.#entries.get(path) === created) this.#entries.delete(path);
      });
    }
    entry.users++;
    if (entry.timer !== undefined) {
      clearTimeout(entry.timer);
      entry.timer = undefined;
    }
    const current = entry;
    let fd: number;
    try {
      fd = await current.fd;
    } catch (e) {
      current.users--;
      throw e;
    }
    return { fd, release: once(() => this.#release(path, current)) };
  }

  /** Closes every idle descriptor now (in-use ones close when released). */
  closeIdle(): void {
    for (const [path, entry] of this.#entries) if (entry.users === 0) this.#close(path, entry);
  }

  #release(path: string, entry: Entry): void {
    entry.users--;
    if (entry.users > 0) return;
    entry.timer = setTimeout(() => this.#close(path, entry), IDLE_MS);
    entry.timer.unref();
  }

  #close(path: string, entry: Entry): void {
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    if (this.#entries.get(path) === entry) this.#entries.delete(path);
    entry.fd.then(
      (fd) => close(fd, () => {}),
      () => {},
    );
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
