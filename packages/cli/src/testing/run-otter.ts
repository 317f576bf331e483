import { main } from '../main.js';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `otter ...args` in-process through main(), with these environment changes for the run, and
 * captures what it prints, as a user would see it.
 */
export async function otter(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(env);
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
  // The CLI writes strings; the test runner talks to its parent over stdout in binary: pass that on.
  process.stdout.write = ((chunk: unknown, ...rest: never[]) => {
    if (typeof chunk !== 'string') return out.call(process.stdout, chunk as Uint8Array, ...rest);
    stdout += chunk;
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: unknown, ...rest: never[]) => {
    if (typeof chunk !== 'string') return err.call(process.stderr, chunk as Uint8Array, ...rest);
    stderr += chunk;
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    apply(saved);
  }
}
