/**
 * SDXL's base + refiner hand-off, diffusers' "ensemble of expert denoisers": the base denoises the first
 * 80 % of the schedule (`denoisingEnd: 0.8`) and returns latents (`outputType: 'latent'`); the refiner
 * continues from them (`image` = those latents, `denoisingStart: 0.8`) with the same prompt and steps.
 *
 *   npx tsx examples/sdxl-refiner.ts [OUT_DIR] [BASE] [REFINER]
 *
 * BASE and REFINER are SDXL ONNX folders or Hugging Face Hub ids (Optimum exports of
 * stable-diffusion-xl-base-1.0 and stable-diffusion-xl-refiner-1.0, docs/model-folders.md); by default the
 * tiny random-weight SDXL fixtures of tests/fixtures/models (sdxl-tiny, sdxl-refiner-tiny), which run in
 * seconds on a CPU and draw noise-like images (their weights are random: the example shows the plumbing).
 * Writes to OUT_DIR (default examples/out/, or $LATENTKIT_EXAMPLES_OUT):
 * - sdxl-base.png: the base alone, the whole schedule;
 * - sdxl-refined.png: base to 0.8, then the refiner, with A1111's `Refiner:` / `Refiner switch at:`
 *   parameters (what `latentkit generate --refiner DIR --high-noise-frac 0.8` writes).
 * Guide: docs/sdxl.md.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generationParametersFrom, nodeBackend, writePng } from '@latentkit/backend-node';
import { refinerGenerationParameters, StableDiffusionXLPipeline } from '@latentkit/core';

const outDir =
  process.argv[2] ?? process.env.LATENTKIT_EXAMPLES_OUT ?? fileURLToPath(new URL('./out/', import.meta.url));
const fixtures = fileURLToPath(new URL('../tests/fixtures/models/', import.meta.url));
const baseSource = process.argv[3] ?? join(fixtures, 'sdxl-tiny');
const refinerSource = process.argv[4] ?? join(fixtures, 'sdxl-refiner-tiny');
const tiny = process.argv[3] === undefined;

const base = await StableDiffusionXLPipeline.fromPretrained(baseSource, { backend: nodeBackend });
const refiner = await StableDiffusionXLPipeline.fromPretrained(refinerSource, { backend: nodeBackend });

try {
  await mkdir(outDir, { recursive: true });
  const prompt = 'A majestic lion jumping from a big stone at night';
  // diffusers' example runs 40 steps; the tiny fixtures need few
  const numInferenceSteps = tiny ? 10 : 40;
  const highNoiseFrac = 0.8;
  const seed = 42;

  // The base alone, for comparison.
  const alone = await base.generate({ prompt, numInferenceSteps, seed });
  await writePng(join(outDir, 'sdxl-base.png'), alone.images[0]!, {
    parameters: alone.parameters,
    model: 'base',
  });
  console.log(`sdxl-refiner: sdxl-base.png, the base alone (${numInferenceSteps} steps)`);

  let baseSteps = 0;
  let refinerSteps = 0;
  // The base stops at 80 % of the schedule and hands over its latents…
  const handOff = await base.generate({
    prompt,
    numInferenceSteps,
    seed,
    denoisingEnd: highNoiseFrac,
    outputType: 'latent',
    onStep: () => {
      baseSteps++;
    },
  });
  // …which the refiner denoises from there on (no new noise: the latents are used as they are).
  const refined = await refiner.generate({
    prompt,
    numInferenceSteps,
    seed,
    denoisingStart: highNoiseFrac,
    image: handOff.images,
    onStep: () => {
      refinerSteps++;
    },
  });
  const parameters = refinerGenerationParameters(
    generationParametersFrom(handOff.parameters, { model: 'base' }),
    generationParametersFrom(refined.parameters, { model: 'base' }),
    { name: 'refiner', switchAt: highNoiseFrac },
  );
  await writePng(join(outDir, 'sdxl-refined.png'), refined.images[0]!, { parameters });
  console.log(
    `sdxl-refiner: sdxl-refined.png, base to ${highNoiseFrac} of the schedule, then the refiner ` +
      `(latents ${handOff.images.shape.join('×')} handed over; base ${baseSteps} steps, refiner ${refinerSteps} steps)`,
  );
} finally {
  await base.dispose();
  await refiner.dispose();
}
