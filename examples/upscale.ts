/**
 * Super-resolution with the x4 upscaler: make a 32×32 image with the shipped model, then turn it into a
 * 128×128 one with `StableDiffusionUpscalePipeline` (diffusers' `stable-diffusion-x4-upscaler` pipeline).
 * The low-res image is noised to `noiseLevel` and given to the upscaler's UNet beside the latents; the
 * prompt says what the picture shows.
 *
 *   npx tsx examples/upscale.ts [OUT_DIR]
 *
 * Writes OUT_DIR/upscale-source.png (32×32) and upscale.png (128×128), and upscale-tiled.png: the same
 * call with VAE tiling on (default examples/out/, or $LATENTKIT_EXAMPLES_OUT). The upscaler is the shapes
 * world's trained x4 upscaler (`@latentkit/model-shapes`); set LATENTKIT_UPSCALER to use another upscaler
 * folder (e.g. an ONNX export of stabilityai/stable-diffusion-x4-upscaler).
 * Guide: docs/upscaling.md.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBackend, writePng } from '@latentkit/backend-node';
import { StableDiffusionPipeline, StableDiffusionUpscalePipeline } from '@latentkit/core';
import { shapesModelPath, shapesUpscalerDefaults, shapesUpscalerPath } from '@latentkit/model-shapes';

const outDir =
  process.argv[2] ?? process.env.LATENTKIT_EXAMPLES_OUT ?? fileURLToPath(new URL('./out/', import.meta.url));
const modelDir = process.env.LATENTKIT_MODEL ?? shapesModelPath;
// The shapes world's x4 upscaler, trained for the shipped model's 32×32 images (its card: MODEL_CARD.md).
const upscalerDir = process.env.LATENTKIT_UPSCALER ?? shapesUpscalerPath;

const prompt = 'a red circle on a blue background';
const pipe = await StableDiffusionPipeline.fromPretrained(modelDir, { backend: nodeBackend });
const upscaler = await StableDiffusionUpscalePipeline.fromPretrained(upscalerDir, { backend: nodeBackend });
try {
  await mkdir(outDir, { recursive: true });
  const { images } = await pipe.generate({ prompt, numInferenceSteps: 20, guidanceScale: 5, seed: 42 });
  const small = images[0]!;
  const sourceFile = join(outDir, 'upscale-source.png');
  await writePng(sourceFile, small);
  console.log(`upscale: "${prompt}" ${small.width}×${small.height} → ${sourceFile}`);

  // `image` takes an RgbaImage (or a Tensor [1, 3, h, w] in [0, 1]); the output is 4× its size. The
  // model card's settings: 1 step (its scheduler config's trailing spacing starts it at t = 999), no
  // guidance (1), noise level 20.
  const settings = { prompt, image: small, ...shapesUpscalerDefaults, seed: 1 };
  const { images: big, parameters } = await upscaler.generate(settings);
  const file = join(outDir, 'upscale.png');
  await writePng(file, big[0]!, { parameters });
  console.log(
    `upscale: ${small.width}×${small.height} → ${parameters.width}×${parameters.height}, ` +
      `noise level ${parameters.noiseLevel}, ${parameters.numInferenceSteps} step${parameters.numInferenceSteps === 1 ? '' : 's'} ` +
      `(${parameters.scheduler}) → ${file}`,
  );

  // VAE tiling: the decoder runs on overlapping tiles, so large outputs fit in memory. Here the tiles
  // (64 px) are smaller than the output, to show it; the seams are blended.
  upscaler.enableVaeTiling({ tileSampleSize: 64 });
  const { images: tiled } = await upscaler.generate(settings);
  upscaler.disableVaeTiling();
  const tiledFile = join(outDir, 'upscale-tiled.png');
  await writePng(tiledFile, tiled[0]!);
  console.log(`upscale: the same call with VAE tiling (64-px tiles) → ${tiledFile}`);
} finally {
  await upscaler.dispose();
  await pipe.dispose();
}
