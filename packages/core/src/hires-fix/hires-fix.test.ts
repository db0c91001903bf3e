import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatGenerationParameters } from '../parameters/infotext.js';
import { StableDiffusionPipeline } from '../pipeline/stable-diffusion-pipeline.js';
import { FakeCodec, FakeDenoiser, FakePromptEncoder, FakeScheduler } from '../pipeline/test-fakes.js';
import { Tensor } from '../tensor.js';
import { hiresFix, hiresGenerationParameters } from './hires-fix.js';
import { hiresInferenceSteps, hiresSide } from './hires-schedule.js';
import { resizeLanczos } from './lanczos-resize.js';
import { upscaleLatentsBilinear } from './latent-upscale.js';

// Reference numbers from torch 1.13 and Pillow 9.4: tools/hires-fix/make-reference.py.
interface Reference {
  bilinear: { shape: number[]; size: [number, number]; input: number[]; output: number[] }[];
  lanczos: { size: [number, number]; target: [number, number]; input: number[]; output: number[] }[];
}
const reference = JSON.parse(readFileSync(new URL('./reference.json', import.meta.url), 'utf8')) as Reference;

describe('upscaleLatentsBilinear (A1111 "Latent")', () => {
  it.each(reference.bilinear)('matches torch interpolate(bilinear) $shape → $size', (c) => {
    const out = upscaleLatentsBilinear(new Tensor(Float32Array.from(c.input), c.shape), ...c.size);
    expect(out.shape).toEqual([c.shape[0], c.shape[1], ...c.size]);
    let max = 0;
    c.output.forEach((v, i) => {
      max = Math.max(max, Math.abs(out.data[i]! - v));
    });
    expect(max).toBeLessThanOrEqual(1e-6);
  });
});

describe('resizeLanczos (A1111 "Lanczos" = Pillow LANCZOS)', () => {
  it.each(reference.lanczos)('matches Pillow byte for byte $size → $target', (c) => {
    const [w, h] = c.size;
    const data = new Uint8ClampedArray(w * h * 4);
    for (let p = 0; p < w * h; p++) {
      for (let ch = 0; ch < 3; ch++) data[p * 4 + ch] = c.input[p * 3 + ch]!;
      data[p * 4 + 3] = 255;
    }
    const out = resizeLanczos({ width: w, height: h, data }, ...c.target);
    expect([out.width, out.height]).toEqual(c.target);
    const rgb: number[] = [];
    for (let p = 0; p < out.width * out.height; p++) rgb.push(...out.data.subarray(p * 4, p * 4 + 3));
    expect(rgb).toEqual(c.output);
    expect(out.data.filter((_, i) => i % 4 === 3).every((a) => a === 255)).toBe(true);
  });
});

describe('hiresInferenceSteps', () => {
  it.each([
    [20, 0.7],
    [10, 0.7],
    [50, 0.7],
    [20, 0.5],
    [7, 0.3],
    [20, 1],
    [1, 0.05],
    [13, 0.35],
  ])('%i steps at strength %f: the smallest schedule that runs exactly that many', (steps, strength) => {
    const n = hiresInferenceSteps(steps, strength);
    expect(Math.min(Math.floor(n * strength), n)).toBe(steps);
    expect(Math.min(Math.floor((n - 1) * strength), n - 1)).toBeLessThan(steps);
    // Within one of A1111's int(steps / min(strength, 0.999)).
    expect(Math.abs(n - Math.trunc(steps / Math.min(strength, 0.999)))).toBeLessThanOrEqual(1);
  });
});

describe('hiresSide', () => {
  it.each([
    [32, 2, 8, 64],
    [32, 1.5, 8, 48],
    [512, 1.1, 64, 576],
    [512, 1.05, 64, 512],
    [8, 1, 16, 16],
  ])('%i × %f on a %i px grid → %i', (size, scale, step, expected) => {
    expect(hiresSide(size, scale, step)).toBe(expected);
  });
});

/** A pipeline of fakes: arithmetic that can be followed (each pass's steps, sizes, calls). */
function fakePipeline() {
  const denoiser = new FakeDenoiser({ sampleSize: 2 });
  const codec = new FakeCodec(true);
  const scheduler = new FakeScheduler(true);
  const pipe = new StableDiffusionPipeline({
    promptEncoder: new FakePromptEncoder(),
    denoiser,
    codec,
    scheduler,
  });
  return { pipe, denoiser, codec };
}

describe('hiresFix on fakes', () => {
  it('runs the base pass, then hiresSteps img2img steps at the hires size; onStep names the pass', async () => {
    const { pipe, denoiser } = fakePipeline();
    const steps: string[] = [];
    const result = await hiresFix(pipe, {
      prompt: 'a',
      numInferenceSteps: 4,
      guidanceScale: 1,
      seed: 3,
      hiresScale: 2,
      hiresSteps: 3,
      hiresStrength: 0.5,
      onStep: ({ pass, step, totalSteps }) => {
        steps.push(`${pass}${step + 1}/${totalSteps}`);
      },
    });
    expect(steps).toEqual(['base1/4', 'base2/4', 'base3/4', 'base4/4', 'hires1/3', 'hires2/3', 'hires3/3']);
    expect(denoiser.calls.map((c) => c.sample.shape[2])).toEqual([2, 2, 2, 2, 4, 4, 4]);
    expect(result.images[0]!.width).toBe(32);
    expect(result.parameters).toMatchObject({
      mode: 'txt2img',
      width: 16,
      height: 16,
      numInferenceSteps: 4,
      strength: 0.5,
      hires: {
        scale: 2,
        upscaler: 'latent',
        steps: 3,
        strength: 0.5,
        numInferenceSteps: 6,
        width: 32,
        height: 32,
      },
      hiresPass: { mode: 'img2img', width: 32, height: 32, numInferenceSteps: 6, strength: 0.5 },
    });
    expect(result.parameters.images[0]!.seed).toBe(3);
  });

  it('writes A1111 infotext: Size of the first pass, Denoising strength and the Hires keys', async () => {
    const { pipe } = fakePipeline();
    const { parameters } = await hiresFix(pipe, {
      prompt: 'a',
      numInferenceSteps: 2,
      guidanceScale: 1,
      seed: 9,
      hiresScale: 1.5,
      hiresUpscaler: 'pixel',
    });
    expect(formatGenerationParameters(hiresGenerationParameters(parameters, { sampler: 'Fake' }))).toBe(
      'a\nSteps: 2, Sampler: Fake, CFG scale: 1.0, Seed: 9, Size: 16x16, Denoising strength: 0.7, ' +
        'Hires upscale: 1.5, Hires steps: 2, Hires upscaler: Lanczos',
    );
    expect(parameters.hires).toMatchObject({ width: 24, height: 24, numInferenceSteps: 3 });
  });
});
