/**
 * The library API: `createAgent(config, options)` → an EventEmitter with start(), stop(), status().
 *
 * start() takes the device lock, loads the journal and settles a job left by an earlier run, then
 * loops: inside `update.schedule` it asks for the next job (start-next) every `period` seconds plus
 * a random 0..jitter, at once on a notify-next push (MQTT) and after every (re)connect; one job at a
 * time, through JobRunner. stop() ends downloads and waits (journaled, resumed at the next start),
 * lets an install in progress finish, closes the transport and releases the lock.
 *
 * Self-update: when a job's `agent` step asks for a restart, the loop stops taking work and emits
 * `restart`; the application (main.ts: exit code AGENT_RESTART_EXIT_CODE) stops the agent and has
 * it started again, from the new release. That start confirms the release (JobRunner.recover).
 * Settings from the configuration (handlers.fileRoots, packageName, selfUpdate) are used unless
 * the options give their own.
 */
import { EventEmitter } from 'node:events';
import type { AgentConfig } from '../config/agent-config.js';
import { cronWindowState } from '../config/cron-window.js';
import type { JobPlan } from '../documents/job-plan.js';
import { createExec } from '../handlers/exec.js';
import type { Exec, UpdateHandler } from '../handlers/handler.js';
import { createHandlerRegistry, type HandlerRegistryOptions } from '../handlers/registry.js';
import { Journal } from '../journal/journal.js';
import { type AgentLock, acquireAgentLock } from '../lock/agent-lock.js';
import {
  type FinishedEvent,
  JobRunner,
  type ProgressEvent,
  readBootId,
  type UpdateDecision,
  type UpdateRequest,
} from '../loop/job-runner.js';
import { type AgentLogger, silentLogger } from '../loop/logger.js';
import { createWaker, delay } from '../loop/sleep.js';
import { createUpdateScripts } from '../scripts/update-scripts.js';
import { type LastResult, readLastResult } from '../status/status.js';
import { createTransport, readDeviceTls } from '../transport/index.js';
import type { JobExecution, JobsTransport } from '../transport/transport.js';

/** `otter agent` exits with this code when a self-update needs a restart (systemd: Restart=always). */
export const AGENT_RESTART_EXIT_CODE = 75;

export interface AgentOptions {
  /** Structured logger (default: silent; `otter agent` logs JSON lines to stderr). */
  readonly logger?: AgentLogger;
  /** Folders the `file` handler may write into (default: config handlers.fileRoots). */
  readonly fileRoots?: readonly string[];
  /** Package name under which a document's `version` is reported to the `$package` shadow (default: config packageName). */
  readonly packageName?: string;
  /** MQTT password (the device token) for a plain/WebSocket broker listener. */
  readonly mqttPassword?: string;
  /** A transport of your own (tests, other protocols); default: from the configuration. */
  readonly transport?: JobsTransport;
  /** Minimum time between progress reports to the service (default 5 s). */
  readonly progressIntervalMs?: number;
  /** stepTimeoutInMinutes sent with start-next (default: none). */
  readonly stepTimeoutMinutes?: number;
  /** How long `device:update` listeners may take before the update is deferred (default 5 min). */
  readonly approvalTimeoutMs?: number;
  /** Extra built-in handlers by name (e.g. `agent`, the self-update handler). */
  readonly handlers?: Readonly<Record<string, UpdateHandler>>;
  /**
   * Options of the `agent` self-update handler (docs/agent-self-update.md); default: from config
   * selfUpdate. Without either, `agent` steps are REJECTED.
   */
  readonly agentUpdate?: HandlerRegistryOptions['agentUpdate'];
  readonly exec?: Exec;
  /**
   * File holding the boot id, compared across a `reboot: on-success` reboot (default
   * /proc/sys/kernel/random/boot_id; tests use a file of their own).
   */
  readonly bootIdFile?: string;
  /** Random source for jitter, 0 ≤ x < 1 (default Math.random). */
  readonly random?: () => number;
}

export type AgentState =
  | 'stopped'
  | 'starting'
  | 'idle'
  | 'outside-window'
  | 'running-job'
  | 'restart-pending'
  | 'stopping';

/** What `restart` listeners get: the job whose update needs the agent started again. */
export interface RestartEvent {
  readonly jobId?: string;
  /** `update`: a new release is current; `rollback`: the old release is current again. */
  readonly reason: 'update' | 'rollback';
}

export interface AgentStatusSnapshot {
  readonly state: AgentState;
  readonly thingName: string;
  readonly transport: 'http' | 'mqtt';
  readonly pid: number;
  readonly job?: { readonly jobId: string; readonly step: string; readonly attempt: number };
  readonly lastResult?: LastResult;
  /** Epoch ms of the next check, while idle. */
  readonly nextCheckAt?: number;
  readonly lastError?: string;
}

/** What a `device:update` listener may return (or resolve to). */
export type DeviceUpdateAnswer = UpdateDecision | undefined;

export interface AgentEvents {
  'job:received': [{ jobId: string; execution: JobExecution; plan?: JobPlan }];
  'device:update': [UpdateRequest];
  'job:progress': [ProgressEvent];
  'job:finished': [FinishedEvent];
  /** The loop stopped taking work: stop() the agent and start it again (its service manager does). */
  restart: [RestartEvent];
  error: [Error];
}

export interface Agent extends EventEmitter {
  /** Takes the lock and starts the loop; resolves once started (throws AgentLockError, JournalError, …). */
  start(): Promise<void>;
  /** Stops the loop and releases the lock; resolves once everything is closed. */
  stop(): Promise<void>;
  status(): AgentStatusSnapshot;
  /** Asks for work now (as a notify-next push would). */
  checkNow(): void;
  /**
   * Decides whether an update may be installed. Listeners of `device:update` (or this hook) return
   * `'defer'` (or a Promise of it) to keep the job for later; anything else approves.
   */
  on<E extends keyof AgentEvents>(event: E, listener: (...args: AgentEvents[E]) => unknown): this;
}

export function createAgent(config: AgentConfig, options: AgentOptions = {}): Agent {
  const emitter = new EventEmitter() as Agent;
  const logger = options.logger ?? silentLogger;
  const random = options.random ?? Math.random;
  const journal = new Journal(config.stateDir);
  const waker = createWaker();
  let state: AgentState = 'stopped';
  let lock: AgentLock | undefined;
  let transport: JobsTransport | undefined;
  let stopController = new AbortController();
  let loop: Promise<void> | undefined;
  let nextCheckAt: number | undefined;
  let lastError: string | undefined;
  /** A deferred job is asked again at the next period, not at the next push. */
  const deferred = new Map<string, number>();
  let runningJob: string | undefined;
  let restartPending = false;

  const agentUpdate: HandlerRegistryOptions['agentUpdate'] =
    options.agentUpdate ??
    (config.selfUpdate === undefined
      ? undefined
      : {
          installRoot: config.selfUpdate.installRoot,
          ...(config.selfUpdate.healthCommand === undefined
            ? {}
            : { healthCommand: config.selfUpdate.healthCommand }),
          healthTimeoutMs: config.selfUpdate.healthTimeoutSeconds * 1000,
          restartDeadlineMs: config.selfUpdate.restartDeadlineSeconds * 1000,
          maxUnconfirmedStarts: config.selfUpdate.maxUnconfirmedStarts,
        });
  const packageName = options.packageName ?? config.packageName;

  /** Stops taking work and tells the application to restart the agent. */
  function requestRestart(jobId: string | undefined, reason: RestartEvent['reason']): void {
    restartPending = true;
    state = 'restart-pending';
    logger.info('restart required', { ...(jobId === undefined ? {} : { jobId }), reason });
    if (emitter.listenerCount('restart') === 0)
      logger.warn('no restart listener: stop the agent and start it again to finish the update');
    emitter.emit('restart', { ...(jobId === undefined ? {} : { jobId }), reason });
  }

  const fail = (e: unknown) => {
    const err = e instanceof Error ? e : new Error(String(e));
    lastError = err.message;
    logger.error('agent error', { error: err.message, type: (err as { type?: string }).type });
    if (emitter.listenerCount('error') > 0) emitter.emit('error', err);
  };

  /** Runs the `device:update` listeners; any `'defer'` defers. Time-boxed. */
  async function approve(request: UpdateRequest): Promise<UpdateDecision> {
    const listeners = emitter.listeners('device:update') as ((r: UpdateRequest) => unknown)[];
    if (listeners.length === 0) return 'approve';
    const timeoutMs = options.approvalTimeoutMs ?? 5 * 60_000;
    const answers = listeners.map(async (l) => {
      try {
        return await l(request);
      } catch (e) {
        logger.warn('a device:update listener threw; deferring', { error: (e as Error).message });
        return 'defer';
      }
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'defer'>((resolve) => {
      timer = setTimeout(() => {
        logger.warn('no device:update answer in time; deferring', { jobId: request.jobId, timeoutMs });
        resolve('defer');
      }, timeoutMs);
    });
    try {
      const all = await Promise.race([Promise.all(answers), timeout.then((d) => [d])]);
      return all.includes('defer') ? 'defer' : 'approve';
    } finally {
      clearTimeout(timer);
    }
  }

  function makeRunner(t: JobsTransport): JobRunner {
    const exec = options.exec ?? createExec();
    const tls = readDeviceTls(config);
    return new JobRunner({
      config,
      transport: t,
      journal,
      registry: createHandlerRegistry({
        allowedRoots: options.fileRoots ?? config.handlers.fileRoots,
        enabled: config.handlers.enabled,
        ...(config.scriptsDir === undefined ? {} : { scriptsDir: config.scriptsDir }),
        ...(config.handlers.dir === undefined ? {} : { handlersDir: config.handlers.dir }),
        ...(options.handlers ? { extra: options.handlers } : {}),
        ...(agentUpdate ? { agentUpdate } : {}),
      }),
      scripts: createUpdateScripts({
        enabled: config.managedRespawn,
        ...(config.scriptsDir === undefined ? {} : { scriptsDir: config.scriptsDir }),
        exec,
      }),
      exec,
      logger,
      stopSignal: stopController.signal,
      progressIntervalMs: options.progressIntervalMs ?? 5000,
      ...(packageName === undefined ? {} : { packageName }),
      ...(options.stepTimeoutMinutes === undefined ? {} : { stepTimeoutMinutes: options.stepTimeoutMinutes }),
      ...(tls.ca === undefined ? {} : { downloadTls: { ca: tls.ca } }),
      approve,
      onReceived: (execution, plan) =>
        emitter.emit('job:received', { jobId: execution.jobId, execution, ...(plan ? { plan } : {}) }),
      onProgress: (event) => emitter.emit('job:progress', event),
      onFinished: (event) => emitter.emit('job:finished', event),
      bootId: () => readBootId(options.bootIdFile),
    });
  }

  /** One check: settle the journal, then run jobs while start-next hands out work. */
  async function check(runner: JobRunner, t: JobsTransport): Promise<void> {
    const held = journal.state?.jobId;
    const settled = await runner.recover();
    if (runner.restartRequested) return requestRestart(held, 'rollback');
    if (!settled) return; // final status still unreported: retry next time
    while (!stopController.signal.aborted) {
      const execution = await t.startNext(undefined, options.stepTimeoutMinutes);
      if (!execution) return;
      const until = deferred.get(execution.jobId);
      if (until !== undefined && Date.now() < until) return;
      deferred.delete(execution.jobId);
      state = 'running-job';
      runningJob = execution.jobId;
      try {
        const outcome = await runner.run(execution);
        if (outcome.kind === 'deferred') {
          deferred.set(execution.jobId, Date.now() + config.update.periodSeconds * 1000);
          return;
        }
        if (outcome.kind === 'restart') return requestRestart(execution.jobId, 'update');
        if (outcome.kind === 'interrupted') return;
        if (journal.state !== undefined) return; // final status not reported yet
      } finally {
        runningJob = undefined;
        if (!restartPending) state = 'idle';
      }
    }
  }

  async function run(runner: JobRunner, t: JobsTransport): Promise<void> {
    const signal = stopController.signal;
    let failures = 0;
    while (!signal.aborted && !restartPending) {
      let waitMs: number;
      const window = cronWindowState(config.update.schedule, Date.now());
      // A restarted (or rebooted) agent confirms its update at once, whatever the windows say.
      const confirming = journal.state?.step === 'restarting' || journal.state?.step === 'rebooting';
      if (!config.services.update && !confirming) {
        state = 'idle';
        waitMs = config.update.periodSeconds * 1000;
      } else if (!window.open && !confirming) {
        state = 'outside-window';
        const opensAt = window.opensAt ?? Date.now() + 60_000;
        waitMs = Math.min(opensAt - Date.now(), 60_000);
        logger.debug('outside the schedule window', { opensAt: new Date(opensAt).toISOString() });
      } else {
        state = 'idle';
        try {
          await check(runner, t);
          failures = 0;
          lastError = undefined;
        } catch (e) {
          failures++;
          fail(e);
        }
        if (signal.aborted || restartPending) break;
        const base = config.update.periodSeconds * 1000;
        // After errors retry sooner (capped backoff), never later than the period.
        waitMs = failures > 0 ? Math.min(base, 1000 * 2 ** Math.min(failures, 8)) : base;
        waitMs += Math.floor(random() * config.update.jitterSeconds * 1000);
      }
      nextCheckAt = Date.now() + waitMs;
      const reason = await waker.sleep(waitMs, signal);
      nextCheckAt = undefined;
      if (reason !== 'timeout' && reason !== 'stopped') logger.debug('checking for work', { reason });
    }
  }

  async function start(): Promise<void> {
    if (state !== 'stopped') throw new Error('the agent is already started');
    state = 'starting';
    restartPending = false;
    stopController = new AbortController();
    try {
      lock = acquireAgentLock(config.stateDir);
      if (lock.tookOver) logger.warn('took over a stale lock', { previousPid: lock.tookOver.pid });
      const held = journal.load();
      if (held) logger.info('journal found', { jobId: held.jobId, status: held.status, step: held.step });
      const t =
        options.transport ??
        (await createTransport(config, {
          ...(options.mqttPassword === undefined ? {} : { mqttPassword: options.mqttPassword }),
          onConnectionEvent: (event, message) =>
            logger[event === 'error' ? 'warn' : 'info'](`mqtt ${event}`, message ? { error: message } : {}),
        }));
      transport = t;
      t.onNotifyNext((execution) => {
        if (!execution || execution.jobId === runningJob) return;
        const until = deferred.get(execution.jobId);
        if (until !== undefined && Date.now() < until) return;
        waker.wake('notify-next');
      });
      let connected = false;
      t.onConnect(() => {
        if (connected) {
          logger.info('reconnected; reconciling with $next');
          waker.wake('reconnect');
        }
        connected = true;
      });
      // Keep trying to connect: a device often starts before its network.
      for (let attempt = 1; ; attempt++) {
        try {
          await t.connect();
          break;
        } catch (e) {
          if (attempt === 1 || attempt % 10 === 0) fail(e);
          if (!(await delay(Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5)), stopController.signal)))
            throw new Error('stopped before connecting');
        }
      }
      logger.info('agent started', {
        thingName: config.thingName,
        transport: t.kind,
        version: config.version,
        pid: process.pid,
      });
      const runner = makeRunner(t);
      state = 'idle';
      loop = run(runner, t).catch(fail);
    } catch (e) {
      state = 'stopped';
      await transport?.close().catch(() => {});
      transport = undefined;
      lock?.release();
      lock = undefined;
      throw e;
    }
  }

  async function stop(): Promise<void> {
    if (state === 'stopped') return;
    state = 'stopping';
    logger.info('stopping', runningJob ? { jobId: runningJob, step: journal.state?.step } : {});
    stopController.abort();
    await loop;
    loop = undefined;
    await transport?.close().catch((e: unknown) => fail(e));
    transport = undefined;
    lock?.release();
    lock = undefined;
    state = 'stopped';
    logger.info('agent stopped');
  }

  return Object.assign(emitter, {
    start,
    stop,
    checkNow: () => waker.wake('checkNow'),
    status(): AgentStatusSnapshot {
      const j = journal.state;
      const last = readLastResult(config.stateDir);
      return {
        state,
        thingName: config.thingName,
        transport: transport?.kind ?? config.transport,
        pid: process.pid,
        ...(j ? { job: { jobId: j.jobId, step: j.step, attempt: j.attempt } } : {}),
        ...(last ? { lastResult: last } : {}),
        ...(nextCheckAt === undefined ? {} : { nextCheckAt }),
        ...(lastError === undefined ? {} : { lastError }),
      };
    },
  });
}
