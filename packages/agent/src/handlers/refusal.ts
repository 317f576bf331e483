import type { DownloadedFile, HandlerContext } from './handler.js';

/**
 * A handler's reasoned refusal: REJECTED (the update itself is unusable; nothing was changed) or
 * FAILED (it could not be applied here), with the reason code statusDetails carries.
 */
export class Refusal extends Error {
  constructor(
    readonly reasonCode: string,
    message: string,
    readonly status: 'REJECTED' | 'FAILED' = 'REJECTED',
  ) {
    super(message);
  }
}

/** The downloaded file a step names (`params.file`), else the job's only file; Refusal otherwise. */
export function pickDownloadedFile(ctx: HandlerContext, name: string | undefined): DownloadedFile {
  const file =
    name === undefined
      ? ctx.files.length === 1
        ? ctx.files[0]
        : undefined
      : ctx.files.find((f) => f.name === name);
  if (!file)
    throw new Refusal(
      'FILE_NOT_FOUND',
      name === undefined
        ? `give params.file: the job has ${ctx.files.length} files`
        : `no downloaded file named ${name}`,
    );
  return file;
}
