/**
 * `enableVaeTiling()` at the generate level with real models on onnxruntime-node: the shipped shapes model
 * (StableDiffusionPipeline) and the tiny x4 upscaler fixture (StableDiffusionUpscalePipeline). An image no
 * larger than one tile comes out bit-identical; with tiles smaller than the image the output keeps its
 * shape, stays finite and differs from the untiled one only near the seams (a real decoder sees past a
 * tile's edge), by the figure printed.
 */
import { join } from 'node:path';
import { nodeBackend } from '@latentkit/backend-node';
import { StableDiffusionPipeline, StableDiffusionUpscalePipeline, type Tensor } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const UPSCALER = join(import.meta.dirname, 'fixtures', 'models', 'sd-x4-upscaler');

function maxAbsDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i]! - b.data[i]!));
  return m;
}

let sd: StableDiffusionPipeline;
let up: StableDiffusionUpscalePipeline;
beforeAll(async () => {
  sd = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
  up = await StableDiffusionUpscalePipeline.fromPretrained(UPSCALER, { backend: nodeBackend });
});
afterAll(async () => {
  await sd?.dispose();
  await up?.dispose();
});

describe('VAE tiling on the pipelines, real models', () => {
  it('shipped model: tiling on changes nothing for an image smaller than a tile', async () => {
    const call = {
      prompt: 'a red circle on a blue background',
      seed: 11,
      numInferenceSteps: 8,
      outputType: 'tensor',
    } as const;
    sd.disableVaeTiling();
    const plain = (await sd.generate(call)).images;
    sd.enableVaeTiling();
    const tiled = (await sd.generate(call)).images;
    sd.disableVaeTiling();
    expect(Array.from(tiled.data)).toEqual(Array.from(plain.data));
  });

  it('x4 upscaler fixture: bit-identical under one tile; small tiles keep the shape and stay finite', async () => {
    const image = {
      width: 16,
      height: 16,
      data: Uint8ClampedArray.from({ length: 16 * 16 * 4 }, (_, i) => (i % 4 === 3 ? 255 : (i * 37) % 256)),
    };
    const call = {
      prompt: 'a red house',
      image,
      numInferenceSteps: 4,
      seed: 3,
      outputType: 'tensor',
    } as const;
    up.disableVaeTiling();
    const plain = (await up.generate(call)).images;
    expect(plain.shape).toEqual([1, 3, 64, 64]);
    up.enableVaeTiling();
    expect(Array.from((await up.generate(call)).images.data)).toEqual(Array.from(plain.data));
    up.enableVaeTiling({ tileSampleSize: 32 });
    const small = (await up.generate(call)).images;
    up.disableVaeTiling();
    expect(small.data.every(Number.isFinite)).toBe(true);
    const diff = maxAbsDiff(small, plain);
    console.log(
      `x4 fixture, 32-px tiles (8 latent px, overlap 2) vs untiled: max |Δ| = ${diff.toExponential(2)}`,
    );
    // Tiles were used (a random-weight decoder sees far past an 8-pixel tile, hence the large figure).
    expect(diff).toBeGreaterThan(0);
    expect(Math.min(...small.data)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...small.data)).toBeLessThanOrEqual(1);
  });
});
