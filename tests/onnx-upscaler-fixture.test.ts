import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileModelSource, NodeSessionFactory, nodeBackend } from '@latentkit/backend-node';
import { webBackend } from '@latentkit/backend-web';
import {
  InvalidArgumentError,
  LatentkitError,
  ModelMismatchError,
  type RgbaImage,
  ShapeMismatchError,
  StableDiffusionPipeline,
  StableDiffusionUpscalePipeline,
  Tensor,
} from '@latentkit/core';
import {
  ClipTokenizer,
  loadOnnxPipeline,
  type OnnxPipelineParts,
  readModelIndex,
  UnetDenoiser,
  VaeDecoderCodec,
} from '@latentkit/onnx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type StaticServer,
  startStaticServer,
} from '../packages/backend-web/src/test-support/static-server.js';

// The tiny random-weight x4 upscaler of tools/fixtures/make_upscaler_fixture.py, in latentkit's ONNX layout
// of diffusers' StableDiffusionUpscalePipeline; expected.json holds what torch computed from the same weights.
const DIR = join(import.meta.dirname, 'fixtures', 'models', 'sd-x4-upscaler');

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
  text_encoder: { prompt: string; input_ids: number[]; last_hidden_state: Strided };
  unet: {
    sample: Wave;
    encoder_hidden_states: Wave;
    timestep: number;
    class_labels: number[];
    out_sample: Strided;
    out_sample_class_labels_20_20: Strided;
  };
  vae_decoder: { latents: Wave; scaling_factor: number; image: Strided };
}
const expected: Expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8'));

/** The script's inputs: fround(sin(0.37·i + phase)·scale), row-major. */
function wave({ shape, phase, scale }: Wave): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(0.37 * i + phase) * scale;
  return new Tensor(data, shape);
}

/** max |actual − expected| over the stored (strided) values. */
function maxDiff(actual: Tensor, ref: Strided): number {
  expect(actual.shape).toEqual(ref.shape);
  let worst = 0;
  ref.values.forEach((v, j) => {
    worst = Math.max(worst, Math.abs(actual.data[j * ref.stride]! - v));
  });
  return worst;
}

// The same tolerances as the other fixtures (tests/onnx-fixtures.test.ts): float32 on both sides.
const TOL = 1e-4;

let parts: OnnxPipelineParts | undefined;
async function load(): Promise<OnnxPipelineParts> {
  parts ??= await loadOnnxPipeline(new FileModelSource(DIR), new NodeSessionFactory());
  return parts;
}
afterAll(async () => {
  await parts?.dispose();
});

describe('x4 upscaler fixture: each graph in onnxruntime-node matches torch', () => {
  it('tokenizer (pads with "!", as SD 2.x)', async () => {
    const tokenizer = await ClipTokenizer.fromSource(new FileModelSource(DIR));
    for (const [prompt, ids] of Object.entries(expected.tokenizer))
      expect(tokenizer.encode(prompt), prompt).toEqual(ids);
  });

  it('text encoder last_hidden_state', async () => {
    const { promptEncoder } = await load();
    const cond = await promptEncoder!.encode([expected.text_encoder.prompt]);
    expect(maxDiff(cond.encoderHiddenStates, expected.text_encoder.last_hidden_state)).toBeLessThanOrEqual(
      TOL,
    );
  });

  it('UNet: 7-channel sample, float timestep [B], int64 class_labels [B] (one noise level per row)', async () => {
    const { denoiser } = await load();
    const { sample, encoder_hidden_states, timestep, class_labels } = expected.unet;
    const input = {
      sample: wave(sample),
      timestep,
      conditioning: { encoderHiddenStates: wave(encoder_hidden_states) },
    };
    const out = await denoiser.predict({
      ...input,
      classLabels: new Tensor(Float32Array.from(class_labels), [class_labels.length]),
    });
    expect(out.shape).toEqual([2, 4, 8, 8]);
    expect(maxDiff(out, expected.unet.out_sample)).toBeLessThanOrEqual(TOL);
    // other labels give torch's other output: the labels reach the class embedding, row by row
    const same = await denoiser.predict({
      ...input,
      classLabels: new Tensor(new Float32Array([20, 20]), [2]),
    });
    expect(maxDiff(same, expected.unet.out_sample_class_labels_20_20)).toBeLessThanOrEqual(TOL);
    expect(maxDiff(same, expected.unet.out_sample)).toBeGreaterThan(1e-3);
  });

  it('VAE decoder: latents [1,4,8,8] / 0.08333 → image [1,3,32,32] (×4)', async () => {
    const { codec } = await load();
    const image = await codec.decode(wave(expected.vae_decoder.latents));
    expect(image.shape).toEqual([1, 3, 32, 32]);
    expect(maxDiff(image, expected.vae_decoder.image)).toBeLessThanOrEqual(TOL);
  });
});

describe('x4 upscaler fixture: loadOnnxPipeline recognises the folder', () => {
  it('low-res scheduler, max noise level, 7-channel denoiser with class labels, decode-only ×4 codec', async () => {
    const p = await load();
    expect(p.scheduler.constructor.name).toBe('DDIMScheduler');
    expect(p.scheduler.config['prediction_type']).toBe('v_prediction');
    expect(p.lowResScheduler?.constructor.name).toBe('DDPMScheduler');
    expect(p.lowResScheduler?.config).toMatchObject({
      beta_schedule: 'scaled_linear',
      beta_start: 0.0001,
      beta_end: 0.02,
      clip_sample: true,
      variance_type: 'fixed_small',
    });
    expect(p.maxNoiseLevel).toBe(350);
    expect(p.denoiser).toBeInstanceOf(UnetDenoiser);
    const unet = p.denoiser as UnetDenoiser;
    expect(unet.inChannels).toBe(7);
    expect(unet.takesClassLabels).toBe(true);
    expect(unet.numClassEmbeds).toBe(1000);
    expect(unet.sizeMultiple).toBe(2);
    expect(p.codec).toBeInstanceOf(VaeDecoderCodec);
    expect(p.codec.downscale).toBe(4);
    expect(p.codec.latentChannels).toBe(4);
    expect((p.codec as VaeDecoderCodec).scalingFactor).toBe(0.08333);
    expect(p.codec.encode).toBeUndefined();
  });

  it('the UNet refuses a call without class labels, and labels outside its class embedding', async () => {
    const { denoiser } = await load();
    const base = {
      sample: wave(expected.unet.sample),
      timestep: 500,
      conditioning: { encoderHiddenStates: wave(expected.unet.encoder_hidden_states) },
    };
    const err = await denoiser.predict(base).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(String(err)).toMatch(/classLabels.*takes "class_labels"/);
    await expect(
      denoiser.predict({ ...base, classLabels: new Tensor(new Float32Array([20, 1000]), [2]) }),
    ).rejects.toThrow(/num_class_embeds = 1000/);
    await expect(
      denoiser.predict({ ...base, classLabels: new Tensor(new Float32Array([20]), [1]) }),
    ).rejects.toThrow(ShapeMismatchError);
  });
});

describe("diffusers' OnnxStableDiffusionUpscalePipeline layout (decoder in vae/model.onnx)", () => {
  it('loads with the same decoder output', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latentkit-upscaler-'));
    try {
      cpSync(DIR, dir, { recursive: true });
      renameSync(join(dir, 'vae_decoder'), join(dir, 'vae'));
      const index = JSON.parse(readFileSync(join(dir, 'model_index.json'), 'utf8'));
      delete index.vae_decoder;
      index._class_name = 'OnnxStableDiffusionUpscalePipeline';
      index.vae = ['diffusers', 'OnnxRuntimeModel'];
      writeFileSync(join(dir, 'model_index.json'), JSON.stringify(index));
      const source = new FileModelSource(dir);
      expect((await readModelIndex(source)).kind).toBe('upscale');
      const p = await loadOnnxPipeline(source, new NodeSessionFactory());
      try {
        expect(p.codec.downscale).toBe(4);
        expect(p.maxNoiseLevel).toBe(350);
        const image = await p.codec.decode(wave(expected.vae_decoder.latents));
        expect(maxDiff(image, expected.vae_decoder.image)).toBeLessThanOrEqual(TOL);
      } finally {
        await p.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a text-to-image folder is kind "text-to-image" and has no low-res scheduler', async () => {
    const sd1 = join(import.meta.dirname, 'fixtures', 'models', 'sd1');
    expect((await readModelIndex(new FileModelSource(sd1))).kind).toBe('text-to-image');
    const p = await loadOnnxPipeline(new FileModelSource(sd1), new NodeSessionFactory(), {
      components: ['unet', 'vae_decoder'],
    });
    try {
      expect(p.lowResScheduler).toBeUndefined();
      expect(p.maxNoiseLevel).toBeUndefined();
      expect((p.denoiser as UnetDenoiser).takesClassLabels).toBe(false);
    } finally {
      await p.dispose();
    }
  });
});

describe('the fixture end to end through StableDiffusionUpscalePipeline', () => {
  // A 16×16 low-res image in [0, 1] (a smooth pattern) → 64×64.
  const lowRes = (): Tensor => {
    const data = new Float32Array(3 * 16 * 16);
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 16; y++)
        for (let x = 0; x < 16; x++)
          data[(c * 16 + y) * 16 + x] = (Math.sin(x / 3 + c) + Math.cos(y / 2 + 0.5 * c) + 2) / 4;
    return new Tensor(data, [1, 3, 16, 16]);
  };
  const settings = {
    prompt: 'a red house',
    negativePrompt: 'blue',
    noiseLevel: 20,
    numInferenceSteps: 4,
    guidanceScale: 9,
    seed: 7,
  };
  const pipes: StableDiffusionUpscalePipeline[] = [];
  afterAll(async () => {
    for (const p of pipes) await p.dispose();
  });
  const nodePipe = async () => {
    const pipe = await StableDiffusionUpscalePipeline.fromPretrained(DIR, { backend: nodeBackend });
    pipes.push(pipe);
    return pipe;
  };

  it('nodeBackend: [1,3,16,16] → a finite [1,3,64,64] image in [0, 1], deterministic, seed-dependent', async () => {
    const pipe = await nodePipe();
    expect(pipe.maxNoiseLevel).toBe(350);
    expect(pipe.lowResScheduler.constructor.name).toBe('DDPMScheduler');
    const run = async (extra: Record<string, unknown> = {}) =>
      (await pipe.generate({ ...settings, image: lowRes(), outputType: 'tensor', ...extra })).images;
    const a = await run();
    expect(a.shape).toEqual([1, 3, 64, 64]);
    expect(a.data.every(Number.isFinite)).toBe(true);
    expect(Math.min(...a.data)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a.data)).toBeLessThanOrEqual(1);
    expect(Array.from((await run()).data)).toEqual(Array.from(a.data));
    expect(Array.from((await run({ seed: 8 })).data)).not.toEqual(Array.from(a.data));
    // the noise level reaches the UNet (as class label and through the low-res noise)
    expect(Array.from((await run({ noiseLevel: 300 })).data)).not.toEqual(Array.from(a.data));
    // latents keep the low-res size
    const latents = (await pipe.generate({ ...settings, image: lowRes(), outputType: 'latent' })).images;
    expect(latents.shape).toEqual([1, 4, 16, 16]);
  });

  it('numImagesPerPrompt 2 and an RgbaImage input; noiseLevel above max_noise_level is refused', async () => {
    const pipe = await nodePipe();
    const t = lowRes();
    const rgba: RgbaImage = { width: 16, height: 16, data: new Uint8ClampedArray(16 * 16 * 4) };
    for (let i = 0; i < 256; i++) {
      for (let c = 0; c < 3; c++) rgba.data[i * 4 + c] = Math.round(t.data[c * 256 + i]! * 255);
      rgba.data[i * 4 + 3] = 255;
    }
    const { images, parameters } = await pipe.generate({ ...settings, image: rgba, numImagesPerPrompt: 2 });
    expect(images.map((im) => [im.width, im.height])).toEqual([
      [64, 64],
      [64, 64],
    ]);
    expect(parameters.mode).toBe('upscale');
    await expect(pipe.generate({ ...settings, image: t, noiseLevel: 351 })).rejects.toThrow(/noiseLevel/);
  });

  it('a text-to-image folder is not an upscaler (ModelMismatchError), nor the upscaler a text-to-image model', async () => {
    const sd1 = join(import.meta.dirname, 'fixtures', 'models', 'sd1');
    await expect(
      StableDiffusionUpscalePipeline.fromPretrained(sd1, { backend: nodeBackend }),
    ).rejects.toThrow(ModelMismatchError);
    const err = await StableDiffusionPipeline.fromPretrained(DIR, { backend: nodeBackend })
      .then(async (p) => {
        try {
          return await p.generate({ prompt: 'a cat', numInferenceSteps: 2, width: 32, height: 32 });
        } finally {
          await p.dispose();
        }
      })
      .catch((e: unknown) => e);
    // a typed error (the 7-channel UNet does not fit text-to-image), not a crash inside onnxruntime
    expect(err).toBeInstanceOf(LatentkitError);
  });

  describe('webBackend (onnxruntime-web, wasm, in Node)', () => {
    let server: StaticServer;
    beforeAll(async () => {
      server = await startStaticServer({ '/models/': join(import.meta.dirname, 'fixtures', 'models') });
    });
    afterAll(() => server.close());

    it('the same image as onnxruntime-node (max difference ≤ 2/255)', async () => {
      const web = await StableDiffusionUpscalePipeline.fromPretrained(
        `${server.origin}/models/sd-x4-upscaler/`,
        {
          backend: webBackend,
          providers: ['wasm'],
          numThreads: 1,
        },
      );
      pipes.push(web);
      const node = await nodePipe();
      const [a] = (await web.generate({ ...settings, image: lowRes() })).images;
      const [b] = (await node.generate({ ...settings, image: lowRes() })).images;
      expect([a!.width, a!.height]).toEqual([64, 64]);
      let max = 0;
      for (let i = 0; i < a!.data.length; i++) max = Math.max(max, Math.abs(a!.data[i]! - b!.data[i]!));
      expect(max).toBeLessThanOrEqual(2);
      // no vae_encoder was requested
      const got = server.requests.filter((r) => r.method === 'GET').map((r) => r.path);
      expect(got).toContain('/models/sd-x4-upscaler/low_res_scheduler/scheduler_config.json');
      expect(got.some((p) => p.includes('vae_encoder/model.onnx'))).toBe(false);
    });
  });
});
