/**
 * Renders the README's upscaler row: for a few prompts, the shipped model's 32×32 image (nearest ×4), the
 * same image resized ×4 with Lanczos, and the shipped x4 upscaler's 128×128 output, side by side with a
 * 4-pixel gap. Run: `npx tsx scripts/make-upscale-gallery.ts [out.png]`.
 */
import { nodeBackend } from '@latentkit/backend-node';
import {
  type RgbaImage,
  resizeLanczos,
  StableDiffusionPipeline,
  StableDiffusionUpscalePipeline,
} from '@latentkit/core';
import {
  shapesModelDefaults,
  shapesModelPath,
  shapesUpscalerDefaults,
  shapesUpscalerPath,
} from '@latentkit/model-shapes';
import { writeImageGrid } from './support/image-grid.js';

const prompts = [
  'a red circle on a blue background',
  'a large yellow square on a black background',
  'a small white triangle at the top left on a green background',
  'a large purple square on an orange background',
];
const seed = 3;
const gap = 4;
const out = process.argv[2] ?? 'docs/images/upscale-gallery.png';

const pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
const upscaler = await StableDiffusionUpscalePipeline.fromPretrained(shapesUpscalerPath, {
  backend: nodeBackend,
});
const rows: RgbaImage[][] = [];
for (const prompt of prompts) {
  const { images } = await pipe.generate({ prompt, seed, ...shapesModelDefaults });
  const small = images[0]!;
  const { images: big } = await upscaler.generate({ prompt, image: small, seed, ...shapesUpscalerDefaults });
  rows.push([small, resizeLanczos(small, 128, 128), big[0]!]);
}
await pipe.dispose();
await upscaler.dispose();

// One row per prompt: nearest ×4 | Lanczos ×4 | x4 upscaler.
await writeImageGrid(out, rows, 128, gap);
console.log(
  `wrote ${out}: rows = prompts; columns = 32×32 (nearest ×4) | Lanczos ×4 | x4 upscaler; seed ${seed}`,
);
