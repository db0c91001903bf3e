import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { JobQueue, QueueStatus } from './queue/job-queue.js';

/** The queue's status, or undefined while it cannot say (Redis away): a scrape must still answer. */
async function statusOrUndefined(queue: JobQueue): Promise<QueueStatus | undefined> {
  try {
    return await queue.status();
  } catch {
    return undefined;
  }
}

/** The server's Prometheus metrics, on a registry of its own (so several servers in one process do not mix). */
export class ServerMetrics {
  /** The registry `/metrics` serves. */
  readonly registry = new Registry();
  /** Seconds each finished generation took, model work only. */
  readonly generationSeconds: Histogram<'api'>;
  /** Seconds from a request's arrival to its answer, queue wait included. */
  readonly requestSeconds: Histogram<'api'>;
  /** Generation requests that failed, by error code. */
  readonly failures: Counter<'api' | 'code'>;
  /** Images returned. */
  readonly images: Counter<'api'>;

  /** @param queue - Read for the queue gauges at each scrape. */
  constructor(queue: JobQueue) {
    collectDefaultMetrics({ register: this.registry, prefix: 'latentkit_' });
    const registers = [this.registry];
    const buckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
    this.generationSeconds = new Histogram({
      name: 'latentkit_generation_seconds',
      help: 'Seconds each generation took (model work, without the wait in the queue).',
      labelNames: ['api'],
      buckets,
      registers,
    });
    this.requestSeconds = new Histogram({
      name: 'latentkit_request_seconds',
      help: 'Seconds from a generation request to its answer, queue wait included.',
      labelNames: ['api'],
      buckets,
      registers,
    });
    this.failures = new Counter({
      name: 'latentkit_generation_failures_total',
      help: 'Generation requests that failed, by error code.',
      labelNames: ['api', 'code'],
      registers,
    });
    this.images = new Counter({
      name: 'latentkit_images_total',
      help: 'Images returned.',
      labelNames: ['api'],
      registers,
    });
    new Gauge({
      name: 'latentkit_queue_waiting',
      help: 'Jobs waiting in the queue.',
      registers,
      async collect() {
        const status = await statusOrUndefined(queue);
        if (status) this.set(status.waiting);
      },
    });
    new Gauge({
      name: 'latentkit_queue_active',
      help: 'Jobs running now.',
      registers,
      async collect() {
        const status = await statusOrUndefined(queue);
        if (status) this.set(status.active.length);
      },
    });
  }
}
