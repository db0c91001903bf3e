// A BullMQ worker process for the server tests: loads the shipped model once and runs a GenerationWorker
// on the queue named by the environment, until SIGTERM (graceful: the running job finishes, exit 0).
// Started by tests/support/bullmq-cluster.ts with tsx. Prints `ready <pid>` when it takes jobs.
import { nodeBackend } from '@latentkit/backend-node';
import { StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import { GenerationWorker } from '@latentkit/server';

const connection = process.env['LATENTKIT_REDIS'];
if (!connection) throw new Error('LATENTKIT_REDIS is not set');
const handBack = process.env['LATENTKIT_HAND_BACK_MS'];

const pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
const worker = new GenerationWorker(pipe, {
  connection,
  queueName: process.env['LATENTKIT_QUEUE'] ?? 'latentkit',
  modelName: 'shapes',
  previewEverySteps: Number(process.env['LATENTKIT_PREVIEW_EVERY'] ?? 0),
  lockDurationMs: Number(process.env['LATENTKIT_LOCK_MS'] ?? 2000),
});
process.once('SIGTERM', () => {
  console.log(`closing ${process.pid}`);
  void worker
    .close(handBack === undefined ? {} : { handBackAfterMs: Number(handBack) })
    .then(() => pipe.dispose())
    .then(() => {
      console.log(`closed ${process.pid}`);
      process.exit(0);
    });
});
await worker.ready;
console.log(`ready ${process.pid}`);
