/**
 * Bad input around the shipped shapes x4 upscaler (packages/model-shapes/upscaler), with the real
 * folder and onnxruntime-node: every case is refused with a typed LatentkitError that names the value,
 * before onnxruntime runs (call inputs) or before any session opens (a damaged copy of the folder).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeBackend } from '@latentkit/backend-node';
import {
  InvalidArgumentError,
  LatentkitError,
  ModelInvalidError,
  ModelMismatchError,
  ModelNotFoundError,
  type RgbaImage,
  ShapeMismatchError,
  StableDiffusionPipeline,
  StableDiffusionUpscalePipeline,
  Tensor,
} from '@latentkit/core';
import { shapesModelPath, shapesUpscalerDefaults, shapesUpscalerPath } from '@latentkit/model-shapes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** A flat 32×32 low-res image (the shipped model's output size) in [0, 1]. */
function low(side = 32, value = 0.5, channels = 3): Tensor {
  return new Tensor(new Float32Array(channels * side * side).fill(value), [1, channels, side, side]);
}

const base = {
  prompt: 'a red circle on a blue background',
  ...shapesUpscalerDefaults,
  numInferenceSteps: 2,
  seed: 1,
};

describe('shipped upscaler: bad call inputs are refused before the UNet runs', () => {
  let pipe: StableDiffusionUpscalePipeline;
  beforeAll(async () => {
    pipe = await StableDiffusionUpscalePipeline.fromPretrained(shapesUpscalerPath, { backend: nodeBackend });
  });
  afterAll(async () => {
    await pipe.dispose();
  });

  const withNaN = low();
  withNaN.data[5] = Number.NaN;
  const cases: [string, Record<string, unknown>, RegExp, typeof LatentkitError][] = [
    ['noiseLevel above max_noise_level 350', { noiseLevel: 351 }, /noiseLevel/, InvalidArgumentError],
    ['negative noiseLevel', { noiseLevel: -1 }, /noiseLevel/, InvalidArgumentError],
    ['fractional noiseLevel', { noiseLevel: 20.5 }, /noiseLevel/, InvalidArgumentError],
    ['NaN noiseLevel', { noiseLevel: Number.NaN }, /noiseLevel/, InvalidArgumentError],
    [
      'an image side that is not a multiple of 4 (the UNet halves the latents twice)',
      { image: low(30) },
      /image|multiple/,
      LatentkitError,
    ],
    ['an image with a NaN pixel', { image: withNaN }, /image/, LatentkitError],
    ['an RGBA tensor (4 channels)', { image: low(32, 0.5, 4) }, /image|channel/, LatentkitError],
    ['a missing image', { image: undefined }, /image/, InvalidArgumentError],
    [
      'two images for one prompt',
      { image: new Tensor(new Float32Array(2 * 3 * 32 * 32), [2, 3, 32, 32]) },
      /image/,
      ShapeMismatchError,
    ],
    ['0 inference steps', { numInferenceSteps: 0 }, /numInferenceSteps/, InvalidArgumentError],
    ['NaN guidance', { guidanceScale: Number.NaN }, /guidanceScale/, InvalidArgumentError],
    ['a snake_case option (noise_level)', { noise_level: 20 }, /noise_level/, InvalidArgumentError],
    ['a text-to-image option (width)', { width: 128 }, /width/, InvalidArgumentError],
  ];
  for (const [what, extra, message, type] of cases) {
    it(`refuses ${what}`, async () => {
      const image = 'image' in extra ? extra['image'] : low();
      const call = pipe.generate({ ...base, ...extra, image } as Parameters<typeof pipe.generate>[0]);
      await expect(call).rejects.toBeInstanceOf(type);
      await expect(call).rejects.toThrow(message);
    });
  }

  it('refuses an RgbaImage whose data is shorter than width × height × 4', async () => {
    const image: RgbaImage = { width: 32, height: 32, data: new Uint8ClampedArray(32 * 32 * 3) };
    await expect(pipe.generate({ ...base, image })).rejects.toBeInstanceOf(LatentkitError);
  });
});

describe('shipped upscaler: the wrong or a damaged folder is refused before any session opens', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  /** A copy of the shipped upscaler with one change. */
  function damaged(change: (dir: string) => void): string {
    const dir = mkdtempSync(join(tmpdir(), 'shapes-upscaler-'));
    dirs.push(dir);
    cpSync(shapesUpscalerPath, dir, { recursive: true });
    change(dir);
    return dir;
  }
  function editJson(file: string, edit: (json: Record<string, unknown>) => void): void {
    const json = JSON.parse(readFileSync(file, 'utf8'));
    edit(json);
    writeFileSync(file, JSON.stringify(json));
  }

  it('the text-to-image shapes model is not an upscaler', async () => {
    await expect(
      StableDiffusionUpscalePipeline.fromPretrained(shapesModelPath, { backend: nodeBackend }),
    ).rejects.toBeInstanceOf(ModelMismatchError);
  });

  it('the upscaler is not a text-to-image model (a typed error, not a crash inside onnxruntime)', async () => {
    // Refused at load, not at the first generate(): the folder is an x4 upscaler.
    const err = await StableDiffusionPipeline.fromPretrained(shapesUpscalerPath, {
      backend: nodeBackend,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelMismatchError);
    expect((err as Error).message).toContain(
      'Fix: load it with StableDiffusionUpscalePipeline.fromPretrained',
    );
  });

  it('a copy without unet/model.onnx', async () => {
    const dir = damaged((d) => rmSync(join(d, 'unet', 'model.onnx')));
    await expect(
      StableDiffusionUpscalePipeline.fromPretrained(dir, { backend: nodeBackend }),
    ).rejects.toBeInstanceOf(ModelNotFoundError);
  });

  it('a copy whose max_noise_level is not a number', async () => {
    const dir = damaged((d) =>
      editJson(join(d, 'model_index.json'), (j) => {
        j['max_noise_level'] = 'high';
      }),
    );
    const load = StableDiffusionUpscalePipeline.fromPretrained(dir, { backend: nodeBackend });
    await expect(load).rejects.toBeInstanceOf(ModelInvalidError);
    await expect(load).rejects.toThrow(/max_noise_level/);
  });

  it('a copy whose low_res_scheduler config is not JSON', async () => {
    const dir = damaged((d) =>
      writeFileSync(join(d, 'low_res_scheduler', 'scheduler_config.json'), '{ not json'),
    );
    await expect(
      StableDiffusionUpscalePipeline.fromPretrained(dir, { backend: nodeBackend }),
    ).rejects.toBeInstanceOf(ModelInvalidError);
  });
});
