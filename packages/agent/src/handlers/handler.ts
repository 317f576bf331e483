/**
 * The interface between the agent's job loop and an update handler (apt, script, file, agent,
 * custom executables). A handler gets everything through its context, so tests can run it alone.
 */

export interface HandlerLogger {
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

export interface ExecOptions {
  /** Killed (SIGTERM, then SIGKILL) after this long. */
  readonly timeoutMs?: number;
  /** Added to the agent's own environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Written to the command's standard input (closed after); stdin is empty without it. */
  readonly stdin?: string;
  /** Working directory (default: the agent's). */
  readonly cwd?: string;
}

export interface ExecResult {
  /** Exit code; null when killed by a signal or when the command could not start. */
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  /** Why the command could not start (e.g. `spawn apt-get ENOENT`). */
  readonly error?: string;
}

/** Runs a command without a shell; never throws. */
export type Exec = (cmd: string, args: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

export interface DownloadedFile {
  /** The name the job document gives the file. */
  readonly name: string;
  /** Where it is, verified (hash and signature) before the handler runs. */
  readonly path: string;
}

/** The job a handler runs for (scripts get it as OTTER_JOB_ID, OTTER_VERSION, OTTER_THING_NAME). */
export interface HandlerJob {
  readonly jobId: string;
  readonly thingName?: string;
  /** The software version the update installs, when the document says. */
  readonly version?: string;
}

export interface HandlerContext {
  /** A folder the handler may use for this job; removed by the agent afterwards. */
  readonly workDir: string;
  readonly files: readonly DownloadedFile[];
  /** The handler's parameters from the job document step. */
  readonly params: Readonly<Record<string, unknown>>;
  readonly logger: HandlerLogger;
  readonly signal: AbortSignal;
  readonly exec: Exec;
  /** Persists what rollback needs (the agent's journal) before the handler changes anything. */
  readonly saveState?: (state: unknown) => Promise<void>;
  /** What saveState stored, when the agent resumes or rolls back after a restart. */
  readonly savedState?: unknown;
  /** The job this step belongs to. */
  readonly job?: HandlerJob;
  /** Limit for this step (the document's timeoutSeconds); handlers fall back to their own default. */
  readonly timeoutMs?: number;
}

export const HANDLER_RESULT_STATUSES = ['SUCCEEDED', 'FAILED', 'REJECTED'] as const;
export type HandlerResultStatus = (typeof HANDLER_RESULT_STATUSES)[number];

export interface HandlerResult {
  /** REJECTED: the update itself is bad (nothing was changed); FAILED: it could not be applied. */
  readonly status: HandlerResultStatus;
  /** A reason code for statusDetails (e.g. DUPLICATE_PACKAGE, APT_INSTALL_FAILED). */
  readonly reasonCode?: string;
  readonly reason?: string;
  /** What is installed now, as the update names it (apt: `<name>-<version>`). */
  readonly installedCriteria?: string;
  /** Installed package versions, for the `$package` shadow. */
  readonly installed?: Readonly<Record<string, string>>;
  /** Extra strings for statusDetails (e.g. rollback outcome, stderr tail). */
  readonly details?: Readonly<Record<string, string>>;
}

export interface UpdateHandler {
  readonly name: string;
  /** True when the update is already in place (the agent then reports SUCCEEDED without install). */
  isInstalled?(ctx: HandlerContext): Promise<boolean>;
  install(ctx: HandlerContext): Promise<HandlerResult>;
  /** Puts back what was there before (from ctx.savedState); used after a crash during install. */
  rollback?(ctx: HandlerContext): Promise<HandlerResult>;
}
