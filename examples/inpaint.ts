/**
 * Inpainting: repaint the white part of a mask and keep the rest. The shipped model's UNet is a plain
 * 4-channel one, so the pipeline blends the known part of the image back in after every step (as
 * diffusers' StableDiffusionInpaintPipeline does for such UNets); 9-channel inpainting UNets work the same way
 * from the caller's side.
 *
 *   npx tsx examples/inpaint.ts [OUT_DIR]
 *
 * Writes OUT_DIR/inpaint-source.png, inpaint-mask.png and inpaint.png (default examples/out/, or
 * $LATENTKIT_EXAMPLES_OUT). Guide: docs/img2img-and-inpainting.md.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBackend, writePng } from '@latentkit/backend-node';
import { type RgbaImage, StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';

/** A mask the size of the image: white (repaint) inside the rectangle, black (keep) outside. */
function rectangleMask(
  width: number,
  height: number,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
): RgbaImage {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = x >= x0 && x < x1 && y >= y0 && y < y1;
      data.fill(inside ? 255 : 0, (y * width + x) * 4, (y * width + x) * 4 + 3);
      data[(y * width + x) * 4 + 3] = 255;
    }
  }
  return { width, height, data };
}

const outDir =
  process.argv[2] ?? process.env.LATENTKIT_EXAMPLES_OUT ?? fileURLToPath(new URL('./out/', import.meta.url));
const modelDir = process.env.LATENTKIT_MODEL ?? shapesModelPath;

const pipe = await StableDiffusionPipeline.fromPretrained(modelDir, { backend: nodeBackend });
try {
  await mkdir(outDir, { recursive: true });
  const { images } = await pipe.generate({
    prompt: 'a small blue circle at the bottom right on a white background',
    numInferenceSteps: 20,
    guidanceScale: 5,
    seed: 1,
  });
  const source = images[0]!;
  // Repaint the bottom-right quarter, where the circle is; the rest of the image is kept.
  const { width, height } = source;
  const mask = rectangleMask(width, height, width / 2, height / 2, width, height);
  await writePng(join(outDir, 'inpaint-source.png'), source);
  await writePng(join(outDir, 'inpaint-mask.png'), mask);

  const prompt = 'a small red circle at the bottom right on a white background';
  const { images: out } = await pipe.generate({
    prompt,
    image: source,
    maskImage: mask, // white = repaint, black = keep; binarised at 0.5
    numInferenceSteps: 20,
    guidanceScale: 5,
    seed: 5,
  });
  const file = join(outDir, 'inpaint.png');
  await writePng(file, out[0]!);
  console.log(`inpaint: bottom-right quarter repainted with "${prompt}" → ${file}`);
} finally {
  await pipe.dispose();
}
