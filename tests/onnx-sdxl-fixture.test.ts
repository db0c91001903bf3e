/**
 * The tiny SDXL fixtures (tools/fixtures/make_sdxl_fixtures.py) through latentkit's loader on real
 * onnxruntime-node: `nodeBackend.load` reads each folder as SDXL (parts.sdxl, microConditioning), the SDXL
 * prompt encoder gives diffusers' `encode_prompt` numbers (expected.json, from torch), the UNet and the VAE
 * give torch's outputs through the Denoiser / LatentCodec interfaces, the fp16 variant files load (with the
 * float32 VAE taken under force_upcast), LoRA layers reach the right text encoder, SDXL embeddings go into
 * both, and StableDiffusionXLPipeline runs each folder end to end.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileModelSource, type NodeLoadedPipelineParts, nodeBackend } from '@latentkit/backend-node';
import { StableDiffusionXLPipeline, Tensor, TorchGenerator } from '@latentkit/core';
import {
  readOnnxGraph,
  readOnnxWeights,
  SdxlPromptEncoder,
  tokenEmbeddingName,
  UnetDenoiser,
} from '@latentkit/onnx';
import { afterAll, describe, expect, it } from 'vitest';
import { safetensorsBytes } from '../packages/onnx/src/test-support/safetensors-bytes.js';
import { maxAbsDiff, relDiff, type Strided, type Wave, wave } from './support/fixture-reference.js';

const MODELS = join(import.meta.dirname, 'fixtures', 'models');

interface EncodeCase {
  prompt: string;
  prompt_2: string | null;
  diffusers_clip_skip: number | null;
  latentkit_clip_skip: number;
  prompt_embeds: Strided;
  pooled_prompt_embeds: Strided;
}
interface Expected {
  encode_prompt: EncodeCase[];
  unet: {
    sample: Wave;
    encoder_hidden_states: Wave;
    text_embeds: Wave;
    timestep: number;
    time_ids: number[][];
    out_sample: Strided;
    time_ids_2: number[][];
    out_sample_time_ids_2: Strided;
  };
  vae_decoder: { latents: Wave; image: Strided };
  vae_encoder: { image: Wave; generator_seed: number; latents: Strided };
  fp16?: { unet: { out_sample: Strided }; text_encoder_2: { text_embeds: Strided } };
}

/** The last `width` features of every token `[B, T, D] → [B, T, width]` (or the first, `from: 0`). */
function features(t: Tensor, from: number, width: number): Tensor {
  const [b, n, d] = t.shape as [number, number, number];
  const out = new Float32Array(b * n * width);
  for (let r = 0; r < b * n; r++) out.set(t.data.subarray(r * d + from, r * d + from + width), r * width);
  return new Tensor(out, [b, n, width]);
}

// float32 on both sides: ≤ 1e-4 relative to the output's magnitude (at least 1), as the fixture's own test
const TOL = 1e-4;
// float16 graphs: one float16 rounding step (2^-10 relative) apart at most, plus float16 inputs
const TOL_FP16 = 3e-3;

const loaded: NodeLoadedPipelineParts[] = [];
async function load(dir: string, options: Parameters<typeof nodeBackend.load>[1] = {}) {
  const parts = await nodeBackend.load(dir, { onWarning: () => undefined, ...options });
  loaded.push(parts);
  return parts;
}
const temps: string[] = [];
afterAll(async () => {
  for (const p of loaded) await p.dispose();
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

const FIXTURES = [
  { name: 'sdxl-tiny', refiner: false, timeIds: 6 },
  { name: 'sdxl-refiner-tiny', refiner: true, timeIds: 5 },
  { name: 'sdxl-turbo-tiny', refiner: false, timeIds: 6 },
] as const;

describe.each(FIXTURES)('$name through nodeBackend.load', ({ name, refiner, timeIds }) => {
  const dir = join(MODELS, name);
  const expected: Expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));

  it('is read as SDXL: parts.sdxl from model_index.json, an SDXL prompt encoder, a micro-conditioned UNet', async () => {
    const parts = await load(dir);
    expect(parts.sdxl).toEqual({ requiresAestheticsScore: refiner, forceZerosForEmptyPrompt: !refiner });
    expect(parts.promptEncoder).toBeInstanceOf(SdxlPromptEncoder);
    expect((parts.promptEncoder as SdxlPromptEncoder).hasFirstEncoder).toBe(!refiner);
    expect(parts.denoiser.microConditioning).toEqual({ textEmbedsDim: 20, timeIdCount: timeIds });
    expect(parts.codec.latentChannels).toBe(4);
  });

  it('the prompt encoder gives diffusers encode_prompt numbers (prompt_2, clip skip) within 1e-4', async () => {
    const parts = await load(dir);
    expect(expected.encode_prompt.length).toBeGreaterThanOrEqual(4); // incl. the empty prompt
    for (const c of expected.encode_prompt) {
      const what = `${JSON.stringify(c.prompt)} / ${JSON.stringify(c.prompt_2)} clipSkip ${c.latentkit_clip_skip}`;
      // diffusers' SDXL clip_skip = latentkit's clipSkip − 1 (both: hidden_states[-(clipSkip + 1)])
      expect(c.latentkit_clip_skip - 1).toBe(c.diffusers_clip_skip ?? 0);
      const cond = await parts.promptEncoder!.encode([c.prompt], {
        clipSkip: c.latentkit_clip_skip,
        ...(c.prompt_2 !== null ? { prompts2: [c.prompt_2] } : {}),
      });
      expect(relDiff(cond.encoderHiddenStates, c.prompt_embeds), what).toBeLessThanOrEqual(TOL);
      expect(relDiff(cond.textEmbeds!, c.pooled_prompt_embeds), what).toBeLessThanOrEqual(TOL);
    }
  });

  it('the UNet (Denoiser.predict) gives torch output; other time ids give torch other output', async () => {
    const parts = await load(dir);
    const u = expected.unet;
    const conditioning = (ids: number[][]) => ({
      encoderHiddenStates: wave(u.encoder_hidden_states),
      textEmbeds: wave(u.text_embeds),
      timeIds: new Tensor(Float32Array.from(ids.flat()), [ids.length, timeIds]),
    });
    const run = (ids: number[][]) =>
      parts.denoiser.predict({
        sample: wave(u.sample),
        timestep: u.timestep,
        conditioning: conditioning(ids),
      });
    const out = await run(u.time_ids);
    expect(relDiff(out, u.out_sample)).toBeLessThanOrEqual(TOL);
    const out2 = await run(u.time_ids_2);
    expect(relDiff(out2, u.out_sample_time_ids_2)).toBeLessThanOrEqual(TOL);
    expect(relDiff(out2, u.out_sample)).toBeGreaterThan(1e-3);
  });

  it('the VAE codec decodes and encodes (scaling factor 0.13025, posterior sampled with seed 42) as torch', async () => {
    const parts = await load(dir);
    const image = await parts.codec.decode(wave(expected.vae_decoder.latents));
    expect(relDiff(image, expected.vae_decoder.image)).toBeLessThanOrEqual(TOL);
    const e = expected.vae_encoder;
    const latents = await parts.codec.encode!(wave(e.image), {
      generator: new TorchGenerator(e.generator_seed),
    });
    expect(relDiff(latents, e.latents)).toBeLessThanOrEqual(TOL);
  });
});

describe('sdxl-tiny: prompts', () => {
  const dir = join(MODELS, 'sdxl-tiny');

  it('a batch: row i is prompt i encoded alone; identical pairs are encoded once', async () => {
    const parts = await load(dir);
    const enc = parts.promptEncoder!;
    const both = await enc.encode(['a photo of a cat', 'a red house on a hill', 'a photo of a cat'], {
      prompts2: ['x', 'a red house on a hill', 'y'],
    });
    expect(both.encoderHiddenStates.shape).toEqual([3, 77, 40]);
    expect(both.textEmbeds!.shape).toEqual([3, 20]);
    const alone = await enc.encode(['a photo of a cat'], { prompts2: ['y'] });
    const rows = both.encoderHiddenStates.chunk(3);
    expect(maxAbsDiff(rows[2]!, alone.encoderHiddenStates)).toBe(0);
    expect(maxAbsDiff(both.textEmbeds!.chunk(3)[2]!, alone.textEmbeds!)).toBe(0);
    // prompt 0 and 2 differ only in prompt 2: the first encoder's features agree, the second's do not
    expect(maxAbsDiff(features(rows[0]!, 0, 16), features(rows[2]!, 0, 16))).toBe(0);
    expect(maxAbsDiff(features(rows[0]!, 16, 24), features(rows[2]!, 16, 24))).toBeGreaterThan(1e-3);
  });

  it('a long prompt: 77·k tokens from both encoders, pooled from the first chunk; BREAK pads both to k', async () => {
    const parts = await load(dir);
    const enc = parts.promptEncoder!;
    const first = 'a photo of a cat';
    const long = await enc.encode([`${first} BREAK a red house on a hill`]);
    expect(long.encoderHiddenStates.shape).toEqual([1, 154, 40]);
    const alone = await enc.encode([first]);
    // chunk 0 is the first chunk encoded alone; the pooled embedding is chunk 0's
    const chunk0 = new Tensor(long.encoderHiddenStates.data.slice(0, 77 * 40), [1, 77, 40]);
    expect(maxAbsDiff(chunk0, alone.encoderHiddenStates)).toBe(0);
    expect(maxAbsDiff(long.textEmbeds!, alone.textEmbeds!)).toBe(0);
    // prompt 2 with one chunk beside a prompt of two: both encoders give two chunks (the second empty)
    const mixed = await enc.encode([`${first} BREAK a red house on a hill`], { prompts2: [first] });
    expect(mixed.encoderHiddenStates.shape).toEqual([1, 154, 40]);
    const empty = await enc.encode([''], { prompts2: [''] });
    const tail = new Tensor(mixed.encoderHiddenStates.data.slice(77 * 40), [1, 77, 40]);
    expect(maxAbsDiff(features(tail, 16, 24), features(empty.encoderHiddenStates, 16, 24))).toBe(0);
  });

  it("A1111 weights act on each encoder's hidden states (per-encoder emphasis); the pooled embedding is unweighted", async () => {
    const parts = await load(dir);
    const enc = parts.promptEncoder!;
    const plain = await enc.encode(['a photo of a cat']);
    const weighted = await enc.encode(['a photo of a (cat:1.5)']);
    expect(maxAbsDiff(plain.textEmbeds!, weighted.textEmbeds!)).toBe(0);
    // each encoder's part keeps its own mean (A1111's "Original" emphasis, per embedder)
    for (const [from, width] of [
      [0, 16],
      [16, 24],
    ] as const) {
      const a = features(plain.encoderHiddenStates, from, width);
      const b = features(weighted.encoderHiddenStates, from, width);
      expect(Math.abs(a.mean() - b.mean())).toBeLessThan(1e-5);
      expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-3);
    }
  });
});

describe('sdxl-tiny: fp16 variant files', () => {
  const dir = join(MODELS, 'sdxl-tiny');
  const fp16 = {
    text_encoder: 'text_encoder/model.fp16.onnx',
    text_encoder_2: 'text_encoder_2/model.fp16.onnx',
    unet: 'unet/model.fp16.onnx',
    vae_decoder: 'vae_decoder/model.fp16.onnx',
    vae_encoder: 'vae_encoder/model.fp16.onnx',
  };

  it('load and match the fp16 outputs; the VAE comes from the float32 model.onnx (force_upcast) without a warning', async () => {
    const warnings: string[] = [];
    const parts = await load(dir, { modelFiles: fp16, onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
    const expected: Expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));
    const u = expected.unet;
    const out = await parts.denoiser.predict({
      sample: wave(u.sample),
      timestep: u.timestep,
      conditioning: {
        encoderHiddenStates: wave(u.encoder_hidden_states),
        textEmbeds: wave(u.text_embeds),
        timeIds: new Tensor(Float32Array.from(u.time_ids.flat()), [2, 6]),
      },
    });
    expect(relDiff(out, expected.fp16!.unet.out_sample)).toBeLessThanOrEqual(TOL_FP16);
    const cond = await parts.promptEncoder!.encode(['a photo of a cat']);
    expect(relDiff(cond.textEmbeds!, expected.fp16!.text_encoder_2.text_embeds)).toBeLessThanOrEqual(
      TOL_FP16,
    );
    // the float32 VAE: torch's float32 image within 1e-4 (a float16 decoder would be ~1e-3 off)
    const image = await parts.codec.decode(wave(expected.vae_decoder.latents));
    expect(relDiff(image, expected.vae_decoder.image)).toBeLessThanOrEqual(TOL);
  });

  it("variant: 'fp16' picks every model.fp16.onnx (text_encoder_2 too) and the same float32 VAE", async () => {
    const warnings: string[] = [];
    const parts = await load(dir, { variant: 'fp16', onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
    const explicit = await load(dir, { modelFiles: fp16 });
    const a = await parts.promptEncoder!.encode(['a photo of a cat']);
    const b = await explicit.promptEncoder!.encode(['a photo of a cat']);
    expect(maxAbsDiff(a.encoderHiddenStates, b.encoderHiddenStates)).toBe(0);
    expect(maxAbsDiff(a.textEmbeds!, b.textEmbeds!)).toBe(0);
    const expected: Expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));
    const fp16Pooled = expected.fp16!.text_encoder_2.text_embeds;
    expect(relDiff(a.textEmbeds!, fp16Pooled)).toBeLessThanOrEqual(TOL_FP16);
    const image = await parts.codec.decode(wave(expected.vae_decoder.latents));
    expect(relDiff(image, expected.vae_decoder.image)).toBeLessThanOrEqual(TOL);
  });

  it('a float16 VAE alone (no model.onnx beside it) loads with ONE warning naming the fp16-fix VAE', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'latentkit-sdxl-fp16-'));
    temps.push(copy);
    cpSync(dir, copy, { recursive: true });
    rmSync(join(copy, 'vae_decoder', 'model.onnx'));
    rmSync(join(copy, 'vae_encoder', 'model.onnx'));
    const warnings: string[] = [];
    const parts = await load(copy, { modelFiles: fp16, onWarning: (m) => warnings.push(m) });
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toMatch(
      /vae_decoder\/model\.fp16\.onnx and vae_encoder\/model\.fp16\.onnx .* are float16, but the VAE config says force_upcast: true.*madebyollin\/sdxl-vae-fp16-fix/,
    );
    const expected: Expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));
    // the tiny VAE does not overflow: it decodes, at float16 precision
    const image = await parts.codec.decode(wave(expected.vae_decoder.latents));
    expect(relDiff(image, expected.vae_decoder.image)).toBeLessThanOrEqual(TOL_FP16);
    // latents far outside the VAE's range overflow float16: the error names the cause and the fp16-fix VAE
    const huge = new Tensor(new Float32Array(4 * 8 * 8).fill(6e4), [1, 4, 8, 8]);
    await expect(parts.codec.decode(huge)).rejects.toThrow(
      /Non-finite values in the VAE decoder's output.*float16 VAE whose config says force_upcast: true.*madebyollin\/sdxl-vae-fp16-fix/,
    );
  });
});

describe('force_upcast outside SDXL', () => {
  it('an SD 1.x float16 VAE whose config says force_upcast: true is kept without a warning (diffusers upcasts in SDXL pipelines only)', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'latentkit-sd1-fp16-'));
    temps.push(copy);
    cpSync(join(MODELS, 'sd1-fp16'), copy, { recursive: true });
    const configPath = join(copy, 'vae_decoder', 'config.json');
    writeFileSync(
      configPath,
      JSON.stringify({ ...JSON.parse(readFileSync(configPath, 'utf8')), force_upcast: true }),
    );
    const warnings: string[] = [];
    const parts = await load(copy, { onWarning: (m) => warnings.push(m) });
    expect(parts.sdxl).toBeUndefined();
    expect(warnings).toEqual([]);
  });
});

describe('sdxl-tiny: LoRA and textual inversion reach the right encoder', () => {
  const dir = join(MODELS, 'sdxl-tiny');
  const q = 'text_model_encoder_layers_0_self_attn_q_proj';

  it.each([
    [
      'kohya lora_te1_',
      { [`lora_te1_${q}.lora_down.weight`]: [2, 16], [`lora_te1_${q}.lora_up.weight`]: [16, 2] },
      'first',
    ],
    [
      'kohya lora_te2_',
      { [`lora_te2_${q}.lora_down.weight`]: [2, 24], [`lora_te2_${q}.lora_up.weight`]: [24, 2] },
      'second',
    ],
    [
      'diffusers text_encoder.',
      {
        'text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight': [2, 16],
        'text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_B.weight': [16, 2],
      },
      'first',
    ],
    [
      'diffusers text_encoder_2.',
      {
        'text_encoder_2.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight': [2, 24],
        'text_encoder_2.text_model.encoder.layers.0.self_attn.q_proj.lora_B.weight': [24, 2],
      },
      'second',
    ],
  ] as const)(
    '%s changes only that encoder; unloading restores the file weights exactly',
    async (_, keys, which) => {
      const parts = await load(dir);
      const enc = parts.promptEncoder!;
      const before = await enc.encode(['a photo of a cat']);
      await parts.adapters!.loadLoraWeights(safetensorsBytes(keys as unknown as Record<string, number[]>), {
        adapterName: 'x',
      });
      const after = await enc.encode(['a photo of a cat']);
      const d1 = maxAbsDiff(
        features(before.encoderHiddenStates, 0, 16),
        features(after.encoderHiddenStates, 0, 16),
      );
      const d2 = maxAbsDiff(
        features(before.encoderHiddenStates, 16, 24),
        features(after.encoderHiddenStates, 16, 24),
      );
      const pooled = maxAbsDiff(before.textEmbeds!, after.textEmbeds!);
      if (which === 'first') {
        expect(d1).toBeGreaterThan(1e-3);
        expect([d2, pooled]).toEqual([0, 0]);
      } else {
        expect(d1).toBe(0);
        expect(d2).toBeGreaterThan(1e-3);
        expect(pooled).toBeGreaterThan(1e-4);
      }
      await parts.adapters!.unloadLoraWeights();
      const restored = await enc.encode(['a photo of a cat']);
      expect(maxAbsDiff(restored.encoderHiddenStates, before.encoderHiddenStates)).toBe(0);
    },
  );

  it('a kohya LoRA on both SDXL text encoders gives torch encode_prompt at scales 1 and 0.6 (tests/fixtures/lora-sdxl)', async () => {
    const lora = join(import.meta.dirname, 'fixtures', 'lora-sdxl');
    const reference: {
      prompt: string;
      cases: Record<string, { prompt_embeds: Strided; pooled_prompt_embeds: Strided }>;
    } = JSON.parse(readFileSync(join(lora, 'reference.json'), 'utf8'));
    const parts = await load(dir);
    const check = async (name: string) => {
      const cond = await parts.promptEncoder!.encode([reference.prompt]);
      const want = reference.cases[name]!;
      expect(relDiff(cond.encoderHiddenStates, want.prompt_embeds), name).toBeLessThanOrEqual(TOL);
      expect(relDiff(cond.textEmbeds!, want.pooled_prompt_embeds), name).toBeLessThanOrEqual(TOL);
    };
    await check('base');
    const info = await parts.adapters!.loadLoraWeights(
      new Uint8Array(readFileSync(join(lora, 'te-lora.safetensors'))),
      {
        adapterName: 'te',
      },
    );
    expect(info.targets).toEqual({ text_encoder: 2, text_encoder_2: 2 });
    await check('scale 1');
    await parts.adapters!.setAdapters(['te'], [0.6]);
    await check('scale 0.6');
    // the LoRA moves the numbers well beyond the tolerance (the test can fail)
    expect(
      relDiff(
        (await parts.promptEncoder!.encode([reference.prompt])).encoderHiddenStates,
        reference.cases['base']!.prompt_embeds,
      ),
    ).toBeGreaterThan(1e-2);
  });

  it("an SDXL embedding (clip_l, clip_g) goes into both tokenizers and encoders: '<cat2>' = 'cat' when its vectors are cat's rows", async () => {
    const source = new FileModelSource(dir);
    const row = async (component: string, id: number) => {
      const path = `${component}/model.onnx`;
      const name = tokenEmbeddingName(readOnnxGraph(await source.readBytes(path), path))!;
      const [w] = await readOnnxWeights(source, path, (n) => n === name);
      const d = w!.dims[1]!;
      return Array.from(w!.data.subarray(id * d, (id + 1) * d));
    };
    const expected: { tokenizer: Record<string, number[]> } = JSON.parse(
      readFileSync(join(dir, 'expected.json'), 'utf8'),
    );
    const cat = expected.tokenizer['a photo of a cat']![5]!; // BOS a photo of a cat
    const file = safetensorsBytes({
      clip_l: { shape: [1, 16], values: await row('text_encoder', cat) },
      clip_g: { shape: [1, 24], values: await row('text_encoder_2', cat) },
    });
    const parts = await load(dir);
    const info = await parts.adapters!.loadTextualInversion(file, { token: '<cat2>' });
    expect(info.tokens).toEqual(['<cat2>']);
    const enc = parts.promptEncoder!;
    const withToken = await enc.encode(['a photo of a <cat2>']);
    const plain = await enc.encode(['a photo of a cat']);
    expect(maxAbsDiff(withToken.encoderHiddenStates, plain.encoderHiddenStates)).toBe(0);
    // text_embeds is read at the highest token id (transformers' argmax for eos_token_id 2 configs, SDXL's
    // too): the added token's id is above EOS, so the pooled embedding moves to it, as in diffusers
    expect(maxAbsDiff(withToken.textEmbeds!, plain.textEmbeds!)).toBeGreaterThan(1e-3);
  });

  it('the refiner (text_encoder_2 only) takes clip_g', async () => {
    const parts = await load(join(MODELS, 'sdxl-refiner-tiny'));
    const file = safetensorsBytes({ clip_l: [2, 16], clip_g: [2, 24] });
    const info = await parts.adapters!.loadTextualInversion(file, { token: '<two>' });
    expect(info.tokens).toEqual(['<two>', '<two>_1']);
    const cond = await parts.promptEncoder!.encode(['a <two> cat']);
    expect(cond.encoderHiddenStates.shape).toEqual([1, 77, 24]);
  });
});

describe('StableDiffusionXLPipeline on the fixtures', () => {
  it('sdxl-tiny txt2img: prompts give what their promptEmbeds give; the same seed gives the same image', async () => {
    const pipe = await StableDiffusionXLPipeline.fromPretrained(join(MODELS, 'sdxl-tiny'), {
      backend: nodeBackend,
    });
    try {
      const common = { width: 64, height: 64, numInferenceSteps: 2, seed: 3, outputType: 'tensor' as const };
      const a = (await pipe.generate({ prompt: 'a photo of a cat', ...common })).images as Tensor;
      const b = (await pipe.generate({ prompt: 'a photo of a cat', ...common })).images as Tensor;
      expect(a.shape).toEqual([1, 3, 64, 64]);
      expect(a.data.every(Number.isFinite)).toBe(true);
      expect(maxAbsDiff(a, b)).toBe(0);
      const enc = pipe.promptEncoder!;
      const embeds = await enc.encode(['a photo of a cat']);
      const c = (
        await pipe.generate({
          promptEmbeds: embeds,
          negativePromptEmbeds: {
            encoderHiddenStates: Tensor.zeros(embeds.encoderHiddenStates.shape),
            textEmbeds: Tensor.zeros(embeds.textEmbeds!.shape),
          },
          ...common,
        })
      ).images as Tensor;
      expect(maxAbsDiff(a, c)).toBeLessThanOrEqual(1e-6);
    } finally {
      await pipe.dispose();
    }
  });

  it('sdxl-turbo-tiny: guidance 0, one step; sdxl-refiner-tiny continues base latents from denoisingStart', async () => {
    const turbo = await StableDiffusionXLPipeline.fromPretrained(join(MODELS, 'sdxl-turbo-tiny'), {
      backend: nodeBackend,
    });
    const base = await StableDiffusionXLPipeline.fromPretrained(join(MODELS, 'sdxl-tiny'), {
      backend: nodeBackend,
    });
    const refiner = await StableDiffusionXLPipeline.fromPretrained(join(MODELS, 'sdxl-refiner-tiny'), {
      backend: nodeBackend,
    });
    try {
      const t = (
        await turbo.generate({
          prompt: 'a photo of a cat',
          guidanceScale: 0,
          numInferenceSteps: 1,
          width: 64,
          height: 64,
          seed: 1,
          outputType: 'tensor',
        })
      ).images as Tensor;
      expect(t.data.every(Number.isFinite)).toBe(true);
      const latents = (
        await base.generate({
          prompt: 'a photo of a cat',
          numInferenceSteps: 4,
          denoisingEnd: 0.5,
          width: 64,
          height: 64,
          seed: 2,
          outputType: 'latent',
        })
      ).images as Tensor;
      expect(latents.shape).toEqual([1, 4, 8, 8]);
      const refined = (
        await refiner.generate({
          prompt: 'a photo of a cat',
          image: latents,
          numInferenceSteps: 4,
          denoisingStart: 0.5,
          seed: 2,
          outputType: 'tensor',
        })
      ).images as Tensor;
      expect(refined.shape).toEqual([1, 3, 64, 64]);
      expect(refined.data.every(Number.isFinite)).toBe(true);
    } finally {
      await Promise.all([turbo.dispose(), base.dispose(), refiner.dispose()]);
    }
  });

  it('the UNet is an UnetDenoiser with SDXL inputs', async () => {
    const parts = await load(join(MODELS, 'sdxl-tiny'));
    expect(parts.denoiser).toBeInstanceOf(UnetDenoiser);
  });
});
