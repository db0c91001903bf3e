/**
 * The tiny SDXL fixtures of tools/fixtures/make_sdxl_fixtures.py, graph by graph: onnxruntime-node run on each
 * ONNX file directly (no latentkit loader in between) reproduces what torch computed from the same weights
 * (expected.json). The loader and pipeline tests build on these files; this test pins the files themselves.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TorchGenerator } from '@latentkit/core';
import { float16ToFloat32, float32ToFloat16 } from '@latentkit/onnx';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';

const MODELS = join(import.meta.dirname, 'fixtures', 'models');

interface Strided {
  shape: number[];
  stride: number;
  values: number[];
}
interface Wave {
  shape: number[];
  phase: number;
  scale: number;
}
interface TextExpected {
  input_ids: number[];
  last_hidden_state: Strided;
  hidden_states_minus_2: Strided;
  hidden_states_minus_3: Strided;
  text_embeds?: Strided;
  pooler_output?: Strided;
}
interface Expected {
  tokenizer?: Record<string, number[]>;
  tokenizer_2: Record<string, number[]>;
  text_encoder?: TextExpected;
  text_encoder_2: TextExpected;
  unet: {
    sample: Wave;
    encoder_hidden_states: Wave;
    text_embeds: Wave;
    timestep: number;
    timestep_shape: number[];
    time_ids: number[][];
    out_sample: Strided;
    time_ids_2: number[][];
    out_sample_time_ids_2: Strided;
  };
  vae_decoder: { latents: Wave; scaling_factor: number; image: Strided };
  vae_encoder: { image: Wave; generator_seed: number; latents: Strided };
  encode_prompt: {
    prompt: string;
    prompt_2: string | null;
    diffusers_clip_skip: number | null;
    latentkit_clip_skip: number;
    prompt_embeds: Strided;
    pooled_prompt_embeds: Strided;
  }[];
  fp16?: {
    text_encoder: Omit<TextExpected, 'input_ids'>;
    text_encoder_2: Omit<TextExpected, 'input_ids'>;
    unet: { out_sample: Strided };
    vae_decoder: { image: Strided };
    vae_encoder: { latents: Strided };
  };
}

/** The script's inputs: fround(sin(0.37·i + phase)·scale), row-major. */
function wave({ shape, phase, scale }: Wave): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(0.37 * i + phase) * scale;
  return data;
}

/** max |actual − expected| / max(1, max |expected|) over the stored (strided) values. */
function relDiff(actual: Float32Array, dims: readonly number[], ref: Strided): number {
  expect([...dims]).toEqual(ref.shape);
  let worst = 0;
  let scale = 1;
  ref.values.forEach((v, j) => {
    worst = Math.max(worst, Math.abs(actual[j * ref.stride]! - v));
    scale = Math.max(scale, Math.abs(v));
  });
  return worst / scale;
}

// float32 on both sides: ≤ 1e-4 relative to the output's magnitude (at least 1)
const TOL = 1e-4;
// float16 outputs: torch and onnxruntime both compute in float32 and round once to float16; a value near a
// rounding boundary may land one float16 step (2^-10 relative) apart
const TOL_FP16 = 2e-3;

const sessions: ort.InferenceSession[] = [];
async function open(path: string): Promise<ort.InferenceSession> {
  const session = await ort.InferenceSession.create(path);
  sessions.push(session);
  return session;
}
afterAll(async () => {
  for (const s of sessions) await s.release();
});

type Precision = 'fp32' | 'fp16';
function floatTensor(data: Float32Array, dims: readonly number[], precision: Precision): ort.Tensor {
  return precision === 'fp16'
    ? new ort.Tensor('float16', float32ToFloat16(data), dims)
    : new ort.Tensor('float32', data, dims);
}
function toFloat32(t: ort.Tensor): Float32Array {
  if (t.type === 'float16') return float16ToFloat32(t.data as Uint16Array);
  expect(t.type).toBe('float32');
  return t.data as Float32Array;
}

const FIXTURES = ['sdxl-tiny', 'sdxl-refiner-tiny', 'sdxl-turbo-tiny'] as const;

describe.each(FIXTURES)('%s: each graph in onnxruntime-node reproduces torch', (name) => {
  const dir = join(MODELS, name);
  const expected: Expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));
  const index = JSON.parse(readFileSync(join(dir, 'model_index.json'), 'utf8'));
  const refiner = name === 'sdxl-refiner-tiny';
  const precisions: Precision[] = expected.fp16 ? ['fp32', 'fp16'] : ['fp32'];
  const file = (part: string, precision: Precision) =>
    join(dir, part, precision === 'fp16' ? 'model.fp16.onnx' : 'model.onnx');

  it('model_index.json says what the folder stands for', () => {
    expect(index._class_name).toBe(
      refiner ? 'StableDiffusionXLImg2ImgPipeline' : 'StableDiffusionXLPipeline',
    );
    expect(index.force_zeros_for_empty_prompt).toBe(!refiner);
    expect(index.requires_aesthetics_score ?? false).toBe(refiner);
    expect(index.text_encoder).toEqual(refiner ? [null, null] : ['transformers', 'CLIPTextModel']);
    expect(index.text_encoder_2).toEqual(['transformers', 'CLIPTextModelWithProjection']);
  });

  // the refiner has text_encoder_2 only (checked below)
  const textParts = refiner ? (['text_encoder_2'] as const) : (['text_encoder', 'text_encoder_2'] as const);
  for (const part of textParts) {
    for (const precision of precisions) {
      it(`${part} (${precision}): outputs, hidden_states[-2], [-3]`, async () => {
        const ref = expected[part]!;
        const session = await open(file(part, precision));
        const config = JSON.parse(readFileSync(join(dir, part, 'config.json'), 'utf8'));
        const layers: number = config.num_hidden_layers;
        const head =
          part === 'text_encoder_2'
            ? ['text_embeds', 'last_hidden_state']
            : ['last_hidden_state', 'pooler_output'];
        expect(session.outputNames).toEqual([
          ...head,
          ...Array.from({ length: layers + 1 }, (_, i) => `hidden_states.${i}`),
        ]);
        const ids = new ort.Tensor('int32', Int32Array.from(ref.input_ids), [1, ref.input_ids.length]);
        const out = await session.run({ input_ids: ids });
        const want = precision === 'fp16' ? expected.fp16![part] : ref;
        const tol = precision === 'fp16' ? TOL_FP16 : TOL;
        const check = (output: string, r: Strided) => {
          const t = out[output]!;
          expect(t.type).toBe(precision === 'fp16' ? 'float16' : 'float32');
          expect(relDiff(toFloat32(t), t.dims, r), output).toBeLessThanOrEqual(tol);
        };
        check('last_hidden_state', want.last_hidden_state);
        check(`hidden_states.${layers - 1}`, want.hidden_states_minus_2);
        check(`hidden_states.${layers - 2}`, want.hidden_states_minus_3);
        if (part === 'text_encoder_2') check('text_embeds', want.text_embeds!);
        else check('pooler_output', want.pooler_output!);
      });
    }
  }

  for (const precision of precisions) {
    it(`unet (${precision}): text_embeds and time_ids reach the graph`, async () => {
      const session = await open(file('unet', precision));
      expect(session.inputNames).toEqual([
        'sample',
        'timestep',
        'encoder_hidden_states',
        'text_embeds',
        'time_ids',
      ]);
      const u = expected.unet;
      const k = u.time_ids[0]!.length;
      expect(k).toBe(refiner ? 5 : 6);
      const feeds = (timeIds: number[][]) => ({
        sample: floatTensor(wave(u.sample), u.sample.shape, precision),
        timestep: floatTensor(new Float32Array([u.timestep]), u.timestep_shape, precision),
        encoder_hidden_states: floatTensor(
          wave(u.encoder_hidden_states),
          u.encoder_hidden_states.shape,
          precision,
        ),
        text_embeds: floatTensor(wave(u.text_embeds), u.text_embeds.shape, precision),
        time_ids: floatTensor(Float32Array.from(timeIds.flat()), [timeIds.length, k], precision),
      });
      const out = (await session.run(feeds(u.time_ids))).out_sample!;
      if (precision === 'fp16') {
        expect(relDiff(toFloat32(out), out.dims, expected.fp16!.unet.out_sample)).toBeLessThanOrEqual(
          TOL_FP16,
        );
        return;
      }
      expect(relDiff(toFloat32(out), out.dims, u.out_sample)).toBeLessThanOrEqual(TOL);
      // other time ids give torch's other output (and differ from the first): time_ids reach the embedding
      const out2 = (await session.run(feeds(u.time_ids_2))).out_sample!;
      expect(relDiff(toFloat32(out2), out2.dims, u.out_sample_time_ids_2)).toBeLessThanOrEqual(TOL);
      expect(relDiff(toFloat32(out2), out2.dims, u.out_sample)).toBeGreaterThan(1e-3);
    });

    it(`vae_decoder and vae_encoder (${precision})`, async () => {
      const dec = await open(file('vae_decoder', precision));
      const { latents, scaling_factor, image } = expected.vae_decoder;
      expect(scaling_factor).toBe(0.13025);
      const unscaled = wave(latents).map((v) => v / scaling_factor);
      const img = (await dec.run({ latent_sample: floatTensor(unscaled, latents.shape, precision) })).sample!;
      const tol = precision === 'fp16' ? TOL_FP16 : TOL;
      const wantImage = precision === 'fp16' ? expected.fp16!.vae_decoder.image : image;
      expect(relDiff(toFloat32(img), img.dims, wantImage)).toBeLessThanOrEqual(tol);

      const enc = await open(file('vae_encoder', precision));
      const e = expected.vae_encoder;
      const [output] = enc.outputNames;
      const raw = (await enc.run({ sample: floatTensor(wave(e.image), e.image.shape, precision) }))[output!]!;
      const wantLatents = precision === 'fp16' ? expected.fp16!.vae_encoder.latents : e.latents;
      if (output === 'latent_parameters') {
        // Optimum ≥ 1.14: mean ‖ logvar; expected.json holds (mean + exp(logvar/2)·ε)·scaling with ε drawn as
        // diffusers' DiagonalGaussianDistribution.sample does with torch.Generator().manual_seed(42)
        expect(raw.dims).toEqual([1, 8, ...wantLatents.shape.slice(2)]);
        const params = toFloat32(raw);
        const half = params.length / 2;
        const noise = new TorchGenerator(e.generator_seed).randn(wantLatents.shape).data;
        const sampled = new Float32Array(half).map((_, i) => {
          const std = Math.exp(0.5 * Math.min(Math.max(params[half + i]!, -30), 20));
          return (params[i]! + std * noise[i]!) * scaling_factor;
        });
        expect(relDiff(sampled, wantLatents.shape, wantLatents)).toBeLessThanOrEqual(tol);
        return;
      }
      expect(output).toBe('latent_sample');
      const scaled = toFloat32(raw).map((v) => v * scaling_factor);
      expect(relDiff(scaled, raw.dims, wantLatents)).toBeLessThanOrEqual(tol);
    });
  }

  it("diffusers' encode_prompt = both encoders' hidden_states[-(clipSkip+1)] concatenated, text_embeds pooled", async () => {
    const parts = refiner ? (['text_encoder_2'] as const) : (['text_encoder', 'text_encoder_2'] as const);
    const encoders = await Promise.all(parts.map((p) => open(file(p, 'fp32'))));
    const layers = parts.map(
      (p) => JSON.parse(readFileSync(join(dir, p, 'config.json'), 'utf8')).num_hidden_layers as number,
    );
    expect(expected.encode_prompt.length).toBe(4);
    for (const c of expected.encode_prompt) {
      // diffusers zips [prompt, prompt_2] with the encoders present: the refiner's text_encoder_2 gets `prompt`
      const prompts = [c.prompt, c.prompt_2 ?? c.prompt];
      const states: Float32Array[] = [];
      const widths: number[] = [];
      let pooled: Float32Array | undefined;
      for (const [i, part] of parts.entries()) {
        const ids = (part === 'text_encoder' ? expected.tokenizer! : expected.tokenizer_2)[prompts[i]!]!;
        const out = await encoders[i]!.run({
          input_ids: new ort.Tensor('int32', Int32Array.from(ids), [1, 77]),
        });
        const h = out[`hidden_states.${layers[i]! - c.latentkit_clip_skip}`]!;
        states.push(toFloat32(h));
        widths.push(h.dims[2]!);
        if (part === 'text_encoder_2') pooled = toFloat32(out.text_embeds!);
      }
      const d = widths.reduce((a, b) => a + b, 0);
      const embeds = new Float32Array(77 * d);
      for (let t = 0; t < 77; t++) {
        let at = t * d;
        states.forEach((st, i) => {
          embeds.set(st.subarray(t * widths[i]!, (t + 1) * widths[i]!), at);
          at += widths[i]!;
        });
      }
      const label = JSON.stringify([c.prompt, c.prompt_2, c.latentkit_clip_skip]);
      expect(relDiff(embeds, [1, 77, d], c.prompt_embeds), label).toBeLessThanOrEqual(TOL);
      expect(
        relDiff(pooled!, c.pooled_prompt_embeds.shape, c.pooled_prompt_embeds),
        label,
      ).toBeLessThanOrEqual(TOL);
    }
  });

  it('text_encoder/ and tokenizer/ exist exactly when model_index.json names them (the refiner: null)', () => {
    expect(existsSync(join(dir, 'text_encoder', 'model.onnx'))).toBe(!refiner);
    expect(existsSync(join(dir, 'tokenizer', 'vocab.json'))).toBe(!refiner);
    expect(existsSync(join(dir, 'text_encoder_2', 'model.onnx'))).toBe(true);
    expect(existsSync(join(dir, 'tokenizer_2', 'vocab.json'))).toBe(true);
  });

  it('both tokenizers: the first pads with <|endoftext|>, the second with "!"', () => {
    const eos = expected.tokenizer_2['a photo of a cat']![6]!;
    expect(expected.tokenizer_2['a photo of a cat']!.slice(7).every((id) => id === 0)).toBe(true); // "!" is id 0
    if (expected.tokenizer)
      expect(expected.tokenizer['a photo of a cat']!.slice(7).every((id) => id === eos)).toBe(true);
  });
});
