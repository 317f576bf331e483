/**
 * The current job's progress on disk, so a kill or power cut at any point resumes or rolls back.
 * Every write goes to `journal.json.tmp`, is fsynced, renamed over `journal.json` and the folder is
 * fsynced: a reader sees the old state or the new one, never a mix. A checksum inside the file
 * catches storage that lies; a leftover temp file (torn by a crash) is ignored and removed.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { OtterError } from '@otter/core/errors';

export const JOURNAL_FILE = 'journal.json';
export const JOURNAL_STATUSES = ['IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED'] as const;
export type JournalStatus = (typeof JOURNAL_STATUSES)[number];

/** The job a journal is begun for. */
export interface JournalJob {
  readonly jobId: string;
  readonly executionNumber?: number;
  readonly versionNumber?: number;
  /** Versions installed before this job touched anything (what a rollback restores). */
  readonly installedBefore?: Readonly<Record<string, string>>;
  readonly files?: readonly string[];
}

export interface JournalStepRecord {
  readonly name: string;
  readonly at: number;
  readonly data?: Readonly<Record<string, unknown>>;
}

export interface JournalState {
  readonly jobId: string;
  readonly executionNumber?: number;
  readonly versionNumber?: number;
  /** 1 on the first begin, +1 each time the same job is begun again (after a restart). */
  readonly attempt: number;
  readonly status: JournalStatus;
  readonly reason?: string;
  /** The last step recorded. */
  readonly step: string;
  readonly steps: readonly JournalStepRecord[];
  readonly files: readonly string[];
  readonly installedBefore: Readonly<Record<string, string>>;
  readonly startedAt: number;
  readonly updatedAt: number;
}

export interface StepPatch {
  readonly data?: Readonly<Record<string, unknown>>;
  /** Replaces the list of files the job has placed or downloaded. */
  readonly files?: readonly string[];
  /** Merged into installedBefore. */
  readonly installedBefore?: Readonly<Record<string, string>>;
}

/** The journal cannot be read or the call does not fit its state. */
export class JournalError extends OtterError {
  constructor(message: string) {
    super('InvalidStateTransitionException', message);
    this.name = 'JournalError';
  }
}

/** Only this many step records are kept (the newest). */
const MAX_STEPS = 100;

const checksum = (state: string) => createHash('sha256').update(state).digest('hex');

export class Journal {
  readonly file: string;
  private readonly tmp: string;
  private readonly now: () => number;
  private current: JournalState | undefined;

  constructor(
    readonly dir: string,
    options: { now?: () => number } = {},
  ) {
    this.file = join(dir, JOURNAL_FILE);
    this.tmp = `${this.file}.tmp`;
    this.now = options.now ?? Date.now;
  }

  /** The recorded state (undefined when there is none). A torn temp file is discarded. */
  load(): JournalState | undefined {
    rmSync(this.tmp, { force: true });
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        this.current = undefined;
        return undefined;
      }
      throw e;
    }
    let parsed: { v?: unknown; sum?: unknown; state?: unknown };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      throw new JournalError(`The journal ${this.file} is corrupt (not JSON)`);
    }
    if (parsed.v !== 1 || typeof parsed.state !== 'string' || parsed.sum !== checksum(parsed.state)) {
      throw new JournalError(`The journal ${this.file} is corrupt (bad version or checksum)`);
    }
    this.current = JSON.parse(parsed.state) as JournalState;
    return this.current;
  }

  /** The state as last loaded or written. */
  get state(): JournalState | undefined {
    return this.current;
  }

  /**
   * Starts recording `job`. The same job again (a restart) counts another attempt and keeps what
   * was recorded as installed before; another job while one is IN_PROGRESS is refused.
   */
  begin(job: JournalJob): JournalState {
    const prev = this.current;
    const same =
      prev !== undefined && prev.jobId === job.jobId && prev.executionNumber === job.executionNumber;
    if (prev !== undefined && prev.status === 'IN_PROGRESS' && !same) {
      throw new JournalError(
        `The journal holds job ${prev.jobId}, still IN_PROGRESS; finish or clear it before beginning ${job.jobId}`,
      );
    }
    const at = this.now();
    const keep = same && prev?.status === 'IN_PROGRESS' ? prev : undefined;
    return this.write({
      jobId: job.jobId,
      ...(job.executionNumber === undefined ? {} : { executionNumber: job.executionNumber }),
      ...(job.versionNumber === undefined ? {} : { versionNumber: job.versionNumber }),
      attempt: keep ? keep.attempt + 1 : 1,
      status: 'IN_PROGRESS',
      step: 'begin',
      steps: [...(keep?.steps ?? []), { name: 'begin', at }].slice(-MAX_STEPS),
      files: job.files ?? keep?.files ?? [],
      installedBefore: { ...(job.installedBefore ?? {}), ...(keep?.installedBefore ?? {}) },
      startedAt: keep?.startedAt ?? at,
      updatedAt: at,
    });
  }

  /** Records that the job reached step `name`. */
  step(name: string, patch: StepPatch = {}): JournalState {
    const prev = this.requireOpen('step');
    const at = this.now();
    const record: JournalStepRecord =
      patch.data === undefined ? { name, at } : { name, at, data: patch.data };
    return this.write({
      ...prev,
      step: name,
      steps: [...prev.steps, record].slice(-MAX_STEPS),
      files: patch.files ?? prev.files,
      installedBefore: { ...prev.installedBefore, ...(patch.installedBefore ?? {}) },
      updatedAt: at,
    });
  }

  /** Records the job's final status (the agent then reports it and clears the journal). */
  finish(status: Exclude<JournalStatus, 'IN_PROGRESS'>, reason?: string): JournalState {
    const prev = this.requireOpen('finish');
    const { reason: _old, ...rest } = prev;
    return this.write({
      ...rest,
      status,
      ...(reason === undefined ? {} : { reason }),
      step: status.toLowerCase(),
      updatedAt: this.now(),
    });
  }

  /** Forgets the job (after its final status was reported). */
  clear(): void {
    rmSync(this.tmp, { force: true });
    rmSync(this.file, { force: true });
    this.syncDir();
    this.current = undefined;
  }

  private requireOpen(what: string): JournalState {
    const s = this.current;
    if (s === undefined) throw new JournalError(`Cannot ${what}: no job was begun`);
    if (s.status !== 'IN_PROGRESS')
      throw new JournalError(`Cannot ${what}: job ${s.jobId} already ended ${s.status}`);
    return s;
  }

  private write(state: JournalState): JournalState {
    mkdirSync(this.dir, { recursive: true });
    const body = JSON.stringify(state);
    const fd = openSync(this.tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify({ v: 1, sum: checksum(body), state: body }));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(this.tmp, this.file);
    this.syncDir();
    this.current = state;
    return state;
  }

  private syncDir(): void {
    const fd = openSync(this.dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}
