/**
 * Hires fix (A1111's "Hires. fix"): generate at the model's size, upscale, then img2img at the larger
 * size with the same prompt and seed. Both upscalers: 'latent' (the latents resized bilinearly, A1111's
 * "Latent") and 'pixel' (the image resized with Lanczos).
 *
 *   npx tsx examples/hires-fix.ts [OUT_DIR]
 *
 * Writes OUT_DIR/hires-fix-latent.png and hires-fix-pixel.png, 64×64 from the shipped model's 32×32
 * (default examples/out/, or $LATENTKIT_EXAMPLES_OUT), each with A1111's parameters (Hires upscale,
 * Hires steps, Hires upscaler, Denoising strength). Guide: docs/upscaling.md.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBackend, writePng } from '@latentkit/backend-node';
import { hiresFix, hiresGenerationParameters, StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import { a1111SamplerName } from '@latentkit/schedulers';

const outDir =
  process.argv[2] ?? process.env.LATENTKIT_EXAMPLES_OUT ?? fileURLToPath(new URL('./out/', import.meta.url));
const modelDir = process.env.LATENTKIT_MODEL ?? shapesModelPath;

const pipe = await StableDiffusionPipeline.fromPretrained(modelDir, { backend: nodeBackend });
try {
  await mkdir(outDir, { recursive: true });
  for (const hiresUpscaler of ['latent', 'pixel'] as const) {
    const { images, parameters } = await hiresFix(pipe, {
      prompt: 'a red circle on a blue background',
      numInferenceSteps: 20,
      guidanceScale: 5,
      seed: 42,
      hiresScale: 2, // 32×32 → 64×64
      hiresStrength: 0.5, // the img2img pass's denoising strength
      hiresSteps: 10, // steps the hires pass runs
      hiresUpscaler,
    });
    const file = join(outDir, `hires-fix-${hiresUpscaler}.png`);
    // Size: is the first pass's size, as A1111 writes it; the hires keys follow Denoising strength.
    await writePng(file, images[0]!, {
      parameters: hiresGenerationParameters(parameters, { sampler: a1111SamplerName }),
    });
    console.log(`hires-fix: ${hiresUpscaler} → ${file} (${images[0]!.width}×${images[0]!.height})`);
  }
} finally {
  await pipe.dispose();
}
