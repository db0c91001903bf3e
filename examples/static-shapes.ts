/**
 * Static shapes: the UNet and VAE decoder are created for one size and batch (`staticShapes`), as GPU
 * providers prefer; a generate() at that size runs as usual, one at another size is refused with a
 * ShapeMismatchError that names both shapes.
 *
 *   npx tsx examples/static-shapes.ts [OUT_DIR]
 *
 * Writes OUT_DIR/static-shapes.png (default examples/out/, or $LATENTKIT_EXAMPLES_OUT). Set LATENTKIT_MODEL
 * (and LATENTKIT_SIZE) to run it on another model, e.g. an SD 1.5 folder at 512.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBackend, writePng } from '@latentkit/backend-node';
import { ShapeMismatchError, StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';

const outDir =
  process.argv[2] ?? process.env.LATENTKIT_EXAMPLES_OUT ?? fileURLToPath(new URL('./out/', import.meta.url));
const modelDir = process.env.LATENTKIT_MODEL ?? shapesModelPath;
const size = Number(process.env.LATENTKIT_SIZE ?? 32);

// Every generate() of this pipeline runs at one size, one prompt, one image, with guidance.
const pipe = await StableDiffusionPipeline.fromPretrained(modelDir, {
  backend: nodeBackend,
  staticShapes: { width: size, height: size },
});

try {
  await mkdir(outDir, { recursive: true });
  const { images } = await pipe.generate({
    prompt: 'a red circle on a blue background',
    width: size,
    height: size,
    guidanceScale: 5,
    seed: 42,
  });
  await writePng(join(outDir, 'static-shapes.png'), images[0]!);
  try {
    await pipe.generate({ prompt: 'a red circle', width: size * 2, height: size * 2, seed: 42 });
  } catch (error) {
    if (!(error instanceof ShapeMismatchError)) throw error;
    console.log(`static-shapes: another size is refused: ${error.message}`);
  }
  console.log(`static-shapes: wrote ${join(outDir, 'static-shapes.png')} (${size}×${size})`);
} finally {
  await pipe.dispose();
}
