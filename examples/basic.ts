/**
 * Text to image with the shipped model: load a pipeline, generate one image, write it as a PNG.
 *
 *   npx tsx examples/basic.ts [OUT_DIR]
 *
 * Writes OUT_DIR/basic.png (default examples/out/, or $LATENTKIT_EXAMPLES_OUT). Set LATENTKIT_MODEL to a
 * diffusers ONNX folder to run it on another model.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBackend, writePng } from '@latentkit/backend-node';
import { StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';

const outDir =
  process.argv[2] ?? process.env.LATENTKIT_EXAMPLES_OUT ?? fileURLToPath(new URL('./out/', import.meta.url));
const modelDir = process.env.LATENTKIT_MODEL ?? shapesModelPath;

// Load the model folder (model_index.json, unet/, vae_decoder/, …) on onnxruntime-node.
const pipe = await StableDiffusionPipeline.fromPretrained(modelDir, {
  backend: nodeBackend,
  providers: ['cpu'],
});

try {
  await mkdir(outDir, { recursive: true });
  const prompt = 'a red circle on a blue background';
  const { images, parameters } = await pipe.generate({
    prompt,
    numInferenceSteps: 20,
    guidanceScale: 5, // the shipped model's recommended scale; SD 1.5 likes 7.5
    seed: 42, // the same seed gives the same image, here and in diffusers
  });
  const image = images[0]!;
  const file = join(outDir, 'basic.png');
  // The PNG carries the call's settings as A1111-style "parameters" text (Steps: 20, Sampler: DDIM,
  // CFG scale: 5.0, Seed: 42, …), which image tools such as A1111's PNG Info can show.
  await writePng(file, image, { parameters, model: 'shapes' });
  console.log(`basic: "${prompt}" → ${file} (${image.width}×${image.height})`);
} finally {
  await pipe.dispose(); // releases the onnxruntime sessions
}
