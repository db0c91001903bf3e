/**
 * The shipped shapes-world x4 upscaler (packages/model-shapes/upscaler, trained by tools/shapes-upscaler)
 * run for real: onnxruntime-node through StableDiffusionUpscalePipeline on held-out scenes
 * (tests/fixtures/shapes-upscaler, written by tools/shapes-upscaler/make_fixture.py: the renderer's
 * 32×32 image as input, the same scene rendered at 128×128 as ground truth). Its outputs must beat
 * bicubic upscaling of the same input (PSNR) and still be judged right by the project's judge.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { nodeBackend, readPng } from '@latentkit/backend-node';
import { type RgbaImage, StableDiffusionUpscalePipeline } from '@latentkit/core';
import {
  judgeShapeImage,
  parseShapesWorld,
  shapesModelPath,
  shapesUpscalerDefaults,
  shapesUpscalerFiles,
  shapesUpscalerPath,
} from '@latentkit/model-shapes';
import { afterAll, describe, expect, it } from 'vitest';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'shapes-upscaler');
// Bounds for the 12 fixture scenes: the targets (PSNR ≥ 2 dB above bicubic; the judge right on
// ≥ 95 %, i.e. on all 12) and sharper edges than bicubic. The shipped model measured here (its recommended
// one trailing DDIM step, seeds 0–11): mean PSNR gain +4.78 dB, mean sharpness gain +0.43, 0 of 12 misjudged.
const MIN_SHARPNESS_GAIN = 0.3;
const MIN_PSNR_GAIN_DB = 2;
const MAX_MISJUDGED = 0;

interface Case {
  name: string;
  color: string;
  shape: string;
  background: string;
  size: string;
  position: string;
  prompt: string;
  bicubic_psnr: number;
  bicubic_sharpness: number;
}
const { cases } = JSON.parse(readFileSync(join(FIXTURE, 'cases.json'), 'utf8')) as { cases: Case[] };
const world = parseShapesWorld(JSON.parse(readFileSync(join(shapesModelPath, 'heldout.json'), 'utf8')));

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? walk(full) : [full];
  });
}

/** PSNR in dB of the RGB channels of two images of the same size. */
function psnr(a: RgbaImage, b: RgbaImage): number {
  expect([a.width, a.height]).toEqual([b.width, b.height]);
  let sum = 0;
  let n = 0;
  for (let i = 0; i < a.data.length; i += 4) {
    for (let c = 0; c < 3; c++) {
      const d = a.data[i + c]! - b.data[i + c]!;
      sum += d * d;
      n++;
    }
  }
  return 10 * Math.log10((255 * 255) / Math.max(sum / n, 1e-10));
}

/** Per-pixel gradient magnitude (central differences, RGB in quadrature), as tools/shapes-upscaler/common.py. */
function gradient(image: RgbaImage): Float64Array {
  const { width: w, height: h, data } = image;
  const out = new Float64Array(w * h);
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      let sum = 0;
      for (let c = 0; c < 3; c++) {
        const gx = (data[(y * w + x + 1) * 4 + c]! - data[(y * w + x - 1) * 4 + c]!) / 2;
        const gy = (data[((y + 1) * w + x) * 4 + c]! - data[((y - 1) * w + x) * 4 + c]!) / 2;
        sum += gx * gx + gy * gy;
      }
      out[y * w + x] = Math.sqrt(sum);
    }
  }
  return out;
}

/** Edge sharpness: mean gradient magnitude over the truth's edge pixels (gradient > 20), relative to the truth's. */
function sharpness(image: RgbaImage, truth: RgbaImage): number {
  const g = gradient(image);
  const t = gradient(truth);
  let a = 0;
  let b = 0;
  for (let i = 0; i < t.length; i++) {
    if (t[i]! > 20) {
      a += g[i]!;
      b += t[i]!;
    }
  }
  return a / b;
}

describe('the shipped shapes x4 upscaler folder', () => {
  it('lists exactly the files of the folder, in the StableDiffusionUpscalePipeline layout, ≤ 20 MB', () => {
    const files = walk(shapesUpscalerPath);
    const onDisk = files.map((f) => relative(shapesUpscalerPath, f).split(sep).join('/')).sort();
    expect([...shapesUpscalerFiles].sort()).toEqual(onDisk);
    const index = JSON.parse(readFileSync(join(shapesUpscalerPath, 'model_index.json'), 'utf8'));
    expect(index._class_name).toBe('StableDiffusionUpscalePipeline');
    expect(index.max_noise_level).toBe(350);
    const bytes = files.reduce((sum, f) => sum + statSync(f).size, 0);
    expect(bytes).toBeLessThanOrEqual(20 * 1024 * 1024);
  });

  it('recommends what its own evaluation measured best (upscaler.json)', () => {
    const info = JSON.parse(readFileSync(join(shapesUpscalerPath, 'upscaler.json'), 'utf8'));
    expect(info.recommended).toEqual(shapesUpscalerDefaults);
  });
});

describe('the shipped shapes x4 upscaler on held-out scenes (onnxruntime-node)', () => {
  let pipe: StableDiffusionUpscalePipeline | undefined;
  afterAll(async () => {
    await pipe?.dispose();
  });

  // Measured by tools/shapes-upscaler/evaluate.py on 96 held-out scenes (the model card's "x4 upscaler"
  // section): +4.4 dB over bicubic, judge 100 %. Here the same levels through onnxruntime-node and
  // latentkit's pipeline, so a worse model, a wrong scheduler config or a broken pipeline fails.
  it('beats bicubic by ≥ 2 dB PSNR with sharper edges, and the judge reads every image right', async () => {
    pipe = await StableDiffusionUpscalePipeline.fromPretrained(shapesUpscalerPath, { backend: nodeBackend });
    const gains: number[] = [];
    const sharper: number[] = [];
    const wrong: string[] = [];
    for (const [i, c] of cases.entries()) {
      const low = await readPng(join(FIXTURE, `${c.name}-32.png`));
      const truth = await readPng(join(FIXTURE, `${c.name}-128.png`));
      const { images } = await pipe.generate({
        prompt: c.prompt,
        image: low,
        ...shapesUpscalerDefaults,
        seed: i,
      });
      const up = images[0]!;
      expect([up.width, up.height]).toEqual([128, 128]);
      gains.push(psnr(up, truth) - c.bicubic_psnr);
      sharper.push(sharpness(up, truth) - c.bicubic_sharpness);
      const j = judgeShapeImage(up, world.colors);
      const got = [j.color, j.shape, j.background, j.size, j.position];
      const want = [c.color, c.shape, c.background, c.size, c.position];
      if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push(`${c.name}: judged ${got.join(' ')}`);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const detail = `PSNR gains ${gains.map((g) => g.toFixed(2)).join(' ')}; sharpness gains ${sharper.map((g) => g.toFixed(2)).join(' ')}; misjudged ${wrong.join('; ')}`;
    expect(mean(sharper), detail).toBeGreaterThanOrEqual(MIN_SHARPNESS_GAIN);
    expect(mean(gains), detail).toBeGreaterThanOrEqual(MIN_PSNR_GAIN_DB);
    expect(wrong.length, detail).toBeLessThanOrEqual(MAX_MISJUDGED);
  }, 120_000);
});
