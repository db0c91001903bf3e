/**
 * Renders the README gallery: the shipped model, several prompts × schedulers, one seed, as one PNG grid
 * (each 32×32 image scaled ×4, nearest neighbour, with a 4-pixel gap). Also prints the time of one image
 * at the model's recommended settings (median of 5). Run: `npx tsx scripts/make-gallery.ts`.
 */
import { nodeBackend } from '@latentkit/backend-node';
import { type RgbaImage, StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelDefaults, shapesModelPath } from '@latentkit/model-shapes';
import { createScheduler } from '@latentkit/schedulers';
import { writeImageGrid } from './support/image-grid.js';

const prompts = [
  'a red circle on a blue background',
  'a large yellow square on a black background',
  'a small white triangle at the top left on a green background',
  'a small orange circle at the bottom right on a purple background',
  'green triangle, white background',
  'a large purple square on an orange background',
];
const schedulers = ['DDIM', 'Euler a', 'DPM++ 2M Karras', 'UniPC'];
const seed = 3;
const scale = 4;
const gap = 4;
const out = process.argv[2] ?? 'docs/images/gallery.png';

const pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
const baseConfig = pipe.scheduler.config;
const cells: RgbaImage[][] = [];
for (const prompt of prompts) {
  const row: RgbaImage[] = [];
  for (const name of schedulers) {
    pipe.scheduler = createScheduler(name, baseConfig);
    const { images } = await pipe.generate({ prompt, seed, ...shapesModelDefaults });
    row.push(images[0]!);
  }
  cells.push(row);
}

await writeImageGrid(out, cells, cells[0]![0]!.width * scale, gap);
console.log(`wrote ${out}: rows = prompts, columns = ${schedulers.join(' | ')}; seed ${seed}`);

pipe.scheduler = createScheduler('DDIM', baseConfig);
const times: number[] = [];
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  await pipe.generate({ prompt: prompts[0]!, seed, ...shapesModelDefaults });
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
console.log(
  `one 32×32 image, DDIM ${shapesModelDefaults.numInferenceSteps} steps, guidance ` +
    `${shapesModelDefaults.guidanceScale}: median ${times[2]!.toFixed(0)} ms of 5 runs`,
);
await pipe.dispose();
