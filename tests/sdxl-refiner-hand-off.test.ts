/**
 * Issue 18: `generateWithRefiner` (base + refiner in one call) on the tiny SDXL fixtures
 * (tests/fixtures/models/sdxl-tiny + sdxl-refiner-tiny, random weights, the SDXL layout) with the real
 * onnxruntime-node: the same pixels, byte for byte, as the two generate() calls made by hand (the base with
 * denoisingEnd and outputType 'latent', the refiner with those latents and denoisingStart), for a seed, a
 * continued generator, a base model as the second expert, and the parameters A1111 writes.
 * Bad input: packages/core/src/refiner-hand-off/refiner-hand-off.bad-input.test.ts.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generationParametersFrom, nodeBackend } from '@latentkit/backend-node';
import {
  formatGenerationParameters,
  generateWithRefiner,
  type RefinerStepInfo,
  type RgbaImage,
  refinerGenerationParameters,
  StableDiffusionXLPipeline,
  type Tensor,
  TorchGenerator,
} from '@latentkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const models = fileURLToPath(new URL('./fixtures/models', import.meta.url));
const TIMEOUT = 120_000;
const COMMON = {
  prompt: 'a photo of a cat',
  negativePrompt: 'a dog',
  numInferenceSteps: 5,
  guidanceScale: 5,
} as const;

/** The largest difference between two lists of images' bytes (same sizes). */
function maxDiff(a: RgbaImage[], b: RgbaImage[]): number {
  expect(a.map((i) => [i.width, i.height])).toEqual(b.map((i) => [i.width, i.height]));
  let max = 0;
  a.forEach((image, n) => {
    for (let i = 0; i < image.data.length; i++)
      max = Math.max(max, Math.abs(image.data[i]! - b[n]!.data[i]!));
  });
  return max;
}

describe('generateWithRefiner on sdxl-tiny + sdxl-refiner-tiny (onnxruntime-node)', () => {
  let base: StableDiffusionXLPipeline;
  let refiner: StableDiffusionXLPipeline;
  beforeAll(async () => {
    base = await StableDiffusionXLPipeline.fromPretrained(join(models, 'sdxl-tiny'), {
      backend: nodeBackend,
    });
    refiner = await StableDiffusionXLPipeline.fromPretrained(join(models, 'sdxl-refiner-tiny'), {
      backend: nodeBackend,
    });
  }, TIMEOUT);
  afterAll(async () => {
    await base?.dispose();
    await refiner?.dispose();
  });

  it(
    'a seed: the two calls by hand (each a fresh generator from the seed), bit for bit; steps of both; default highNoiseFrac 0.8',
    async () => {
      const steps: Pick<RefinerStepInfo, 'pass' | 'step' | 'totalSteps'>[] = [];
      const { images, parameters } = await generateWithRefiner(base, refiner, {
        ...COMMON,
        seed: 7,
        aestheticScore: 7,
        onStep: ({ pass, step, totalSteps }) => {
          steps.push({ pass, step, totalSteps });
        },
      });
      const handOff = await base.generate({
        ...COMMON,
        generator: new TorchGenerator(7),
        denoisingEnd: 0.8,
        outputType: 'latent',
      });
      const byHand = await refiner.generate({
        ...COMMON,
        generator: new TorchGenerator(7),
        image: handOff.images,
        denoisingStart: 0.8,
        aestheticScore: 7,
      });
      expect(maxDiff(images, byHand.images)).toBe(0);
      // The refiner changed the base's latents: its output is not the base's decoded hand-off alone.
      const baseOnly = await base.generate({ ...COMMON, seed: 7, denoisingEnd: 0.8 });
      expect(maxDiff(images, baseOnly.images)).toBeGreaterThan(0);
      expect(steps.map((s) => s.pass)).toEqual(['base', 'base', 'base', 'base', 'refiner']);
      expect(steps.at(-1)).toEqual({ pass: 'refiner', step: 0, totalSteps: 1 });
      expect(parameters.highNoiseFrac).toBe(0.8);
      expect(parameters.sdxl?.denoisingEnd).toBe(0.8);
      expect(parameters.refinerPass.sdxl).toMatchObject({ denoisingStart: 0.8, aestheticScore: 7 });
      expect(parameters.images[0]?.seed).toBe(7);
      expect(parameters.refinerPass.images[0]?.seed).toBe(7);
    },
    TIMEOUT,
  );

  it(
    'the parameters give the infotext the CLI writes (Refiner, Refiner switch at, the aesthetic scores)',
    async () => {
      const { parameters } = await generateWithRefiner(base, refiner, {
        ...COMMON,
        seed: 3,
        highNoiseFrac: 0.6,
        outputType: 'latent',
      });
      const infotext = formatGenerationParameters(
        refinerGenerationParameters(
          generationParametersFrom(parameters),
          generationParametersFrom(parameters.refinerPass),
          { name: 'sdxl-refiner-tiny', switchAt: parameters.highNoiseFrac },
        ),
      );
      expect(infotext).toContain('Refiner: sdxl-refiner-tiny, Refiner switch at: 0.6');
      expect(infotext).toContain('Aesthetic score: 6');
      expect(infotext).toContain('Negative aesthetic score: 2.5');
      expect(infotext).toContain('Seed: 3');
      expect(infotext).not.toContain('Denoising end');
    },
    TIMEOUT,
  );

  it(
    "a generator: the base draws from it and the refiner continues it (two images, one generator each); outputType 'latent'",
    async () => {
      const { images } = await generateWithRefiner(base, refiner, {
        ...COMMON,
        numImagesPerPrompt: 2,
        generator: [new TorchGenerator(11), new TorchGenerator(12)],
        highNoiseFrac: 0.5,
        outputType: 'latent',
      });
      const gens = [new TorchGenerator(11), new TorchGenerator(12)];
      const handOff = await base.generate({
        ...COMMON,
        numImagesPerPrompt: 2,
        generator: gens,
        denoisingEnd: 0.5,
        outputType: 'latent',
      });
      const byHand = await refiner.generate({
        ...COMMON,
        numImagesPerPrompt: 2,
        generator: gens,
        image: handOff.images,
        denoisingStart: 0.5,
        outputType: 'latent',
      });
      const latents: Tensor = images;
      expect(latents.shape).toEqual(byHand.images.shape);
      expect(latents.shape[0]).toBe(2);
      expect(Array.from(latents.data)).toEqual(Array.from(byHand.images.data));
    },
    TIMEOUT,
  );

  it(
    'a base model as the second expert (diffusers allows it): it gets the target size, as by hand',
    async () => {
      const options = { ...COMMON, seed: 5, highNoiseFrac: 0.6, targetSize: [48, 48] as [number, number] };
      const { images, parameters } = await generateWithRefiner(base, base, options);
      const handOff = await base.generate({
        ...COMMON,
        seed: 5,
        targetSize: [48, 48],
        denoisingEnd: 0.6,
        outputType: 'latent',
      });
      const byHand = await base.generate({
        ...COMMON,
        seed: 5,
        targetSize: [48, 48],
        image: handOff.images,
        denoisingStart: 0.6,
      });
      expect(maxDiff(images, byHand.images)).toBe(0);
      expect(parameters.refinerPass.sdxl?.targetSize).toEqual([48, 48]);
    },
    TIMEOUT,
  );
});
