/**
 * Swap the scheduler (the sampler) between calls: the same prompt and seed, four schedulers, four images.
 *
 *   npx tsx examples/swap-scheduler.ts [OUT_DIR]
 *
 * Writes OUT_DIR/scheduler-<name>.png (default examples/out/, or $LATENTKIT_EXAMPLES_OUT).
 * Every scheduler and its A1111 name: docs/schedulers.md.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBackend, writePng } from '@latentkit/backend-node';
import { StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import {
  createScheduler,
  DPMSolverMultistepScheduler,
  EulerAncestralDiscreteScheduler,
  minimumSensibleSteps,
} from '@latentkit/schedulers';

const outDir =
  process.argv[2] ?? process.env.LATENTKIT_EXAMPLES_OUT ?? fileURLToPath(new URL('./out/', import.meta.url));
const modelDir = process.env.LATENTKIT_MODEL ?? shapesModelPath;

await mkdir(outDir, { recursive: true });
const pipe = await StableDiffusionPipeline.fromPretrained(modelDir, { backend: nodeBackend });

/** Generates the example's image with the pipeline's current scheduler and writes scheduler-<name>.png. */
async function render(name: string): Promise<void> {
  const scheduler = pipe.scheduler;
  const started = performance.now();
  const { images } = await pipe.generate({
    prompt: 'a yellow triangle on a purple background',
    // 20 steps, or more for the schedulers that need more (LMS and PLMS: 50).
    numInferenceSteps: Math.max(20, minimumSensibleSteps(scheduler)),
    guidanceScale: 5,
    seed: 7,
  });
  const file = join(outDir, `scheduler-${name}.png`);
  await writePng(file, images[0]!);
  const ms = Math.round(performance.now() - started);
  console.log(`swap-scheduler: ${scheduler.constructor.name} (${name}) → ${file} in ${ms} ms`);
}

// By diffusers class name: a scheduler_config.json names its class in `_class_name`
// (this is what fromPretrained does with the model folder's file).
const file = join(modelDir, 'scheduler', 'scheduler_config.json');
const config = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
pipe.scheduler = createScheduler(config['_class_name'] as string, config);
await render('default');

// By class, exactly as in diffusers: DPMSolverMultistepScheduler.from_config(pipe.scheduler.config).
// Every scheduler built from the current one's config keeps the model's noise schedule (betas,
// prediction type, steps_offset, …) and changes only how the steps are taken.
pipe.scheduler = DPMSolverMultistepScheduler.fromConfig(pipe.scheduler.config);
await render('dpm-solver');

// With overrides, as diffusers' from_config(config, timestep_spacing="trailing"): overrides win.
const trailing = { timestep_spacing: 'trailing' };
pipe.scheduler = EulerAncestralDiscreteScheduler.fromConfig(pipe.scheduler.config, trailing);
await render('euler-a');

// By the name A1111 / ComfyUI users know, with the config keys the name implies (Karras sigmas):
pipe.scheduler = createScheduler('DPM++ 2M Karras', pipe.scheduler.config);
await render('dpm-2m-karras');

// The sessions hold native memory: release them when done.
await pipe.dispose();
