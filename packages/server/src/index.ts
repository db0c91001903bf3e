/**
 * `@latentkit/server`: latentkit over HTTP — the OpenAI Images API and AUTOMATIC1111's `/sdapi/v1` API —
 * with an in-process queue, or BullMQ on Redis for worker processes on many machines. See docs/serving.md.
 */

export type { ServerCliIo } from './cli/cli-io.js';
export type { WorkerLaunch } from './cli/serve-command.js';
export { runServerCli, type ServerCliOptions } from './cli/server-cli.js';
export { createServer, type LatentkitServer } from './create-server.js';
export type { GenerationProgress, GenerationRequest, GenerationResult } from './generation-request.js';
export { modelDefaults } from './model-defaults.js';
export {
  BullmqQueue,
  type BullmqQueueOptions,
  DEFAULT_QUEUE_NAME,
  type GenerationJobData,
} from './queue/bullmq-queue.js';
export { InProcessQueue, type InProcessQueueOptions } from './queue/in-process-queue.js';
export type { ActiveJob, JobQueue, QueueStatus, ReadyState, SubmitOptions } from './queue/job-queue.js';
export {
  InterruptRequest,
  isServablePipeline,
  type RunGenerationOptions,
  runGeneration,
  type ServablePipeline,
} from './run-generation.js';
export {
  type ErrorCode,
  type ErrorReply,
  errorReplyFor,
  httpStatusFor,
  ServerError,
  type ServerErrorCode,
} from './server-error.js';
export {
  DEFAULT_REQUEST_LIMITS,
  type ModelDefaults,
  type RequestLimits,
  type ServerOptions,
} from './server-options.js';
export {
  GenerationWorker,
  type GenerationWorkerOptions,
  type WorkerCloseOptions,
} from './worker/generation-worker.js';
