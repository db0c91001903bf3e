import type { JobQueue } from './queue/job-queue.js';

/** What the server defaults to when a request leaves a setting out (from the model it serves). */
export interface ModelDefaults {
  /** Output width in pixels: the model's native size. */
  width: number;
  /** Output height in pixels. */
  height: number;
  /** Inference steps. */
  steps: number;
  /** Guidance scale. */
  guidanceScale: number;
  /** img2img strength. */
  strength: number;
}

/** Upper bounds on one request, checked before it is queued (the pipeline's own limits apply too). */
export interface RequestLimits {
  /** Images one request may ask for (OpenAI `n`; A1111 `batch_size × n_iter`). Default 8. */
  maxImages: number;
  /** Inference steps one request may ask for. Default 150. */
  maxSteps: number;
  /** The largest width or height. Default 2048. */
  maxSide: number;
  /** Bytes of one request body (JSON or multipart). Default 20 MiB. */
  bodyLimit: number;
  /** Generation requests one API key (or one client address, without keys) may have open at once. Default 4. */
  maxConcurrentPerKey: number;
}

/** The default {@link RequestLimits}. */
export const DEFAULT_REQUEST_LIMITS: Readonly<RequestLimits> = Object.freeze({
  maxImages: 8,
  maxSteps: 150,
  maxSide: 2048,
  bodyLimit: 20 * 1024 * 1024,
  maxConcurrentPerKey: 4,
});

/** Options of {@link createServer}. */
export interface ServerOptions {
  /** Where jobs go: an `InProcessQueue` or a `BullmqQueue`. The server closes it on `close()`. */
  queue: JobQueue;
  /** The id of the model served (`/v1/models`, `/sdapi/v1/sd-models`, infotext `Model:`). */
  modelName: string;
  /** Defaults for what a request leaves out. */
  defaults: ModelDefaults;
  /** Request limits; any left out keep {@link DEFAULT_REQUEST_LIMITS}. */
  limits?: Partial<RequestLimits>;
  /** When set, every route but `/healthz` needs `Authorization: Bearer <one of these>`. */
  apiKeys?: readonly string[];
  /** Fastify's logger (default off). */
  logger?: boolean;
}
