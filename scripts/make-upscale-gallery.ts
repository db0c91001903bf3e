/**
 * Renders the README's upscaler row: for a few prompts, the shipped model's 32×32 image (nearest ×4), the
 * same image resized ×4 with Lanczos, and the shipped x4 upscaler's 128×128 output, side by side with a
 * 4-pixel gap. Run: `npx tsx scripts/make-upscale-gallery.ts [out.png]`.
 */
import { nodeBackend, writePng } from '@latentkit/backend-node';
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
const cells: RgbaImage[] = [];
for (const prompt of prompts) {
  const { images } = await pipe.generate({ prompt, seed, ...shapesModelDefaults });
  const small = images[0]!;
  const { images: big } = await upscaler.generate({ prompt, image: small, seed, ...shapesUpscalerDefaults });
  cells.push(small, resizeLanczos(small, 128, 128), big[0]!);
}
await pipe.dispose();
await upscaler.dispose();

// One row per prompt: nearest ×4 | Lanczos ×4 | x4 upscaler.
const side = 128;
const columns = 3;
const width = columns * (side + gap) + gap;
const height = prompts.length * (side + gap) + gap;
const data = new Uint8ClampedArray(width * height * 4).fill(255);
cells.forEach((img, k) => {
  const r = Math.floor(k / columns);
  const c = k % columns;
  const scale = side / img.width;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const src = (Math.floor(y / scale) * img.width + Math.floor(x / scale)) * 4;
      const dst = ((gap + r * (side + gap) + y) * width + gap + c * (side + gap) + x) * 4;
      data.set(img.data.subarray(src, src + 4), dst);
    }
  }
});
await writePng(out, { width, height, data });
console.log(
  `wrote ${out}: rows = prompts; columns = 32×32 (nearest ×4) | Lanczos ×4 | x4 upscaler; seed ${seed}`,
);
