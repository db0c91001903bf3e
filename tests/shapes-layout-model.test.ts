/**
 * The shipped shapes layout model (packages/model-shapes/layout, tools/shapes-layout): its grounded UNet with
 * the gate off computes the shipped text-to-image UNet (the base weights are frozen, bit for bit), the gate
 * changes the output, the folder is what the card says, and heldout-layouts.json keeps its promises
 * (every layout has a held-out triple; square, pixel-aligned, non-overlapping boxes of 8–18 px).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../packages/model-shapes/', import.meta.url));
const layoutDir = join(root, 'layout');
const modelDir = join(root, 'model');
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

/** Math.fround(Math.sin(0.37 i + phase) * scale), row-major. */
function wave(n: number, phase: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(0.37 * i + phase) * scale);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('shapes layout model: the grounded UNet', () => {
  let grounded: ort.InferenceSession;
  let plain: ort.InferenceSession;
  beforeAll(async () => {
    grounded = await ort.InferenceSession.create(join(layoutDir, 'unet', 'model.onnx'));
    plain = await ort.InferenceSession.create(join(modelDir, 'unet', 'model.onnx'));
  });
  afterAll(async () => {
    await grounded?.release();
    await plain?.release();
  });

  const B = 2;
  const D = 64;
  const N = 30;
  const common = () => ({
    sample: new ort.Tensor('float32', wave(B * 4 * 8 * 8, 0.3), [B, 4, 8, 8]),
    timestep: new ort.Tensor('float32', Float32Array.from([501]), [1]),
    encoder_hidden_states: new ort.Tensor('float32', wave(B * 77 * D, 1.1, 0.5), [B, 77, D]),
  });
  const grounding = (enabled: number) => {
    const boxes = new Float32Array(B * N * 4);
    const emb = new Float32Array(B * N * D);
    const masks = new Float32Array(B * N);
    for (let b = 0; b < B; b++) {
      boxes.set([0.05, 0.05, 0.45, 0.45, 0.55, 0.55, 0.95, 0.95], b * N * 4);
      emb.set(wave(2 * D, 2 + b), b * N * D);
      if (b === 1) masks.set([1, 1], b * N); // row 0: a CFG unconditional row (masks 0)
    }
    return {
      gligen_boxes: new ort.Tensor('float32', boxes, [B, N, 4]),
      gligen_positive_embeddings: new ort.Tensor('float32', emb, [B, N, D]),
      gligen_masks: new ort.Tensor('float32', masks, [B, N]),
      gligen_enabled: new ort.Tensor('float32', Float32Array.from([enabled]), []),
    };
  };

  it('takes the convention inputs and gives out_sample', () => {
    expect([...grounded.inputNames].sort()).toEqual(
      [
        'encoder_hidden_states',
        'gligen_boxes',
        'gligen_enabled',
        'gligen_masks',
        'gligen_positive_embeddings',
        'sample',
        'timestep',
      ].sort(),
    );
    expect(grounded.outputNames).toEqual(['out_sample']);
  });

  it('with gligen_enabled = 0 computes the shipped text-to-image UNet', async () => {
    const off = (await grounded.run({ ...common(), ...grounding(0) })).out_sample.data as Float32Array;
    const ref = (await plain.run(common())).out_sample.data as Float32Array;
    expect(maxAbsDiff(off, ref)).toBeLessThanOrEqual(1e-5);
  });

  it('with gligen_enabled = 1 the grounding changes the grounded row', async () => {
    const on = (await grounded.run({ ...common(), ...grounding(1) })).out_sample.data as Float32Array;
    const ref = (await plain.run(common())).out_sample.data as Float32Array;
    const half = on.length / 2;
    expect(maxAbsDiff(on.subarray(half), ref.subarray(half))).toBeGreaterThan(0.05);
  });
});

describe('shapes layout model: the folder', () => {
  it('is a StableDiffusionGLIGENPipeline folder with a gated UNet config, ≤ 20 MB', () => {
    expect(readJson(join(layoutDir, 'model_index.json'))._class_name).toBe('StableDiffusionGLIGENPipeline');
    const unet = readJson(join(layoutDir, 'unet', 'config.json'));
    expect(unet.attention_type).toBe('gated');
    expect(unet.cross_attention_dim).toBe(64);
    let total = 0;
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else total += statSync(p).size;
      }
    };
    walk(layoutDir);
    expect(total).toBeLessThanOrEqual(20 * 1024 * 1024);
  });

  it('layout.json: recommended settings in range and the training figures', () => {
    const info = readJson(join(layoutDir, 'layout.json'));
    const r = info.recommended;
    expect(Number.isInteger(r.numInferenceSteps) && r.numInferenceSteps > 0).toBe(true);
    expect(r.guidanceScale).toBeGreaterThanOrEqual(1);
    expect(r.gligenScheduledSamplingBeta).toBeGreaterThanOrEqual(0);
    expect(r.gligenScheduledSamplingBeta).toBeLessThanOrEqual(1);
    expect(info.training.steps).toBeGreaterThan(0);
    expect(info.training.minutes).toBeGreaterThan(0);
    expect(info.training.params).toBeGreaterThan(0);
  });

  it('copies the shipped text encoder, tokenizer and VAE encoder byte for byte (the decoder is fine-tuned)', () => {
    for (const f of ['text_encoder/model.onnx', 'tokenizer/vocab.json', 'vae_encoder/model.onnx']) {
      expect(readFileSync(join(layoutDir, f)).equals(readFileSync(join(modelDir, f))), f).toBe(true);
    }
  });
});

describe('shapes layout model: heldout-layouts.json', () => {
  const doc = readJson(join(layoutDir, 'heldout-layouts.json'));
  const held = new Set<string>(
    doc.heldout_triples.map(
      (t: { color: string; shape: string; background: string }) => `${t.color}|${t.shape}|${t.background}`,
    ),
  );
  const res: number = doc.resolution;

  it('has 100 layouts with 2 objects and 100 with 3', () => {
    const counts = doc.layouts.map((l: { objects: unknown[] }) => l.objects.length);
    expect(counts.filter((c: number) => c === 2)).toHaveLength(100);
    expect(counts.filter((c: number) => c === 3)).toHaveLength(100);
    expect(held.size).toBe(16);
  });

  it('every layout has a held-out triple, objects unlike the background, phrases that name them', () => {
    for (const lay of doc.layouts) {
      expect(lay.prompt).toBe(`on a ${lay.background} background`);
      const n = lay.objects.filter((o: { color: string; shape: string }) =>
        held.has(`${o.color}|${o.shape}|${lay.background}`),
      ).length;
      expect(n).toBeGreaterThanOrEqual(1);
      expect(n).toBe(lay.heldout_objects);
      for (const o of lay.objects) {
        expect(o.color).not.toBe(lay.background);
        expect(o.phrase).toMatch(new RegExp(`^an? ${o.color} ${o.shape}$`));
      }
    }
  });

  it('boxes are square, pixel-aligned, 8–18 px, inside the image and not overlapping', () => {
    for (const lay of doc.layouts) {
      const px = lay.objects.map((o: { box: number[] }) => o.box.map((v) => v * res));
      for (const [x0, y0, x1, y1] of px) {
        for (const v of [x0, y0, x1, y1]) {
          expect(Number.isInteger(v)).toBe(true);
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(res);
        }
        expect(x1 - x0).toBe(y1 - y0);
        expect(x1 - x0).toBeGreaterThanOrEqual(8);
        expect(x1 - x0).toBeLessThanOrEqual(18);
      }
      for (let i = 0; i < px.length; i++)
        for (let j = i + 1; j < px.length; j++) {
          const [a, b] = [px[i], px[j]];
          const apart = a[2] < b[0] || b[2] < a[0] || a[3] < b[1] || b[3] < a[1];
          expect(apart).toBe(true);
        }
    }
  });
});
