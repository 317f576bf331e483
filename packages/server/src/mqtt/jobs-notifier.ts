import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { type Clock, type Execution, isOtterError } from '@otter/core';
import type { JobEngine, JobNotifier } from '../services/job-engine.js';
import type { JobRecord } from '../store/job-store.js';
import { deviceExecution, executionSummary, jobsTopic } from './jobs-topics.js';
import type { MqttLog } from './transport.js';

export interface JobsNotifierOptions {
  engine: JobEngine;
  clock: Clock;
  publish(topic: string, payload: object): Promise<void>;
  log: MqttLog;
  /** Things handled per batch (one pending-executions query and one job document lookup per job per batch). Default 500. */
  batchSize?: number;
  /** Things being pushed at the same time within a batch. Default 32. */
  concurrency?: number;
}

/**
 * Pushes `$aws/things/{t}/jobs/notify` and `…/notify-next` when a thing's pending executions change.
 * `executionsChanged` only queues the names (a set, so a thing changed twice before its turn gets
 * one push with its latest state) and returns; one drain loop works through the queue in batches,
 * at most `concurrency` things at a time, yielding to the event loop between batches. A job for a
 * million things therefore never has more than `concurrency` pushes in flight.
 */
export class JobsNotifier implements JobNotifier {
  readonly #opts: Required<Omit<JobsNotifierOptions, 'log'>> & { log: MqttLog };
  readonly #queue = new Set<string>();
  #draining: Promise<void> | undefined;
  #closed = false;
  #pushed = 0;

  constructor(opts: JobsNotifierOptions) {
    this.#opts = { batchSize: 500, concurrency: 32, ...opts };
  }

  /** Things pushed so far (both topics published). */
  get pushed(): number {
    return this.#pushed;
  }

  async executionsChanged(thingNames: readonly string[]): Promise<void> {
    if (this.#closed) return;
    for (const name of thingNames) this.#queue.add(name);
    if (this.#queue.size > 0 && !this.#draining) this.#startDrain();
  }

  /** Resolves once the queue is empty and nothing is in flight. */
  async idle(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  /** Stops taking work and waits for the batch in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#queue.clear();
    await this.idle();
  }

  #startDrain(): void {
    this.#draining = this.#drain()
      .catch((error: Error) => this.#opts.log.error({ err: error.message }, 'job notification failed'))
      .finally(() => {
        this.#draining = undefined;
        if (this.#queue.size > 0 && !this.#closed) this.#startDrain();
      });
  }

  async #drain(): Promise<void> {
    const { batchSize, concurrency } = this.#opts;
    while (this.#queue.size > 0 && !this.#closed) {
      const batch: string[] = [];
      for (const name of this.#queue) {
        batch.push(name);
        this.#queue.delete(name);
        if (batch.length >= batchSize) break;
      }
      // One query for the whole batch (things deleted meanwhile are simply absent: nobody to tell).
      let pending: Awaited<ReturnType<JobEngine['pendingOfThings']>>;
      try {
        pending = await this.#opts.engine.pendingOfThings(batch);
      } catch (error) {
        // This batch is lost (logged); the rest of the queue still gets its turn.
        this.#opts.log.error({ err: (error as Error).message }, 'job notification failed');
        continue;
      }
      const things = batch.filter((name) => pending.has(name));
      const documents = new Map<string, Promise<string>>();
      let next = 0;
      const worker = async () => {
        while (next < things.length) {
          const thingName = things[next++]!;
          await this.#push(thingName, pending.get(thingName)!, documents);
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, things.length) }, worker));
      await yieldToEventLoop();
    }
  }

  /** Publishes notify and notify-next for one thing; a failure is logged, never thrown. */
  async #push(
    thingName: string,
    { inProgress, queued }: { inProgress: Execution[]; queued: Execution[] },
    documents: Map<string, Promise<string>>,
  ): Promise<void> {
    const { engine, clock, publish } = this.#opts;
    try {
      const now = clock.now();
      const timestamp = Math.floor(now / 1000);
      const jobs = {
        ...(inProgress.length ? { IN_PROGRESS: inProgress.map(executionSummary) } : {}),
        ...(queued.length ? { QUEUED: queued.map(executionSummary) } : {}),
      };
      const topic = jobsTopic(thingName);
      const next = inProgress[0] ?? queued[0];
      let nextPayload: object = { timestamp };
      if (next) {
        // One document per job per batch: a job's things share it (presigned URLs included).
        let document = documents.get(next.jobId);
        if (!document) {
          document = engine.jobOf(next.jobId).then((job: JobRecord) => engine.deviceDocument(job));
          documents.set(next.jobId, document);
        }
        nextPayload = { timestamp, execution: deviceExecution(next, now, await document) };
      }
      await publish(`${topic}/notify`, { timestamp, jobs });
      await publish(`${topic}/notify-next`, nextPayload);
      this.#pushed++;
    } catch (error) {
      // A thing deleted meanwhile has nothing to be told; anything else is worth a log line.
      if (isOtterError(error) && error.type === 'ResourceNotFoundException') return;
      this.#opts.log.error({ thingName, err: (error as Error).message }, 'job notification failed');
    }
  }
}
