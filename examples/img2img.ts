/**
 * img2img: start from an image instead of pure noise. `strength` says how much of the schedule to run:
 * 0.3 keeps most of the image, 0.9 keeps little more than its colours and layout.
 *
 *   npx tsx examples/img2img.ts [OUT_DIR]
 *
 * Writes OUT_DIR/img2img-source.png and img2img-30.png, img2img-60.png, img2img-90.png (strength 0.3,
 * 0.6, 0.9) (default examples/out/, or $LATENTKIT_EXAMPLES_OUT). Guide: docs/img2img-and-inpainting.md.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBackend, readPng, writePng } from '@latentkit/backend-node';
import { StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';

const outDir =
  process.argv[2] ?? process.env.LATENTKIT_EXAMPLES_OUT ?? fileURLToPath(new URL('./out/', import.meta.url));
const modelDir = process.env.LATENTKIT_MODEL ?? shapesModelPath;

const pipe = await StableDiffusionPipeline.fromPretrained(modelDir, { backend: nodeBackend });
try {
  await mkdir(outDir, { recursive: true });
  // A source image: generated here, but any PNG of the model's size will do.
  const sourceFile = join(outDir, 'img2img-source.png');
  const { images } = await pipe.generate({
    prompt: 'a red circle on a blue background',
    numInferenceSteps: 20,
    guidanceScale: 5,
    seed: 42,
  });
  await writePng(sourceFile, images[0]!);
  console.log(`img2img: source → ${sourceFile}`);

  // readPng gives an RgbaImage, which `image` takes as it is (alpha is ignored). The output has the
  // image's size, which must be a multiple of 8.
  const source = await readPng(sourceFile);
  for (const strength of [0.3, 0.6, 0.9]) {
    const { images: out } = await pipe.generate({
      prompt: 'a red square on a blue background',
      image: source,
      strength, // runs the last floor(20 × strength) of the 20 steps
      numInferenceSteps: 20,
      guidanceScale: 5,
      seed: 1,
    });
    const file = join(outDir, `img2img-${Math.round(strength * 100)}.png`);
    await writePng(file, out[0]!);
    console.log(`img2img: "a red square on a blue background", strength ${strength} → ${file}`);
  }
} finally {
  await pipe.dispose();
}
