import { randomUUID } from 'node:crypto';
import { type Job, Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import type { GenerationProgress, GenerationRequest, GenerationResult } from '../generation-request.js';
import { ServerError } from '../server-error.js';
import type { ActiveJob, JobQueue, QueueStatus, ReadyState, SubmitOptions } from './job-queue.js';
import {
  type ControlMessage,
  cancelKey,
  cancelReason,
  checkWholeOption,
  controlChannel,
  decodeJobError,
  redisConnection,
} from './redis-link.js';

/** Options of {@link BullmqQueue}. */
export interface BullmqQueueOptions {
  /** Redis, as a URL: `redis://host:port[/db]` (`rediss://` for TLS, `redis://:password@host:port`). */
  connection: string;
  /** The BullMQ queue's name; API processes and workers of one model share it. Default `latentkit`. */
  queueName?: string;
  /** Tries per job when a worker fails it with an unexpected error (library errors are not retried). Default 3. */
  attempts?: number;
  /** The first retry waits this long, each later one twice as long (exponential backoff). Default 1000 ms. */
  backoffMs?: number;
  /** Enqueueing that takes longer (Redis down) fails with 503 QUEUE_UNAVAILABLE. Default 5000 ms. */
  submitTimeoutMs?: number;
  /** A job not finished this long after it was enqueued fails with 503 QUEUE_UNAVAILABLE (and is removed). Default 600 000 ms. */
  jobTimeoutMs?: number;
  /**
   * How often waiting requests look their job up in Redis (an event missed while Redis was away, a job
   * Redis lost); at most 50 jobs per look, in turn. Default 1000 ms.
   */
  pollMs?: number;
}

/** The data of one BullMQ job: the request, fully resolved. */
export interface GenerationJobData {
  /** What to make. */
  request: GenerationRequest;
}

/** How many times a job that Redis lost is put back on the queue before its request gets a 503. */
const MAX_REQUEUES = 3;

/** Jobs one poll tick looks up in Redis (the others wait for a later tick). */
const POLL_BATCH = 50;

/** BullMQ's key prefix (the default). */
export const BULLMQ_PREFIX = 'bull';
/** The default queue name. */
export const DEFAULT_QUEUE_NAME = 'latentkit';

interface Pending {
  id: string;
  data: GenerationJobData;
  /** Times the job was put back on the queue after Redis lost it. */
  requeued: number;
  resolve: (result: GenerationResult) => void;
  reject: (error: unknown) => void;
  onProgress: ((progress: GenerationProgress) => void) | undefined;
  deadline: number;
  settled: boolean;
  polling: boolean;
}

/**
 * The API side of the scaled-out mode: {@link submit} puts a job on a BullMQ queue in Redis and waits for
 * a {@link GenerationWorker} (in any process, on any machine) to finish it; progress comes back through
 * BullMQ's queue events. A job that a worker dies on is taken up by another one (BullMQ's stalled-job
 * check); a library error (bad size, …) fails it at once with its code. The request's `AbortSignal` (the
 * client went away) removes a waiting job, or aborts the running generation on its worker.
 *
 * ```ts
 * const queue = new BullmqQueue({ connection: 'redis://127.0.0.1:6379' });
 * const server = createServer({ queue, modelName: 'shapes', defaults });
 * ```
 */
export class BullmqQueue implements JobQueue {
  readonly mode = 'redis' as const;
  /** The queue's name in Redis. */
  readonly queueName: string;
  readonly #queue: Queue;
  readonly #events: QueueEvents;
  readonly #control: Redis;
  readonly #options: Required<Omit<BullmqQueueOptions, 'connection' | 'queueName'>>;
  readonly #pending = new Map<string, Pending>();
  readonly #eventsReady: Promise<void>;
  #poller: ReturnType<typeof setInterval> | undefined;
  #pollCursor = 0;
  #closed = false;

  /** @param options - Redis URL, queue name, retries and timeouts. */
  constructor(options: BullmqQueueOptions) {
    this.queueName = options.queueName ?? DEFAULT_QUEUE_NAME;
    checkWholeOption('BullmqQueue', 'attempts', options.attempts, 1);
    checkWholeOption('BullmqQueue', 'backoffMs', options.backoffMs, 0);
    checkWholeOption('BullmqQueue', 'submitTimeoutMs', options.submitTimeoutMs, 1);
    checkWholeOption('BullmqQueue', 'jobTimeoutMs', options.jobTimeoutMs, 1);
    checkWholeOption('BullmqQueue', 'pollMs', options.pollMs, 10);
    this.#options = {
      attempts: options.attempts ?? 3,
      backoffMs: options.backoffMs ?? 1000,
      submitTimeoutMs: options.submitTimeoutMs ?? 5000,
      jobTimeoutMs: options.jobTimeoutMs ?? 600_000,
      pollMs: options.pollMs ?? 1000,
    };
    // Fail fast while Redis is away (BullMQ's advice for queues that HTTP handlers add to).
    const failFast = redisConnection(options.connection, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
    });
    // Results and previews travel in the events stream: keep it short (BullMQ's default is 10 000 events,
    // gigabytes with 512² images); a reader that falls behind finds the result by polling the job.
    this.#queue = new Queue(this.queueName, {
      connection: failFast,
      prefix: BULLMQ_PREFIX,
      streams: { events: { maxLen: 1000 } },
    });
    this.#queue.on('error', () => {});
    this.#events = new QueueEvents(this.queueName, {
      connection: redisConnection(options.connection),
      prefix: BULLMQ_PREFIX,
    });
    this.#events.on('error', () => {});
    this.#control = new Redis(options.connection, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (times: number) => Math.min(200 * times, 2000),
    });
    this.#control.on('error', () => {});
    this.#events.on('completed', ({ jobId, returnvalue }) => {
      this.#settle(jobId, { result: returnvalue as unknown as GenerationResult });
    });
    this.#events.on('failed', ({ jobId }) => {
      // A failed try that BullMQ retries emits 'failed' too: settle only on the final failure.
      const pending = this.#pending.get(jobId);
      if (pending) void this.#check(pending);
    });
    this.#events.on('progress', ({ jobId, data }) => {
      const pending = this.#pending.get(jobId);
      if (pending && !pending.settled && typeof data === 'object' && data !== null) {
        pending.onProgress?.(data as unknown as GenerationProgress);
      }
    });
    this.#eventsReady = this.#events.waitUntilReady().then(
      () => {},
      () => {},
    );
  }

  async submit(request: GenerationRequest, options: SubmitOptions = {}): Promise<GenerationResult> {
    if (this.#closed) {
      throw new ServerError(
        'QUEUE_UNAVAILABLE',
        'the server is shutting down. Fix: retry on another server.',
        {
          retryAfterSeconds: 1,
        },
      );
    }
    const { signal, onProgress } = options;
    const id = randomUUID();
    if (signal?.aborted) throw asCancelled(signal.reason, id);
    const result = new Promise<GenerationResult>((resolve, reject) => {
      this.#pending.set(id, {
        id,
        data: { request },
        requeued: 0,
        resolve,
        reject,
        onProgress,
        deadline: Date.now() + this.#options.jobTimeoutMs,
        settled: false,
        polling: false,
      });
    });
    result.catch(() => {});
    const added = (async () => {
      await this.#eventsReady;
      await this.#add(id, { request });
    })();
    try {
      await withTimeout(added, this.#options.submitTimeoutMs);
    } catch (error) {
      this.#pending.delete(id);
      // Should Redis take the job after all (it came back late), nobody waits for it: take it off again.
      added.then(() => this.#cancel(id)).catch(() => {});
      throw new ServerError(
        'QUEUE_UNAVAILABLE',
        `the job could not be queued: Redis did not take it within ${this.#options.submitTimeoutMs} ms (${messageOf(error)}). Fix: retry shortly; check that Redis is up.`,
        { retryAfterSeconds: 5, cause: error },
      );
    }
    this.#startPolling();
    const onAbort = () => {
      this.#settle(id, { error: asCancelled(signal!.reason, id) });
      void this.#cancel(id);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await result;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  #add(id: string, data: GenerationJobData): Promise<unknown> {
    return this.#queue.add('generate', data, {
      jobId: id,
      attempts: this.#options.attempts,
      backoff: { type: 'exponential', delay: this.#options.backoffMs },
      // The result is read within a poll interval; keep few (each holds its images).
      removeOnComplete: { age: 300, count: 200 },
      removeOnFail: { age: 24 * 3600, count: 1000 },
    });
  }

  /** Removes a waiting job, or tells the worker that runs it to abort (and marks it, should it start now). */
  async #cancel(id: string): Promise<void> {
    try {
      await this.#control.set(cancelKey(BULLMQ_PREFIX, this.queueName, id), '1', 'EX', 600);
      const message: ControlMessage = { type: 'cancel', jobId: id };
      await this.#control.publish(controlChannel(BULLMQ_PREFIX, this.queueName), JSON.stringify(message));
      const job = await this.#queue.getJob(id);
      if (job && (await job.isWaiting())) await job.remove().catch(() => {});
    } catch {
      // Redis is away: the job, if it survives, runs for nobody; its result expires.
    }
  }

  #settle(id: string, outcome: { result: GenerationResult } | { error: unknown }): void {
    const pending = this.#pending.get(id);
    if (!pending || pending.settled) return;
    pending.settled = true;
    this.#pending.delete(id);
    if ('result' in outcome) pending.resolve(outcome.result);
    else pending.reject(outcome.error);
    if (this.#pending.size === 0) this.#stopPolling();
  }

  /** Looks the job up in Redis: settles it when it finished (an event may have been missed) or is gone. */
  async #check(pending: Pending): Promise<void> {
    if (pending.settled || pending.polling) return;
    pending.polling = true;
    try {
      if (Date.now() > pending.deadline) {
        this.#settle(pending.id, {
          error: new ServerError(
            'QUEUE_UNAVAILABLE',
            `job ${pending.id} did not finish within ${this.#options.jobTimeoutMs} ms (no worker took it, or Redis was away). Fix: retry; check the workers and Redis.`,
            { retryAfterSeconds: 5 },
          ),
        });
        void this.#cancel(pending.id);
        return;
      }
      const job = await withTimeout(this.#queue.getJob(pending.id), this.#options.pollMs * 2);
      if (!job) {
        // Redis answered, and the job is not there: Redis lost it (restarted without its data). Put it
        // back (same id: a worker may still finish the old run; either result answers the request).
        if (pending.requeued < MAX_REQUEUES) {
          pending.requeued++;
          await withTimeout(this.#add(pending.id, pending.data), this.#options.submitTimeoutMs);
          return;
        }
        this.#settle(pending.id, {
          error: new ServerError(
            'QUEUE_UNAVAILABLE',
            `job ${pending.id} was lost ${MAX_REQUEUES + 1} times: Redis no longer has it (restarted without persistence?). Fix: retry the request; run Redis with appendonly to keep jobs over a restart.`,
            { retryAfterSeconds: 1 },
          ),
        });
        return;
      }
      const state = await withTimeout(job.getState(), this.#options.pollMs * 2);
      if (state === 'completed' || state === 'failed') {
        // `job` was read before its state: a job that finished in between has neither its return value nor
        // its failure reason in that copy (a null result answered 500): read it again.
        const done = await withTimeout(this.#queue.getJob(pending.id), this.#options.pollMs * 2);
        if (done && state === 'completed' && done.returnvalue) {
          this.#settle(pending.id, { result: done.returnvalue as GenerationResult });
        } else if (done && state === 'failed') {
          this.#settle(pending.id, { error: decodeJobError(done.failedReason, pending.id) });
        }
      }
    } catch {
      // Redis is away: try again at the next poll, until the deadline.
    } finally {
      pending.polling = false;
    }
  }

  #startPolling(): void {
    if (this.#poller) return;
    this.#poller = setInterval(() => {
      // Look up at most POLL_BATCH jobs per tick, in turn: the poll is a fallback, not a load on Redis.
      const all = [...this.#pending.values()];
      const expired = all.filter((p) => Date.now() > p.deadline);
      for (const pending of expired) void this.#check(pending);
      if (all.length === 0) return;
      const start = this.#pollCursor % all.length;
      const batch = [...all.slice(start), ...all.slice(0, start)].slice(0, POLL_BATCH);
      this.#pollCursor = start + batch.length;
      for (const pending of batch) void this.#check(pending);
    }, this.#options.pollMs);
    this.#poller.unref?.();
  }

  #stopPolling(): void {
    if (this.#poller) clearInterval(this.#poller);
    this.#poller = undefined;
  }

  /** Jobs waiting and running, from Redis (all API processes and workers); 503 QUEUE_UNAVAILABLE while Redis is away. */
  async status(): Promise<QueueStatus> {
    const [waiting, jobs] = await this.#redis('read the queue', () =>
      Promise.all([
        this.#queue.getJobCountByTypes('waiting', 'prioritized', 'delayed'),
        this.#queue.getActive() as Promise<Job[]>,
      ]),
    );
    const active: ActiveJob[] = jobs
      .filter((job) => job?.id !== undefined)
      .map((job) => ({
        id: job.id!,
        startedAt: job.processedOn ?? job.timestamp,
        progress: progressOf(job),
      }))
      .sort((a, b) => a.startedAt - b.startedAt);
    return { waiting, active };
  }

  /** Interrupts every running job on every worker of the queue (a message on the control channel). */
  async interruptAll(): Promise<number> {
    return this.#redis('interrupt the running jobs', async () => {
      const active = await this.#queue.getActiveCount();
      const message: ControlMessage = { type: 'interrupt' };
      await this.#control.publish(controlChannel(BULLMQ_PREFIX, this.queueName), JSON.stringify(message));
      return active;
    });
  }

  /** Runs Redis commands within `submitTimeoutMs`; a failure is a 503 QUEUE_UNAVAILABLE. */
  async #redis<T>(what: string, commands: () => Promise<T>): Promise<T> {
    try {
      return await withTimeout(commands(), this.#options.submitTimeoutMs);
    } catch (error) {
      throw new ServerError(
        'QUEUE_UNAVAILABLE',
        `could not ${what}: Redis does not answer (${messageOf(error)}). Fix: retry shortly; check that Redis is up.`,
        { retryAfterSeconds: 5, cause: error },
      );
    }
  }

  async ready(): Promise<ReadyState> {
    if (this.#closed) return { ready: false, reason: 'shutting down' };
    try {
      const workers = await withTimeout(this.#queue.getWorkers(), this.#options.submitTimeoutMs);
      if (workers.length === 0) {
        return { ready: false, reason: `no worker is connected to queue ${this.queueName} on Redis` };
      }
      return { ready: true };
    } catch (error) {
      return { ready: false, reason: `Redis does not answer (${messageOf(error)})` };
    }
  }

  /**
   * Refuses new jobs, answers requests still waiting here with 503 (the server closes its HTTP side first,
   * which lets them finish), then closes the Redis connections. Jobs live on in Redis, on the workers.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stopPolling();
    for (const pending of [...this.#pending.values()]) {
      this.#settle(pending.id, {
        error: new ServerError(
          'QUEUE_UNAVAILABLE',
          'the server is shutting down. Fix: retry on another server.',
          {
            retryAfterSeconds: 1,
          },
        ),
      });
    }
    await Promise.allSettled([this.#events.close(), this.#queue.close()]);
    this.#control.disconnect();
  }
}

function progressOf(job: Job): GenerationProgress {
  const p = job.progress as unknown;
  if (typeof p === 'object' && p !== null && 'step' in p) return p as GenerationProgress;
  const totalSteps = (job.data as GenerationJobData | undefined)?.request?.steps ?? 0;
  return { step: 0, totalSteps };
}

function asCancelled(reason: unknown, id: string): ServerError {
  return reason instanceof ServerError ? reason : cancelReason(id);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `promise`, or a rejection after `ms` milliseconds. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  promise.catch(() => {});
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
