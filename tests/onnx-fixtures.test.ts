import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileModelSource, NodeSessionFactory, nodeBackend } from '@latentkit/backend-node';
import {
  type LoadedPipelineParts,
  ModelInvalidError,
  ModelMismatchError,
  ModelNotFoundError,
  NotImplementedError,
  StableDiffusionPipeline,
  Tensor,
  TorchGenerator,
} from '@latentkit/core';
import { ClipTokenizer, loadOnnxPipeline, type OnnxPipelineOptions } from '@latentkit/onnx';
import { afterAll, describe, expect, it } from 'vitest';

// The tiny random-weight models of tools/fixtures/make_fixture_models.py, in the layouts of real exports.
// Each folder's expected.json holds outputs torch computed from the same weights on the same inputs.
const MODELS = join(import.meta.dirname, 'fixtures', 'models');
const FIXTURES = [
  'sd1',
  'sd1-legacy',
  'sd2-v',
  'sd1-fp16',
  'sd1-external',
  'sd1-inpaint',
  'sd1-latent-params',
];

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
interface Expected {
  tokenizer: Record<string, number[]>;
  text_encoder: { prompt: string; input_ids: number[]; last_hidden_state: Strided; clip_skip_2?: Strided };
  unet: { sample: Wave; encoder_hidden_states: Wave; timestep: number; out_sample: Strided };
  vae_decoder: { latents: Wave; image: Strided };
  vae_encoder: { image: Wave; generator_seed: number; latents: Strided };
}

const expectedOf = (name: string): Expected =>
  JSON.parse(readFileSync(join(MODELS, name, 'expected.json'), 'utf8'));

/** The script's inputs: fround(sin(0.37·i + phase)·scale), row-major. */
function wave({ shape, phase, scale }: Wave): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(0.37 * i + phase) * scale;
  return new Tensor(data, shape);
}

function expectClose(actual: Tensor, expected: Strided, tolerance: number, what: string): void {
  expect(actual.shape, what).toEqual(expected.shape);
  let worst = 0;
  expected.values.forEach((v, j) => {
    worst = Math.max(worst, Math.abs(actual.data[j * expected.stride]! - v));
  });
  expect(worst, `${what}: max |Δ|`).toBeLessThanOrEqual(tolerance);
}

const loaded: LoadedPipelineParts[] = [];
async function load(dir: string, options: OnnxPipelineOptions = {}): Promise<LoadedPipelineParts> {
  const parts = await loadOnnxPipeline(new FileModelSource(dir), new NodeSessionFactory(), options);
  loaded.push(parts);
  return parts;
}
afterAll(async () => {
  for (const p of loaded) await p.dispose?.();
});

describe.each(FIXTURES)('fixture %s: components match torch', (name) => {
  const dir = join(MODELS, name);
  const expected = expectedOf(name);
  const fp16 = name.endsWith('fp16');
  // fp16 outputs are rounded to float16 on both sides: a difference is at most an ulp or two
  const tol = fp16 ? 4e-3 : 1e-4;

  it('tokenizes as the Python CLIP BPE does (pad token from the tokenizer files)', async () => {
    const tokenizer = await ClipTokenizer.fromSource(new FileModelSource(dir));
    for (const [prompt, ids] of Object.entries(expected.tokenizer))
      expect(tokenizer.encode(prompt), prompt).toEqual(ids);
  });

  it('text encoder, UNet, VAE decoder and encoder outputs', async () => {
    const parts = await load(dir);
    const { prompt, last_hidden_state } = expected.text_encoder;
    const cond = await parts.promptEncoder!.encode([prompt]);
    expectClose(cond.encoderHiddenStates, last_hidden_state, tol, 'last_hidden_state');

    const { sample, encoder_hidden_states, timestep, out_sample } = expected.unet;
    const eps = await parts.denoiser.predict({
      sample: wave(sample),
      timestep,
      conditioning: { encoderHiddenStates: wave(encoder_hidden_states) },
    });
    expectClose(eps, out_sample, fp16 ? 1e-2 : 1e-4, 'out_sample');

    const image = await parts.codec.decode(wave(expected.vae_decoder.latents));
    expectClose(image, expected.vae_decoder.image, tol, 'vae_decoder sample');

    const latents = await parts.codec.encode!(wave(expected.vae_encoder.image), {
      generator: new TorchGenerator(expected.vae_encoder.generator_seed),
    });
    expectClose(latents, expected.vae_encoder.latents, fp16 ? 2e-3 : 1e-5, 'vae_encoder latents');
  });
});

describe('sd1 fixture: clip skip and prompt chunks', () => {
  const dir = join(MODELS, 'sd1');
  const expected = expectedOf('sd1');

  it('clipSkip 2 = hidden_states[-2] through the final layer norm (weights read from the ONNX file)', async () => {
    const parts = await load(dir);
    const cond = await parts.promptEncoder!.encode([expected.text_encoder.prompt], { clipSkip: 2 });
    expectClose(cond.encoderHiddenStates, expected.text_encoder.clip_skip_2!, 1e-4, 'clip skip 2');
    await expect(parts.promptEncoder!.encode(['a'], { clipSkip: 5 })).rejects.toThrow(/clipSkip/);
  });

  it('clip skip without hidden_states outputs is a NotImplementedError', async () => {
    const parts = await load(join(MODELS, 'sd1-legacy'));
    await expect(parts.promptEncoder!.encode(['a cat'], { clipSkip: 2 })).rejects.toThrow(
      NotImplementedError,
    );
  });

  it('a long prompt becomes 77-token chunks; a batch is padded to the same number of chunks', async () => {
    const parts = await load(dir);
    const long = Array.from({ length: 40 }, () => 'red cat').join(' '); // 80 tokens
    const cond = await parts.promptEncoder!.encode(['', long]);
    expect(cond.encoderHiddenStates.shape).toEqual([2, 154, 32]);
    // the first chunk of the long prompt is its first 75 tokens encoded on their own
    const first = Array.from({ length: 37 }, () => 'red cat').join(' ') + ' red';
    const single = await parts.promptEncoder!.encode([first]);
    const row = cond.encoderHiddenStates.slice(1, 2).data.subarray(0, 77 * 32);
    let worst = 0;
    row.forEach((v, i) => {
      worst = Math.max(worst, Math.abs(v - single.encoderHiddenStates.data[i]!));
    });
    expect(worst).toBeLessThan(1e-5);
    // the empty prompt's padding chunk is an empty prompt's encoding
    const empty = await parts.promptEncoder!.encode(['']);
    const pad = cond.encoderHiddenStates.slice(0, 1).data.subarray(77 * 32);
    expect(Array.from(pad)).toEqual(Array.from(empty.encoderHiddenStates.data));
  });
});

describe.each(FIXTURES)('fixture %s through StableDiffusionPipeline.fromPretrained', (name) => {
  const dir = join(MODELS, name);
  const inpaint = name === 'sd1-inpaint';
  let pipe: StableDiffusionPipeline | undefined;
  afterAll(async () => {
    await pipe?.dispose();
  });

  const initImage = () =>
    new Tensor(
      wave({ shape: [1, 3, 64, 64], phase: 0.5, scale: 0.5 }).data.map((v) => v + 0.5),
      [1, 3, 64, 64],
    );
  const mask = () => {
    const m = new Float32Array(64 * 64);
    for (let y = 16; y < 48; y++) for (let x = 16; x < 48; x++) m[y * 64 + x] = 1;
    return new Tensor(m, [1, 1, 64, 64]);
  };

  async function run(extra: Record<string, unknown> = {}): Promise<Tensor> {
    pipe ??= await StableDiffusionPipeline.fromPretrained(dir, { backend: nodeBackend });
    const { images } = await pipe.generate({
      prompt: 'a (red:1.2) cat',
      negativePrompt: 'blue',
      numInferenceSteps: 3,
      width: 64,
      height: 64,
      seed: 7,
      outputType: 'tensor',
      ...(inpaint ? { image: initImage(), maskImage: mask() } : {}),
      ...extra,
    });
    return images as Tensor;
  }

  it(
    inpaint ? 'inpaints: shape, finite, deterministic' : 'txt2img: shape, finite, deterministic',
    async () => {
      const a = await run();
      expect(a.shape).toEqual([1, 3, 64, 64]);
      expect(a.data.every(Number.isFinite)).toBe(true);
      expect(Math.min(...a.data)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...a.data)).toBeLessThanOrEqual(1);
      const b = await run();
      expect(Array.from(b.data)).toEqual(Array.from(a.data));
      const c = await run({ seed: 8 });
      expect(Array.from(c.data)).not.toEqual(Array.from(a.data));
    },
  );

  // The inpainting fixture runs the same with its mask: inpainting at strength 0.6.
  it(
    inpaint
      ? 'inpaint at strength 0.6: shape, finite, deterministic'
      : 'img2img: shape, finite, deterministic',
    async () => {
      const a = await run({ image: initImage(), strength: 0.6 });
      expect(a.shape).toEqual([1, 3, 64, 64]);
      expect(a.data.every(Number.isFinite)).toBe(true);
      const b = await run({ image: initImage(), strength: 0.6 });
      expect(Array.from(b.data)).toEqual(Array.from(a.data));
    },
  );
});

describe('load-time errors', () => {
  const temps: string[] = [];
  const copy = (name: string): string => {
    const dir = mkdtempSync(join(tmpdir(), 'latentkit-fixture-'));
    temps.push(dir);
    cpSync(join(MODELS, name), dir, { recursive: true });
    return dir;
  };
  afterAll(() => {
    for (const d of temps) rmSync(d, { recursive: true, force: true });
  });

  it("another model's text encoder (configs disagree) → ModelMismatchError", async () => {
    const dir = copy('sd1');
    cpSync(join(MODELS, 'sd2-v', 'text_encoder'), join(dir, 'text_encoder'), { recursive: true });
    const err = await load(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelMismatchError);
    expect(String(err)).toMatch(/hidden_size = 48.*cross_attention_dim = 32/);
  });

  it('a text encoder whose ONNX disagrees with its config → ModelMismatchError from the session metadata', async () => {
    const dir = copy('sd1');
    cpSync(join(MODELS, 'sd2-v', 'text_encoder', 'model.onnx'), join(dir, 'text_encoder', 'model.onnx'));
    await expect(load(dir)).rejects.toThrow(/last_hidden_state = 48/);
  });

  it("another model's UNet (ONNX input encoder_hidden_states of size 48) → ModelMismatchError", async () => {
    const dir = copy('sd1');
    cpSync(join(MODELS, 'sd2-v', 'unet', 'model.onnx'), join(dir, 'unet', 'model.onnx'));
    await expect(load(dir)).rejects.toThrow(/input encoder_hidden_states = 48/);
  });

  it('a UNet taking neither 4 nor 9 channels, or producing other latents than the VAE → ModelMismatchError', async () => {
    const dir = copy('sd1');
    const path = join(dir, 'unet', 'config.json');
    const config = JSON.parse(readFileSync(path, 'utf8'));
    writeFileSync(path, JSON.stringify({ ...config, in_channels: 5 }));
    await expect(load(dir)).rejects.toThrow(/expected 4 \(text-to-image\) or 9 \(inpainting\)/);
    writeFileSync(path, JSON.stringify({ ...config, out_channels: 8 }));
    await expect(load(dir)).rejects.toThrow(/latent channels of the UNet and the VAE must agree/);
  });

  it('a missing file → ModelNotFoundError naming the file and the folder', async () => {
    const dir = copy('sd1');
    rmSync(join(dir, 'unet', 'model.onnx'));
    const err = await load(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelNotFoundError);
    expect(String(err)).toContain('unet/model.onnx');
    expect(String(err)).toContain(dir);
    await expect(load(join(dir, 'nope'))).rejects.toThrow(ModelNotFoundError);
  });

  it('an SD 1.x folder named SDXL lacks text_encoder_2 → ModelNotFoundError; other pipelines → ModelInvalidError', async () => {
    const dir = copy('sd1');
    const index = JSON.parse(readFileSync(join(dir, 'model_index.json'), 'utf8'));
    writeFileSync(
      join(dir, 'model_index.json'),
      JSON.stringify({ ...index, _class_name: 'ORTStableDiffusionXLPipeline' }),
    );
    await expect(load(dir)).rejects.toThrow(/text_encoder_2\/model\.onnx \(SDXL's second text encoder/);
    writeFileSync(join(dir, 'model_index.json'), JSON.stringify({ ...index, _class_name: 'FluxPipeline' }));
    await expect(load(dir)).rejects.toThrow(ModelInvalidError);
  });

  it('model file paths outside the folder are refused', async () => {
    await expect(
      load(join(MODELS, 'sd1'), { modelFiles: { unet: '../sd2-v/unet/model.onnx' } }),
    ).rejects.toThrow(ModelInvalidError);
    await expect(load(join(MODELS, 'sd1'), { modelFiles: { unet: '/etc/passwd' } })).rejects.toThrow(
      ModelInvalidError,
    );
  });

  it('the scheduler comes from scheduler_config.json, or an override by A1111 name', async () => {
    const v = await load(join(MODELS, 'sd2-v'));
    expect(v.scheduler.constructor.name).toBe('EulerDiscreteScheduler');
    expect(v.scheduler.config['prediction_type']).toBe('v_prediction');
    const swapped = await load(join(MODELS, 'sd1'), {
      scheduler: 'DPM++ 2M Karras',
      components: ['unet', 'vae_decoder'],
    });
    expect(swapped.scheduler.constructor.name).toBe('DPMSolverMultistepScheduler');
    expect(swapped.promptEncoder).toBeUndefined();
  });
});
