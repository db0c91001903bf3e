/**
 * Hires fix on the shipped shapes model (issue 15): does the hires pass keep what the prompt asks for?
 * For N seen prompts (`makeShapePrompts`), each image is judged by the project's judge
 * (`judgeShapeImage`: colour, shape, background) after a Lanczos resize back to 32×32: the plain
 * 32×32 generation; the two upscales alone (latents bilinearly ×2 then decoded; the image with Lanczos);
 * and `hiresFix` (×2, `--steps` first-pass steps, `--hires-steps` hires steps) with each upscaler at each
 * strength of `--strengths`. Prints one line per configuration with the counts.
 *
 *   npx tsx bench/hires-fix.bench.ts [--prompts 24] [--steps 30] [--hires-steps 15] [--strengths 0.2,0.5,0.7]
 *
 * Measured 2026-12-04 (24 prompts, 30 + 15 steps): plain 23/24 all three right; latent upscale alone
 * 12/24 (the VAE decodes bilinearly enlarged latents into bent shapes), Lanczos alone 23/24; hires fix
 * latent 9–12/24 and pixel 9–13/24 at strengths 0.2–0.7 (pixel at 0.05: 18/24). The model was trained on
 * 32×32 images only: at 16×16 latents its UNet redraws shapes wrongly. Quality is measured here, not in
 * tests.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { nodeBackend } from '@latentkit/backend-node';
import {
  denormalizeImage,
  type HiresUpscaler,
  hiresFix,
  type RgbaImage,
  resizeLanczos,
  StableDiffusionPipeline,
  tensorToRgba,
  upscaleLatentsBilinear,
} from '@latentkit/core';
import {
  judgeShapeImage,
  makeShapePrompts,
  parseShapesWorld,
  shapesModelPath,
} from '@latentkit/model-shapes';

const { values } = parseArgs({
  options: {
    prompts: { type: 'string', default: '24' },
    steps: { type: 'string', default: '30' },
    'hires-steps': { type: 'string', default: '15' },
    strengths: { type: 'string', default: '0.2,0.5,0.7' },
  },
});
const count = Number(values.prompts);
const steps = Number(values.steps);
const hiresSteps = Number(values['hires-steps']);
const strengths = values.strengths.split(',').map(Number);
const guidanceScale = 5;

const world = parseShapesWorld(JSON.parse(readFileSync(join(shapesModelPath, 'heldout.json'), 'utf8')));
const prompts = makeShapePrompts(world, { seenCount: count, heldoutRepeats: 0 }).slice(0, count);
const pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });

type Make = (prompt: string, seed: number) => Promise<RgbaImage>;
const base = (prompt: string, seed: number) =>
  pipe.generate({ prompt, seed, numInferenceSteps: steps, guidanceScale });
const configs: [string, Make][] = [
  ['plain 32×32', async (prompt, seed) => (await base(prompt, seed)).images[0]!],
  [
    'latent ×2 alone (decoded)',
    async (prompt, seed) => {
      const { images: latents } = await pipe.generate({
        prompt,
        seed,
        numInferenceSteps: steps,
        guidanceScale,
        outputType: 'latent',
      });
      const [h, w] = [latents.shape[2]! * 2, latents.shape[3]! * 2];
      const image = denormalizeImage(await pipe.codec.decode(upscaleLatentsBilinear(latents, h, w)));
      return resizeLanczos(tensorToRgba(image)[0]!, 32, 32);
    },
  ],
  [
    'Lanczos ×2 alone',
    async (prompt, seed) =>
      resizeLanczos(resizeLanczos((await base(prompt, seed)).images[0]!, 64, 64), 32, 32),
  ],
];
for (const upscaler of ['latent', 'pixel'] as HiresUpscaler[]) {
  for (const strength of strengths) {
    configs.push([
      `hires ${upscaler} ${strength}`,
      async (prompt, seed) => {
        const { images } = await hiresFix(pipe, {
          prompt,
          seed,
          numInferenceSteps: steps,
          guidanceScale,
          hiresScale: 2,
          hiresStrength: strength,
          hiresSteps,
          hiresUpscaler: upscaler,
        });
        return resizeLanczos(images[0]!, 32, 32);
      },
    ]);
  }
}

try {
  console.log(
    `${prompts.length} prompts, ${steps} steps, hires ×2 with ${hiresSteps} steps, judged at 32×32`,
  );
  for (const [name, make] of configs) {
    const right = { color: 0, shape: 0, background: 0, all: 0 };
    for (const [i, p] of prompts.entries()) {
      const j = judgeShapeImage(await make(p.prompt, 100 + i), world.colors);
      const color = j.color === p.expected.color;
      const shape = j.shape === p.expected.shape;
      const background = j.background === p.expected.background;
      right.color += Number(color);
      right.shape += Number(shape);
      right.background += Number(background);
      right.all += Number(color && shape && background);
    }
    const n = prompts.length;
    console.log(
      `${name.padEnd(26)} colour ${right.color}/${n}  shape ${right.shape}/${n}  background ${right.background}/${n}  all three ${right.all}/${n}`,
    );
  }
} finally {
  await pipe.dispose();
}
