/** Sleeps that a stop signal or a wake-up call end early (no busy loops, no dangling timers). */

export interface Waker {
  /** Ends the current sleep (or the next one, if none is running). */
  wake(reason: string): void;
  /** Sleeps up to `ms`; resolves with the wake reason, `'timeout'` or `'stopped'`. */
  sleep(ms: number, signal: AbortSignal): Promise<string>;
}

export function createWaker(): Waker {
  let pending: string | undefined;
  let current: ((reason: string) => void) | undefined;
  return {
    wake(reason) {
      if (current) current(reason);
      else pending = reason;
    },
    sleep(ms, signal) {
      if (signal.aborted) return Promise.resolve('stopped');
      if (pending !== undefined) {
        const r = pending;
        pending = undefined;
        return Promise.resolve(r);
      }
      return new Promise<string>((resolve) => {
        const done = (reason: string) => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          current = undefined;
          resolve(reason);
        };
        const onAbort = () => done('stopped');
        const timer = setTimeout(() => done('timeout'), Math.max(0, ms));
        signal.addEventListener('abort', onAbort, { once: true });
        current = done;
      });
    },
  };
}

/** Sleeps `ms` unless `signal` aborts first; true when the full time passed. */
export function delay(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
