/**
 * Swap the scheduler (the sampler) between calls: the same prompt and seed, four schedulers, four images.
 *
 *   npx tsx examples/swap-scheduler.ts [OUT_DIR]
 *
 * Writes OUT_DIR/scheduler-<name>.png (default examples/out/, or $LATENTKIT_EXAMPLES_OUT).
 * Every scheduler and its A1111 name: docs/schedulers.md.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBackend, writePng } from '@latentkit/backend-node';
import { StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import {
  createScheduler,
  DPMSolverMultistepScheduler,
  EulerAncestralDiscreteScheduler,
} from '@latentkit/schedulers';

const outDir =
  process.argv[2] ?? process.env.LATENTKIT_EXAMPLES_OUT ?? fileURLToPath(new URL('./out/', import.meta.url));
const modelDir = process.env.LATENTKIT_MODEL ?? shapesModelPath;

const pipe = await StableDiffusionPipeline.fromPretrained(modelDir, { backend: nodeBackend });

try {
  await mkdir(outDir, { recursive: true });
  // The model's own scheduler_config.json: every scheduler built from it keeps the model's noise
  // schedule (betas, prediction type, …) and changes only how the steps are taken.
  const modelConfig = pipe.scheduler.config;
  const schedulers = {
    // the one the model folder names
    default: pipe.scheduler,
    // by class, as in diffusers: DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
    'dpm-solver': DPMSolverMultistepScheduler.fromConfig(modelConfig),
    'euler-a': EulerAncestralDiscreteScheduler.fromConfig(modelConfig),
    // by the A1111 name, which also sets the options the name implies (here Karras sigmas)
    'dpm-2m-karras': createScheduler('DPM++ 2M Karras', modelConfig),
  };

  for (const [name, scheduler] of Object.entries(schedulers)) {
    pipe.scheduler = scheduler;
    const started = performance.now();
    const { images } = await pipe.generate({
      prompt: 'a yellow triangle on a purple background',
      numInferenceSteps: 20,
      guidanceScale: 5,
      seed: 7,
    });
    const file = join(outDir, `scheduler-${name}.png`);
    await writePng(file, images[0]!);
    const ms = Math.round(performance.now() - started);
    console.log(`swap-scheduler: ${scheduler.config['_class_name']} (${name}) → ${file} in ${ms} ms`);
  }
} finally {
  await pipe.dispose();
}
