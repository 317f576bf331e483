/**
 * Runs one job execution, journaling every transition before acting on it:
 *
 *   begin → (approval) → pre-script → download:<file>… → downloaded → (apply window)
 *         → install:<i> / saved:<i> / installed:<i> … → post-script → SUCCEEDED | FAILED | REJECTED
 *
 * and recovers after a kill: a journal that stopped before `install:*` resumes the job (downloads
 * resume from their part files); one that stopped at or after `install:*` rolls back what the
 * handlers saved and ends FAILED (AGENT_INTERRUPTED); a journal with a final status that was not
 * reported yet is reported. Exactly one final status reaches the service per execution.
 *
 * A handler result with `restartRequired` (the `agent` self-update handler) ends the run with the
 * journal at step `restarting` and IN_PROGRESS {step: restarting} reported; the agent then exits so
 * its service manager starts the new release. That start's recover() asks the handler to confirm
 * the release (`confirm`: still current, health check passes, within the restart deadline) and
 * reports SUCCEEDED, or rolls back every saved step and reports FAILED, then asks for one more
 * restart (into the old release).
 *
 * A plan with `reboot: on-success` whose steps all succeeded journals `rebooting` (with the boot
 * id) before anything else, runs the configured reboot command and waits; the first start after
 * the reboot (another boot id) reports SUCCEEDED with {rebooted: "true"}. A failing reboot command,
 * or the same boot id after `rebootTimeoutSeconds`, rolls back the saved steps and reports FAILED.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentConfig } from '../config/agent-config.js';
import { cronWindowState } from '../config/cron-window.js';
import { isJobDocumentError, type JobPlan, type PlanFile, type PlanStep } from '../documents/job-plan.js';
import { parseJobDocument } from '../documents/parse-job-document.js';
import { download } from '../download/download.js';
import { DownloadError } from '../download/download-error.js';
import type { ArtifactSignature } from '../download/verify-signature.js';
import type { AgentUpdateResult } from '../handlers/agent-update.js';
import { isRestartingHandler } from '../handlers/agent-update.js';
import type {
  DownloadedFile,
  Exec,
  HandlerContext,
  HandlerResult,
  UpdateHandler,
} from '../handlers/handler.js';
import type { HandlerRegistry } from '../handlers/registry.js';
import type { Journal, JournalState } from '../journal/journal.js';
import type { UpdateScripts } from '../scripts/update-scripts.js';
import { writeLastResult } from '../status/status.js';
import type { JobExecution, JobsTransport, StatusDetails } from '../transport/transport.js';
import { TransportError } from '../transport/transport.js';
import type { AgentLogger } from './logger.js';
import { delay } from './sleep.js';

export type FinalStatus = 'SUCCEEDED' | 'FAILED' | 'REJECTED';

/** How a run ended: a final status, a deferral, or an interruption (the journal resumes it). */
export type JobOutcome =
  | {
      readonly kind: 'final';
      readonly status: FinalStatus;
      readonly reasonCode?: string;
      readonly reason?: string;
    }
  | { readonly kind: 'deferred'; readonly jobId: string }
  /** A handler asked for an agent restart; the journal is at `restarting` (see recover()). */
  | { readonly kind: 'restart'; readonly jobId: string }
  | { readonly kind: 'interrupted'; readonly jobId: string };

/** What `device:update` listeners get; they answer `'approve'` (or nothing) or `'defer'`. */
export interface UpdateRequest {
  readonly jobId: string;
  readonly version?: string;
  readonly currentVersion: string;
  readonly files: readonly { readonly name: string; readonly size?: number; readonly sha256?: string }[];
  readonly steps: readonly string[];
}

export type UpdateDecision = 'approve' | 'defer';

export interface ProgressEvent {
  readonly jobId: string;
  readonly step: string;
  readonly file?: string;
  /** 0..100, when the total is known. */
  readonly progress?: number;
  readonly received?: number;
  readonly total?: number;
}

export interface FinishedEvent {
  readonly jobId: string;
  readonly status: FinalStatus;
  readonly reasonCode?: string;
  readonly reason?: string;
  /** False when the service already had a final status (canceled, or reported before a crash). */
  readonly reported: boolean;
  readonly installed?: Readonly<Record<string, string>>;
}

export interface JobRunnerDeps {
  readonly config: AgentConfig;
  readonly transport: JobsTransport;
  readonly journal: Journal;
  readonly registry: HandlerRegistry;
  readonly scripts: UpdateScripts;
  readonly exec: Exec;
  readonly logger: AgentLogger;
  /** Aborted by stop(): downloads and window waits end, the journal resumes them later. */
  readonly stopSignal: AbortSignal;
  /** Minimum time between two IN_PROGRESS progress reports to the service. */
  readonly progressIntervalMs: number;
  /** Name under which plan.softwareVersion is reported to the `$package` shadow. */
  readonly packageName?: string;
  /** stepTimeoutInMinutes sent with start-next (none: no step timer on the service). */
  readonly stepTimeoutMinutes?: number;
  /** CA (and certificate) for https artifact URLs. */
  readonly downloadTls?: { readonly cert?: string; readonly key?: string; readonly ca?: string };
  readonly approve: (request: UpdateRequest) => Promise<UpdateDecision>;
  readonly onReceived: (execution: JobExecution, plan: JobPlan | undefined) => void;
  readonly onProgress: (event: ProgressEvent) => void;
  readonly onFinished: (event: FinishedEvent) => void;
  readonly now?: () => number;
  /** The current boot id (default: read from DEFAULT_BOOT_ID_FILE); undefined when unknown. */
  readonly bootId?: () => string | undefined;
}

/** Where Linux says which boot this is (a new random UUID at every boot). */
export const DEFAULT_BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';

/** Reads a boot id file (trimmed); undefined when it cannot be read or is empty. */
export function readBootId(file: string = DEFAULT_BOOT_ID_FILE): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Steps before which nothing on the device has changed: a restart resumes the job there. */
const RESUMABLE_STEPS = new Set([
  'begin',
  'approval',
  'deferred',
  'pre-script',
  'downloaded',
  'apply-window',
]);
const isResumable = (step: string) => RESUMABLE_STEPS.has(step) || step.startsWith('download:');

/** statusDetails values are strings of at most 1024 characters (AWS). */
function details(d: Record<string, string | number | undefined>): StatusDetails {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(d)) if (v !== undefined) out[k] = String(v).slice(0, 1000);
  return out;
}

const safeName = (jobId: string) => jobId.replace(/[^A-Za-z0-9_.-]/g, '_');

/** The journal data of the `restarting` step. */
interface RestartRecord {
  /** Plan step indexes whose handlers asked for the restart. */
  readonly steps: readonly number[];
  readonly installed: Readonly<Record<string, string>>;
  /** Epoch ms by which the restarted agent must have confirmed the release. */
  readonly deadlineAt: number;
}

/** The journal data of the `rebooting` step. */
interface RebootRecord {
  /** The boot id before the reboot command ran. */
  readonly bootId: string;
  readonly installed: Readonly<Record<string, string>>;
  /** Epoch ms by which the device must have rebooted. */
  readonly deadlineAt: number;
}

interface SavedRecord {
  readonly index: number;
  readonly handler: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly state: unknown;
}

export class JobRunner {
  private readonly now: () => number;
  /** The chain of IN_PROGRESS reports of the current job (see run()). */
  private reporting: Promise<void> = Promise.resolve();
  /** Set when a handler's result (or a failed confirmation's rollback) needs the agent restarted. */
  restartRequested = false;

  constructor(private readonly d: JobRunnerDeps) {
    this.now = d.now ?? Date.now;
  }

  private jobDir(jobId: string) {
    return join(this.d.config.downloadDir, safeName(jobId));
  }

  /**
   * Settles what the journal holds from an earlier run: reports a final status not yet reported,
   * rolls back an interrupted install, or resumes a job interrupted before anything changed.
   * Returns false while a final status could not be reported (the caller retries later).
   */
  async recover(): Promise<boolean> {
    const { journal, logger } = this.d;
    const state = journal.state ?? journal.load();
    if (!state) return true;
    if (state.status !== 'IN_PROGRESS') return this.reportFinal();
    const log = logger.child({ jobId: state.jobId });
    if (state.step === 'restarting') {
      await this.confirmRestart(state, log);
      return this.d.journal.state === undefined;
    }
    if (state.step === 'rebooting') {
      await this.confirmReboot(state, log);
      return this.d.journal.state === undefined;
    }
    if (isResumable(state.step)) {
      log.info('resuming the job interrupted before any change', {
        step: state.step,
        attempt: state.attempt,
      });
      const execution = await this.d.transport.describe(state.jobId).catch((e: unknown) => {
        if (e instanceof TransportError && e.permanent) return undefined;
        throw e;
      });
      if (execution?.status !== 'IN_PROGRESS') {
        log.warn('the execution is no longer IN_PROGRESS on the service; dropping the job', {
          serviceStatus: execution?.status ?? 'not found',
        });
        this.forget(state.jobId);
        return true;
      }
      const outcome = await this.run(execution);
      return outcome.kind !== 'final' || this.d.journal.state === undefined;
    }
    log.warn('the agent stopped during install; rolling back', { step: state.step });
    const rollback = await this.rollbackSaved(state, log);
    journal.finish('FAILED', `AGENT_INTERRUPTED: the agent stopped during ${state.step}; ${rollback}`);
    return this.reportFinal();
  }

  /** Runs `execution` (IN_PROGRESS, with its document) to its end, a deferral or an interruption. */
  async run(execution: JobExecution): Promise<JobOutcome> {
    const { journal, config, transport } = this.d;
    const jobId = execution.jobId;
    const log = this.d.logger.child({ jobId });
    const held = journal.state;
    if (held && held.status === 'IN_PROGRESS' && held.jobId !== jobId) {
      throw new Error(`job ${held.jobId} is still in the journal; recover() it first`);
    }
    journal.begin({
      jobId,
      ...(execution.executionNumber === undefined ? {} : { executionNumber: execution.executionNumber }),
      ...(execution.versionNumber === undefined ? {} : { versionNumber: execution.versionNumber }),
    });
    log.info('job received', { attempt: journal.state?.attempt, executionNumber: execution.executionNumber });

    let plan: JobPlan;
    try {
      plan = parseJobDocument(execution.jobDocument ?? '');
    } catch (e) {
      this.d.onReceived(execution, undefined);
      const code = isJobDocumentError(e) ? e.code : 'DOCUMENT_INVALID';
      log.warn('job document refused', { reasonCode: code, reason: (e as Error).message });
      return this.end('REJECTED', code, (e as Error).message);
    }
    this.d.onReceived(execution, plan);

    // Reports go out one at a time and in order, so a slow progress report never lands after a
    // later step's (or the final status); progress while one is in flight is skipped.
    const report = (d: Record<string, string | number | undefined>, stepTimeoutInMinutes?: number) => {
      const send = async () => {
        try {
          await transport.update(jobId, 'IN_PROGRESS', details(d), {
            ...(stepTimeoutInMinutes === undefined ? {} : { stepTimeoutInMinutes }),
          });
        } catch (e) {
          // Progress is best effort: the final status is what must arrive.
          log.warn('progress report failed', { error: (e as Error).message });
        }
      };
      this.reporting = this.reporting.then(send);
      return this.reporting;
    };

    // The application may defer (nothing downloaded or changed yet).
    journal.step('approval');
    const decision = await this.d.approve({
      jobId,
      ...(plan.softwareVersion === undefined ? {} : { version: plan.softwareVersion }),
      currentVersion: config.version,
      files: plan.files.map((f) => ({
        name: f.name,
        ...(f.size === undefined ? {} : { size: f.size }),
        ...(f.sha256 === undefined ? {} : { sha256: f.sha256 }),
      })),
      steps: plan.steps.map((s) => s.name ?? s.handler),
    });
    if (decision === 'defer') {
      journal.step('deferred');
      log.info('the application deferred the update');
      await report({ step: 'deferred' });
      // Nothing ran yet: the job comes back through start-next at the next period.
      this.forget(jobId);
      return { kind: 'deferred', jobId };
    }

    const scriptEnv = {
      jobId,
      thingName: config.thingName,
      previousVersion: config.version,
      ...(plan.softwareVersion === undefined ? {} : { version: plan.softwareVersion }),
    };
    journal.step('pre-script');
    const pre = await this.d.scripts.runPre(scriptEnv);
    if (!pre.ok) {
      log.warn('pre-update script failed', { reasonCode: pre.reasonCode, reason: pre.reason });
      return this.end('FAILED', pre.reasonCode, pre.reason);
    }

    // Download and verify every file before anything is installed.
    const dir = this.jobDir(jobId);
    mkdirSync(dir, { recursive: true });
    const files: DownloadedFile[] = [];
    for (const file of plan.files) {
      journal.step(`download:${file.name}`);
      const dest = join(dir, 'files', file.name);
      mkdirSync(join(dir, 'files'), { recursive: true });
      try {
        await this.fetch(jobId, file, dest, report);
      } catch (e) {
        if (e instanceof DownloadError && e.code === 'ABORTED' && this.d.stopSignal.aborted) {
          log.info('download interrupted by stop; it resumes at the next start', { file: file.name });
          return { kind: 'interrupted', jobId };
        }
        const code = e instanceof DownloadError ? e.code : 'DOWNLOAD_FAILED';
        log.warn('download failed', { file: file.name, reasonCode: code, reason: (e as Error).message });
        return this.end('FAILED', code, `${file.name}: ${(e as Error).message}`, { file: file.name });
      }
      files.push({ name: file.name, path: dest });
    }
    journal.step('downloaded', { files: files.map((f) => f.path) });

    // Install only inside the apply window.
    const open = await this.waitForApplyWindow(report, log);
    if (!open) return { kind: 'interrupted', jobId };

    return this.install(jobId, plan, files, scriptEnv, report, log);
  }

  private async fetch(
    jobId: string,
    file: PlanFile,
    dest: string,
    report: (d: Record<string, string | number | undefined>) => Promise<void>,
  ): Promise<void> {
    const { config } = this.d;
    let last = 0;
    let lastPct = -1;
    let inFlight = false;
    const signature = this.signatureOf(file);
    await report({ step: 'download', file: file.name, progress: '0%' });
    const result = await download({
      url: file.url,
      dest,
      maxBytes: config.download.maxBytes,
      throttleMs: config.update.throttleMs,
      deadlineMs: config.download.deadlineSeconds * 1000,
      minBytesPerSecond: config.download.minBytesPerSecond,
      windowMs: config.download.windowSeconds * 1000,
      signal: this.d.stopSignal,
      ...(file.sha256 === undefined ? {} : { expectedSha256: file.sha256.toLowerCase() }),
      ...(file.size === undefined ? {} : { expectedSize: file.size }),
      ...(signature ? { signature } : {}),
      trustedKeys: config.trustedKeys,
      requireSignature: config.requireSignature,
      ...(this.d.downloadTls ? { tls: this.d.downloadTls } : {}),
      onProgress: (p) => {
        const total = p.total ?? file.size;
        const pct = total ? Math.min(100, Math.floor((p.received / total) * 100)) : undefined;
        const event: ProgressEvent = {
          jobId,
          step: 'download',
          file: file.name,
          received: p.received,
          ...(total === undefined ? {} : { total }),
          ...(pct === undefined ? {} : { progress: pct }),
        };
        if (pct !== lastPct) this.d.onProgress(event);
        lastPct = pct ?? lastPct;
        const t = this.now();
        if (t - last >= this.d.progressIntervalMs && !inFlight) {
          last = t;
          inFlight = true;
          void report({
            step: 'download',
            file: file.name,
            progress: pct === undefined ? `${p.received} bytes` : `${pct}%`,
          }).finally(() => {
            inFlight = false;
          });
        }
      },
    });
    await report({ step: 'download', file: file.name, progress: '100%' });
    this.d.logger.info('downloaded and verified', {
      jobId,
      file: file.name,
      size: result.size,
      sha256: result.sha256,
      resumedFrom: result.resumedFrom,
    });
  }

  /** The file's signature; a document naming no algorithm (seed 000) uses the trusted keys' algorithm. */
  private signatureOf(file: PlanFile): ArtifactSignature | undefined {
    if (file.signature === undefined) return undefined;
    const algorithm = file.signatureAlgorithm ?? this.d.config.trustedKeys[0]?.algorithm ?? 'ED25519';
    return {
      algorithm,
      signature: file.signature,
      ...(file.signingKeyId === undefined ? {} : { keyId: file.signingKeyId }),
    };
  }

  private async waitForApplyWindow(
    report: (d: Record<string, string | number | undefined>) => Promise<void>,
    log: AgentLogger,
  ): Promise<boolean> {
    let announced = false;
    for (;;) {
      const state = cronWindowState(this.d.config.update.apply, this.now());
      if (state.open) return true;
      const opensAt = state.opensAt ?? this.now() + 60_000;
      if (!announced) {
        announced = true;
        this.d.journal.step('apply-window');
        log.info('waiting for the apply window', { opensAt: new Date(opensAt).toISOString() });
        await report({ step: 'waiting-apply-window', opensAt: new Date(opensAt).toISOString() });
      }
      // Re-check at least every minute (clock changes, suspend).
      const ok = await delay(Math.min(60_000, Math.max(1000, opensAt - this.now())), this.d.stopSignal);
      if (!ok) return false;
    }
  }

  private async install(
    jobId: string,
    plan: JobPlan,
    files: readonly DownloadedFile[],
    scriptEnv: Record<string, string>,
    report: (d: Record<string, string | number | undefined>, stepTimeoutInMinutes?: number) => Promise<void>,
    log: AgentLogger,
  ): Promise<JobOutcome> {
    const { journal, registry } = this.d;
    const installed: Record<string, string> = {};
    const done: SavedRecord[] = [];
    const restartSteps: number[] = [];
    let restartDeadlineMs = 0;
    const ordered = [
      ...plan.steps.map((s, i) => ({ s, i })).filter(({ s }) => !s.final),
      ...plan.steps.map((s, i) => ({ s, i })).filter(({ s }) => s.final),
    ];
    let failure: { status: FinalStatus; reasonCode: string; reason: string; step: string } | undefined;
    for (const { s: step, i } of ordered) {
      if (step.final && failure) break;
      const label = step.name ?? step.handler;
      const found = registry.lookup(step.handler);
      let result: HandlerResult;
      if (!found.handler) {
        result = found.error;
      } else {
        journal.step(`install:${i}`, { data: { handler: step.handler, label } });
        await report(
          { step: `install ${i + 1}/${plan.steps.length}`, handler: step.handler, name: label },
          step.timeoutSeconds === undefined ? undefined : Math.ceil(step.timeoutSeconds / 60) + 1,
        );
        this.d.onProgress({ jobId, step: `install:${i}` });
        result = await this.runStep(jobId, plan, step, i, found.handler, files, log, (state) => {
          const record: SavedRecord = { index: i, handler: step.handler, params: step.params, state };
          journal.step(`saved:${i}`, { data: { saved: record } as Record<string, unknown> });
          done.push(record);
        });
      }
      log.info('step finished', {
        step: i,
        handler: step.handler,
        status: result.status,
        ...(result.reasonCode === undefined ? {} : { reasonCode: result.reasonCode }),
        ...(result.reason === undefined ? {} : { reason: result.reason }),
      });
      if (result.status === 'SUCCEEDED') {
        journal.step(`installed:${i}`);
        if ((result as AgentUpdateResult).restartRequired === true && found.handler) {
          restartSteps.push(i);
          if (isRestartingHandler(found.handler))
            restartDeadlineMs = Math.max(restartDeadlineMs, found.handler.restartDeadlineMs);
        }
        Object.assign(installed, result.installed ?? {});
        continue;
      }
      if (step.ignoreFailure) continue;
      failure = {
        status: result.status,
        reasonCode: result.reasonCode ?? (result.status === 'REJECTED' ? 'STEP_REJECTED' : 'STEP_FAILED'),
        reason: `step ${i + 1} (${label}): ${result.reason ?? result.status}`,
        step: label,
      };
      break;
    }

    if (!failure) {
      journal.step('post-script');
      const post = await this.d.scripts.runPost({ ...scriptEnv, installResult: 'SUCCEEDED' });
      if (!post.ok)
        failure = { status: 'FAILED', reasonCode: post.reasonCode, reason: post.reason, step: 'post-update' };
    }
    if (failure) {
      // Anything installed by earlier steps is put back: the device keeps its current software.
      const state = journal.state;
      const rollback = state ? await this.rollbackSaved(state, log) : 'nothing to roll back';
      const changed = done.length > 0;
      const status: FinalStatus = failure.status === 'REJECTED' && !changed ? 'REJECTED' : 'FAILED';
      return this.end(status, failure.reasonCode, failure.reason, { failedStep: failure.step, rollback });
    }
    if (plan.softwareVersion !== undefined && this.d.packageName !== undefined)
      installed[this.d.packageName] = plan.softwareVersion;
    if (restartSteps.length > 0) {
      const record: RestartRecord = {
        steps: restartSteps,
        installed,
        deadlineAt: this.now() + (restartDeadlineMs || 120_000),
      };
      journal.step('restarting', { data: { restart: record } as Record<string, unknown> });
      log.info('restarting the agent into the new release', { steps: restartSteps });
      await report({
        step: 'restarting',
        ...(plan.softwareVersion === undefined ? {} : { version: plan.softwareVersion }),
      });
      this.restartRequested = true;
      if (plan.reboot === 'on-success')
        log.warn('reboot: on-success is not performed when the agent restarts into a new release');
      return { kind: 'restart', jobId };
    }
    if (plan.reboot === 'on-success') return this.reboot(jobId, installed, report, log);
    return this.end('SUCCEEDED', undefined, undefined, {}, installed);
  }

  /**
   * Every step succeeded and the plan asks for a reboot: journal `rebooting` with the boot id
   * (before anything else, so a reboot at any instant is recognized), report it, run the reboot
   * command, then wait for the reboot (a stop, as at shutdown, leaves the journal for the next
   * boot). A failing command or no reboot within the timeout rolls back and ends FAILED.
   */
  private async reboot(
    jobId: string,
    installed: Record<string, string>,
    report: (d: Record<string, string | number | undefined>) => Promise<void>,
    log: AgentLogger,
  ): Promise<JobOutcome> {
    const { config, journal } = this.d;
    const bootId = this.bootId();
    if (bootId === undefined)
      return this.rebootFailed(
        'REBOOT_FAILED',
        'the boot id cannot be read, so a reboot could not be recognized',
        log,
      );
    const record: RebootRecord = {
      bootId,
      installed,
      deadlineAt: this.now() + config.rebootTimeoutSeconds * 1000,
    };
    journal.step('rebooting', { data: { reboot: record } as Record<string, unknown> });
    await report({ step: 'rebooting' });
    const [cmd, ...args] = config.rebootCommand;
    log.info('rebooting the device', { command: config.rebootCommand.join(' '), bootId });
    const r = await this.d.exec(cmd ?? 'systemctl', args, { timeoutMs: 60_000 });
    if (r.code !== 0) {
      const tail = (r.error ?? r.stderr).trim().slice(-300);
      return this.rebootFailed(
        'REBOOT_FAILED',
        `the reboot command ${config.rebootCommand.join(' ')} ${r.timedOut ? 'timed out' : `exited ${r.code ?? r.signal ?? 'without starting'}`}${tail ? `: ${tail}` : ''}`,
        log,
      );
    }
    return this.awaitReboot(jobId, record, log);
  }

  /** Waits until the reboot deadline; a stop (shutdown) interrupts it, the deadline fails the job. */
  private async awaitReboot(jobId: string, record: RebootRecord, log: AgentLogger): Promise<JobOutcome> {
    const waited = await delay(Math.max(0, record.deadlineAt - this.now()), this.d.stopSignal);
    if (!waited) {
      log.info('stopped while waiting for the reboot; the next start checks the boot id');
      return { kind: 'interrupted', jobId };
    }
    return this.rebootFailed(
      'REBOOT_TIMEOUT',
      `the device did not reboot within ${this.d.config.rebootTimeoutSeconds} s of the reboot command (boot id still ${record.bootId})`,
      log,
    );
  }

  private async rebootFailed(reasonCode: string, reason: string, log: AgentLogger): Promise<JobOutcome> {
    log.warn('reboot failed; rolling back', { reasonCode, reason });
    const state = this.d.journal.state;
    const rollback = state ? await this.rollbackSaved(state, log) : 'nothing to roll back';
    return this.end('FAILED', reasonCode, reason, { failedStep: 'reboot', rollback });
  }

  private bootId(): string | undefined {
    return (this.d.bootId ?? readBootId)();
  }

  /**
   * A start with the journal at `rebooting`: another boot id means the device rebooted
   * (SUCCEEDED, {rebooted: "true"}); the same one waits out the reboot deadline, then FAILED.
   */
  private async confirmReboot(state: JournalState, log: AgentLogger): Promise<void> {
    const record = [...state.steps].reverse().find((s) => s.name === 'rebooting')?.data?.reboot as
      | RebootRecord
      | undefined;
    if (!record || typeof record.bootId !== 'string') {
      await this.rebootFailed('REBOOT_FAILED', 'the journal does not say which boot to compare with', log);
      return;
    }
    const now = this.bootId();
    if (now !== undefined && now !== record.bootId) {
      log.info('the device rebooted', { bootId: now, previousBootId: record.bootId });
      await this.end(
        'SUCCEEDED',
        undefined,
        undefined,
        { rebooted: 'true', bootId: now, previousBootId: record.bootId },
        { ...record.installed },
      );
      return;
    }
    log.warn('started again without a reboot (same boot id); waiting for it until the deadline', {
      bootId: record.bootId,
      deadlineAt: new Date(record.deadlineAt).toISOString(),
    });
    await this.awaitReboot(state.jobId, record, log);
  }

  private async runStep(
    jobId: string,
    plan: JobPlan,
    step: PlanStep,
    index: number,
    handler: UpdateHandler,
    files: readonly DownloadedFile[],
    log: AgentLogger,
    save: (state: unknown) => void,
  ): Promise<HandlerResult> {
    const workDir = join(this.jobDir(jobId), `work-${index}`);
    mkdirSync(workDir, { recursive: true });
    const timeoutMs = step.timeoutSeconds === undefined ? undefined : step.timeoutSeconds * 1000;
    const abort = new AbortController();
    const ctx: HandlerContext = {
      workDir,
      files,
      params: step.params,
      logger: log.child({ step: index, handler: step.handler }),
      signal: abort.signal,
      exec: this.d.exec,
      saveState: async (state) => save(state),
      job: {
        jobId,
        thingName: this.d.config.thingName,
        ...(plan.softwareVersion === undefined ? {} : { version: plan.softwareVersion }),
      },
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    };
    try {
      if (handler.isInstalled && (await handler.isInstalled(ctx))) {
        log.info('already installed; nothing to do', { step: index });
        return { status: 'SUCCEEDED', details: { skipped: 'already installed' } };
      }
      const run = handler.install(ctx);
      if (timeoutMs === undefined) return await run;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<HandlerResult>((resolve) => {
        // A little grace after the handler's own limit, then the agent gives up on it.
        timer = setTimeout(() => {
          abort.abort();
          resolve({
            status: 'FAILED',
            reasonCode: 'STEP_TIMEOUT',
            reason: `no result within ${step.timeoutSeconds} s`,
          });
        }, timeoutMs + 5000);
      });
      try {
        return await Promise.race([run, timeout]);
      } finally {
        clearTimeout(timer);
      }
    } catch (e) {
      return { status: 'FAILED', reasonCode: 'HANDLER_ERROR', reason: (e as Error).message };
    }
  }

  /**
   * The first start after a restart asked by a handler: each such handler confirms its change
   * (`confirm`), then SUCCEEDED is reported with what was installed; a failed confirmation, or one
   * after the restart deadline, rolls back every saved step, reports FAILED and asks for another
   * restart (into what is current again).
   */
  private async confirmRestart(state: JournalState, log: AgentLogger): Promise<void> {
    const record = [...state.steps].reverse().find((s) => s.name === 'restarting')?.data?.restart as
      | RestartRecord
      | undefined;
    const saved = this.savedRecords(state);
    let failure: { reasonCode: string; reason: string } | undefined;
    const extra: Record<string, string> = { restarted: 'true' };
    if (!record || !Array.isArray(record.steps)) {
      failure = { reasonCode: 'NO_SAVED_STATE', reason: 'the journal does not say what to confirm' };
    } else if (this.now() > record.deadlineAt) {
      failure = {
        reasonCode: 'RESTART_DEADLINE_EXCEEDED',
        reason: `the restarted agent did not confirm the update by ${new Date(record.deadlineAt).toISOString()}`,
      };
    } else {
      for (const index of record.steps) {
        const rec = saved.get(index);
        const found = rec ? this.d.registry.lookup(rec.handler) : undefined;
        if (!rec || !found?.handler || !isRestartingHandler(found.handler)) {
          failure = {
            reasonCode: 'NO_SAVED_STATE',
            reason: `step ${index + 1} cannot be confirmed after the restart`,
          };
          break;
        }
        const workDir = join(this.jobDir(state.jobId), `confirm-${index}`);
        mkdirSync(workDir, { recursive: true });
        const r = await found.handler
          .confirm({
            workDir,
            files: [],
            params: rec.params,
            logger: log.child({ step: index, handler: rec.handler, confirm: true }),
            signal: this.d.stopSignal,
            exec: this.d.exec,
            savedState: rec.state,
            job: { jobId: state.jobId, thingName: this.d.config.thingName },
          })
          .catch(
            (e: unknown): HandlerResult => ({
              status: 'FAILED',
              reasonCode: 'HANDLER_ERROR',
              reason: (e as Error).message,
            }),
          );
        log.info('confirmed after the restart', { step: index, status: r.status, reason: r.reason });
        if (r.status !== 'SUCCEEDED') {
          failure = {
            reasonCode: r.reasonCode ?? 'HEALTH_CHECK_FAILED',
            reason: `after the restart: ${r.reason ?? r.status}`,
          };
          break;
        }
        Object.assign(extra, r.details ?? {});
      }
    }
    if (failure) {
      log.warn('the restarted agent is not healthy; rolling back', failure);
      const rollback = await this.rollbackSaved(state, log);
      this.restartRequested = true; // back into the release that is current again
      await this.end('FAILED', failure.reasonCode, failure.reason, { failedStep: 'restart', rollback });
      return;
    }
    await this.end('SUCCEEDED', undefined, undefined, extra, { ...(record?.installed ?? {}) });
  }

  private savedRecords(state: JournalState): Map<number, SavedRecord> {
    const saved = new Map<number, SavedRecord>();
    for (const s of state.steps) {
      const rec = s.data?.saved as SavedRecord | undefined;
      if (s.name.startsWith('saved:') && rec && typeof rec.index === 'number') saved.set(rec.index, rec);
    }
    return saved;
  }

  /** Rolls back, newest first, every step whose handler saved state in the journal. */
  private async rollbackSaved(state: JournalState, log: AgentLogger): Promise<string> {
    const saved = this.savedRecords(state);
    if (saved.size === 0) return 'nothing had changed';
    const outcomes: string[] = [];
    for (const rec of [...saved.values()].sort((a, b) => b.index - a.index)) {
      const found = this.d.registry.lookup(rec.handler);
      if (!found.handler?.rollback) {
        outcomes.push(`step ${rec.index + 1}: ${rec.handler} cannot roll back`);
        continue;
      }
      const workDir = join(this.jobDir(state.jobId), `rollback-${rec.index}`);
      mkdirSync(workDir, { recursive: true });
      const r = await found.handler
        .rollback({
          workDir,
          files: [],
          params: rec.params,
          logger: log.child({ step: rec.index, handler: rec.handler, rollback: true }),
          signal: new AbortController().signal,
          exec: this.d.exec,
          savedState: rec.state,
          job: { jobId: state.jobId, thingName: this.d.config.thingName },
        })
        .catch((e: unknown): HandlerResult => ({ status: 'FAILED', reason: (e as Error).message }));
      const what = r.details?.rollback ?? r.reason ?? r.status;
      log.info('rolled back', { step: rec.index, handler: rec.handler, status: r.status, outcome: what });
      outcomes.push(`step ${rec.index + 1}: ${what}`);
    }
    return outcomes.join('; ');
  }

  /** Journals the final status, then reports it (the journal keeps it until the service has it). */
  private async end(
    status: FinalStatus,
    reasonCode: string | undefined,
    reason: string | undefined,
    extra: Record<string, string> = {},
    installed: Record<string, string> = {},
  ): Promise<JobOutcome> {
    const { journal } = this.d;
    const text = reasonCode === undefined ? undefined : `${reasonCode}: ${reason ?? ''}`;
    journal.step('final', { data: { extra, installed } });
    journal.finish(status, text);
    await this.reportFinal();
    return {
      kind: 'final',
      status,
      ...(reasonCode === undefined ? {} : { reasonCode }),
      ...(reason === undefined ? {} : { reason }),
    };
  }

  /**
   * Reports the journal's final status, the `$package` shadow for SUCCEEDED, then clears the
   * journal. False when the service could not be reached (the journal keeps it for a retry).
   */
  async reportFinal(): Promise<boolean> {
    const { journal, transport } = this.d;
    const state = journal.state;
    if (!state || state.status === 'IN_PROGRESS') return true;
    const status = state.status as FinalStatus;
    await this.reporting;
    const log = this.d.logger.child({ jobId: state.jobId });
    const colon = state.reason?.indexOf(': ') ?? -1;
    const reasonCode =
      state.reason === undefined ? undefined : colon > 0 ? state.reason.slice(0, colon) : state.reason;
    const reason = state.reason === undefined || colon < 0 ? undefined : state.reason.slice(colon + 2);
    const finalRecord = [...state.steps].reverse().find((s) => s.name === 'final');
    const extra = (finalRecord?.data?.extra ?? {}) as Record<string, string>;
    const installed = (finalRecord?.data?.installed ?? {}) as Record<string, string>;
    if (status === 'SUCCEEDED' && Object.keys(installed).length > 0) {
      const reported = Object.fromEntries(Object.entries(installed).map(([p, v]) => [p, { version: v }]));
      try {
        await transport.updateShadow('$package', { state: { reported } });
        log.info('reported installed versions to the $package shadow', { installed });
      } catch (e) {
        if (!(e instanceof TransportError) || !e.permanent) {
          if (e instanceof TransportError && e.code === 'REJECTED')
            log.warn('the $package shadow refused the installed versions', { error: e.message });
          else {
            log.warn('could not report the $package shadow; retrying later', { error: (e as Error).message });
            return false;
          }
        }
      }
    }
    let reported = true;
    try {
      await transport.update(
        state.jobId,
        status,
        details({ step: status.toLowerCase(), reasonCode, reason, attempt: state.attempt, ...extra }),
        state.executionNumber === undefined ? {} : { executionNumber: state.executionNumber },
      );
    } catch (e) {
      if (e instanceof TransportError && e.permanent) {
        // Already final on the service (canceled, timed out, or reported just before a crash).
        reported = false;
        log.warn('the service already has a final status for this execution', { error: e.message });
      } else {
        log.warn('could not report the final status; retrying later', {
          status,
          error: (e as Error).message,
        });
        return false;
      }
    }
    log.info('job finished', {
      status,
      ...(reasonCode === undefined ? {} : { reasonCode }),
      ...(reason === undefined ? {} : { reason }),
      reported,
    });
    const event: FinishedEvent = {
      jobId: state.jobId,
      status,
      ...(reasonCode === undefined ? {} : { reasonCode }),
      ...(reason === undefined ? {} : { reason }),
      reported,
      ...(Object.keys(installed).length > 0 ? { installed } : {}),
    };
    writeLastResult(this.d.config.stateDir, { ...event, finishedAt: this.now() });
    this.forget(state.jobId);
    this.d.onFinished(event);
    return true;
  }

  /** Clears the journal and the job's download folder. */
  private forget(jobId: string): void {
    this.d.journal.clear();
    rmSync(this.jobDir(jobId), { recursive: true, force: true });
  }
}
