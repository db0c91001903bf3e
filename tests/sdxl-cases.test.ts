/**
 * StableDiffusionXLPipeline against diffusers 0.35.2's own `StableDiffusionXLPipeline`,
 * `StableDiffusionXLImg2ImgPipeline` and `StableDiffusionXLInpaintPipeline` (tests/fixtures/reference/
 * sdxl-cases.json, described in sdxl-cases.md of the project's shared reference data), run with the fake
 * micro-conditioned UNet and the fake VAE of that description (packages/core/src/pipeline/sdxl-test-fakes.ts),
 * so the numbers test the pipeline — time ids (quirks included), pooled embeddings, CFG batching, the
 * refiner hand-off, inpainting channels, generator order, scheduler steps, decode — not model weights.
 * Tolerances (from the case file): final latents max |Δ| / max(1, max |ref|) ≤ 1e-4, images max |Δ| ≤ 1e-4;
 * every UNet call, step and VAE call on the way is compared too.
 */
import { readFileSync } from 'node:fs';
import { type Generator, StableDiffusionXLPipeline, type Tensor, TorchGenerator } from '@latentkit/core';
import {
  EulerAncestralDiscreteScheduler,
  EulerDiscreteScheduler,
  HeunDiscreteScheduler,
} from '@latentkit/schedulers';
import { describe, expect, it } from 'vitest';
import { FakeSdxlUnet, FakeSdxlVae } from '../packages/core/src/pipeline/sdxl-test-fakes.js';
import { type JsonTensor, maxAbsDiff, nhwcToNchw, tensor } from './support/reference-cases.js';

interface SdxlCase {
  pipeline: string;
  scheduler: string;
  scheduler_config: Record<string, unknown>;
  unet_in_channels: number;
  unet_num_time_ids: number;
  requires_aesthetics_score: boolean;
  force_zeros_for_empty_prompt: boolean;
  call: Record<string, unknown> & {
    prompt_embeds: string[];
    pooled_prompt_embeds: string[];
    negative_prompt_embeds: string[] | null;
    negative_pooled_prompt_embeds: string[] | null;
    num_inference_steps: number;
    guidance_scale: number;
    num_images_per_prompt: number;
    generator: { type: string; seed: number };
  };
  handoff_latents?: JsonTensor;
  time_ids: JsonTensor;
  text_embeds_row_means: number[];
  timesteps_used: number[];
  unet_calls: {
    t: number;
    sample_shape: number[];
    sample_sum: number;
    terms: Record<'m' | 'p' | 'q' | 'k', JsonTensor | undefined>;
    out_sum: number;
    sample_full?: JsonTensor;
    out_full?: JsonTensor;
  }[];
  vae_encode_calls: { input_shape: number[]; input_sum: number; mean: JsonTensor }[];
  randn_draws: { shape: number[]; generator: string }[];
  generator_words_consumed: Record<string, number>;
  latents_after_each_step: { i: number; t: number; sum: number; first: number; full?: JsonTensor }[];
  final_latents: JsonTensor;
  vae_decode_input: JsonTensor;
  output_images: JsonTensor;
}

const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/reference/sdxl-cases.json', import.meta.url), 'utf8'),
) as {
  meta: { seed: number; scheduler_base_configs: Record<'sdxl_base' | 'sdxl_turbo', Record<string, unknown>> };
  inputs: Record<string, JsonTensor>;
  cases: Record<string, SdxlCase>;
};

const sum = (a: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
};
const maxAbs = (a: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
};
/** |a − b| ≤ 1e-4 · max(1, |b|): sums of float32 values, summed in another order. */
function expectClose(actual: number, expected: number, what: string) {
  expect(Math.abs(actual - expected), what).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(expected)));
}

/** Records every randn/rand draw (shape, in order) of the generator it wraps. */
class RecordingGenerator implements Generator {
  readonly draws: number[][] = [];
  constructor(readonly inner: TorchGenerator) {}
  randn(shape: readonly number[]): Tensor {
    this.draws.push([...shape]);
    return this.inner.randn(shape);
  }
  rand(shape: readonly number[]): Tensor {
    this.draws.push([...shape]);
    return this.inner.rand(shape);
  }
}

const cat = (names: string[]) => {
  const ts = names.map((n) => tensor(fixture.inputs[n]!));
  return ts.length === 1 ? ts[0]! : catRows(ts);
};
function catRows(ts: Tensor[]): Tensor {
  const data = new Float32Array(ts.reduce((n, t) => n + t.size, 0));
  let o = 0;
  for (const t of ts) {
    data.set(t.data, o);
    o += t.size;
  }
  return tensor({ shape: [ts.length * ts[0]!.shape[0]!, ...ts[0]!.shape.slice(1)], data: [...data] });
}

const camel: Record<string, string> = {
  height: 'height',
  width: 'width',
  num_inference_steps: 'numInferenceSteps',
  guidance_scale: 'guidanceScale',
  guidance_rescale: 'guidanceRescale',
  num_images_per_prompt: 'numImagesPerPrompt',
  original_size: 'originalSize',
  crops_coords_top_left: 'cropsCoordsTopLeft',
  target_size: 'targetSize',
  negative_original_size: 'negativeOriginalSize',
  negative_crops_coords_top_left: 'negativeCropsCoordsTopLeft',
  negative_target_size: 'negativeTargetSize',
  aesthetic_score: 'aestheticScore',
  negative_aesthetic_score: 'negativeAestheticScore',
  denoising_end: 'denoisingEnd',
  denoising_start: 'denoisingStart',
  strength: 'strength',
};
const HANDLED = new Set([
  ...Object.keys(camel),
  'prompt_embeds',
  'pooled_prompt_embeds',
  'negative_prompt_embeds',
  'negative_pooled_prompt_embeds',
  'generator',
  'output_type',
  'image',
  'mask_image',
]);

async function run(c: SdxlCase, outputType: 'latent' | 'tensor') {
  const unet = new FakeSdxlUnet(c.unet_in_channels, { timeIdCount: c.unet_num_time_ids });
  const vae = new FakeSdxlVae();
  const pipe = new StableDiffusionXLPipeline(
    { denoiser: unet, codec: vae, scheduler: EulerDiscreteScheduler.fromConfig(c.scheduler_config) },
    {
      requiresAestheticsScore: c.requires_aesthetics_score,
      forceZerosForEmptyPrompt: c.force_zeros_for_empty_prompt,
    },
  );
  const call = c.call;
  for (const key of Object.keys(call)) expect(HANDLED.has(key), `call key ${key} is replayed`).toBe(true);
  expect(call.generator.type).toBe('single');
  const generator = new RecordingGenerator(new TorchGenerator(call.generator.seed));
  const options: Record<string, unknown> = {
    promptEmbeds: {
      encoderHiddenStates: cat(call.prompt_embeds),
      textEmbeds: cat(call.pooled_prompt_embeds),
    },
    generator,
    outputType,
  };
  if (call.negative_prompt_embeds) {
    options.negativePromptEmbeds = {
      encoderHiddenStates: cat(call.negative_prompt_embeds),
      textEmbeds: cat(call.negative_pooled_prompt_embeds!),
    };
  }
  for (const [key, name] of Object.entries(camel)) if (key in call) options[name] = call[key];
  if (call.image === 'handoff_latents') options.image = tensor(c.handoff_latents!);
  else if (call.image !== undefined) options.image = tensor(fixture.inputs[call.image as string]!);
  if (call.mask_image !== undefined) options.maskImage = tensor(fixture.inputs[call.mask_image as string]!);
  const steps: { step: number; timestep: number; latents: Tensor }[] = [];
  options.onStep = (info: { step: number; timestep: number; latents: Tensor }) => {
    steps.push(info);
  };
  const result = await pipe.generate(options as Parameters<typeof pipe.generate>[0]);
  return { result, unet, vae, generator, steps };
}

describe('diffusers SDXL cases (fake micro-conditioned UNet, fake VAE)', () => {
  const names = Object.keys(fixture.cases);

  it('has the cases of the reference file', () => {
    expect(names.sort()).toEqual([
      'img2img/EulerRefiner/denoising_start0.8_aesthetic',
      'inpaint/Euler/unet9_strength1.0',
      'txt2img/Euler/cfg5.0_micro_cond_negative_micro_cond',
    ]);
  });

  for (const name of names) {
    const c = fixture.cases[name]!;
    describe(name, () => {
      it('gives diffusers` UNet inputs, terms and outputs on every call, and its time ids', async () => {
        const { unet } = await run(c, 'latent');
        expect(unet.calls.map((k) => k.timestep)).toEqual(c.timesteps_used);
        expect(unet.calls).toHaveLength(c.unet_calls.length);
        const first = unet.calls[0]!;
        expect(first.conditioning.timeIds!.shape).toEqual(c.time_ids.shape);
        expect([...first.conditioning.timeIds!.data]).toEqual(c.time_ids.data);
        const te = first.conditioning.textEmbeds!;
        const P = te.shape[1]!;
        c.text_embeds_row_means.forEach((mean, b) => {
          expectClose(sum(te.data.subarray(b * P, (b + 1) * P)) / P, mean, `text embeds row ${b} mean`);
        });
        for (let i = 0; i < c.unet_calls.length; i++) {
          const ref = c.unet_calls[i]!;
          const got = unet.calls[i]!;
          expect(got.timestep).toBe(ref.t);
          expect(got.sample.shape).toEqual(ref.sample_shape);
          expectClose(sum(got.sample.data), ref.sample_sum, `call ${i} sample sum`);
          for (const key of ['m', 'p', 'q', 'k'] as const) {
            const want = ref.terms[key];
            const have = unet.terms[i]![key];
            expect(have === undefined, `call ${i} term ${key} presence`).toBe(want === undefined);
            if (want && have)
              expect(maxAbsDiff(have, want.data), `call ${i} term ${key}`).toBeLessThanOrEqual(1e-7);
          }
          if (ref.sample_full) {
            const d = maxAbsDiff(got.sample.data, ref.sample_full.data);
            expect(d / Math.max(1, maxAbs(ref.sample_full.data)), `call ${i} sample`).toBeLessThanOrEqual(
              1e-4,
            );
          }
        }
        // Every call's conditioning: the same rows each time (time ids never change within a call).
        for (const k of unet.calls) expect([...k.conditioning.timeIds!.data]).toEqual(c.time_ids.data);
      });

      it('draws from the generator in diffusers` order and encodes what diffusers encodes', async () => {
        const { vae, generator } = await run(c, 'latent');
        expect(generator.draws).toEqual(c.randn_draws.map((d) => d.shape));
        // The generator is left where diffusers left it: `generator_words_consumed` 32-bit words on.
        const words = c.generator_words_consumed.g0 ?? 0;
        const probe = new TorchGenerator(c.call.generator.seed);
        if (words > 0) probe.rand([words]);
        expect([...generator.inner.rand([8]).data]).toEqual([...probe.rand([8]).data]);
        expect(vae.encodeCalls).toHaveLength(c.vae_encode_calls.length);
        c.vae_encode_calls.forEach((ref, i) => {
          const got = vae.encodeCalls[i]!;
          expect(got.input.shape).toEqual(ref.input_shape);
          expectClose(sum(got.input.data), ref.input_sum, `encode ${i} input sum`);
          expect(maxAbsDiff(got.mean.data, ref.mean.data), `encode ${i} mean`).toBeLessThanOrEqual(1e-6);
        });
      });

      it('gives diffusers` latents after every step and at the end (≤ 1e-4)', async () => {
        const { result, steps } = await run(c, 'latent');
        expect(steps).toHaveLength(c.latents_after_each_step.length);
        c.latents_after_each_step.forEach((ref, i) => {
          const got = steps[i]!;
          expect(got.step).toBe(ref.i);
          expect(got.timestep).toBe(ref.t);
          expectClose(sum(got.latents.data), ref.sum, `step ${i} latents sum`);
          expect(Math.abs(got.latents.data[0]! - ref.first), `step ${i} first`).toBeLessThanOrEqual(1e-4);
          if (ref.full) {
            const d = maxAbsDiff(got.latents.data, ref.full.data);
            expect(d / Math.max(1, maxAbs(ref.full.data))).toBeLessThanOrEqual(1e-4);
          }
        });
        const latents = result.images as Tensor;
        expect(latents.shape).toEqual(c.final_latents.shape);
        const d = maxAbsDiff(latents.data, c.final_latents.data);
        expect(d / Math.max(1, maxAbs(c.final_latents.data))).toBeLessThanOrEqual(1e-4);
      });

      it('decodes to diffusers` images (≤ 1e-4)', async () => {
        const { result, vae } = await run(c, 'tensor');
        expect(vae.decodeCalls).toHaveLength(1);
        const decodeInput = vae.decodeCalls[0]!.div(0.13025);
        expect(
          maxAbsDiff(decodeInput.data, c.vae_decode_input.data) /
            Math.max(1, maxAbs(c.vae_decode_input.data)),
        ).toBeLessThanOrEqual(1e-4);
        const images = result.images as Tensor;
        const [n, h, w, ch] = c.output_images.shape as [number, number, number, number];
        expect(images.shape).toEqual([n, ch, h, w]);
        expect(maxAbsDiff(images.data, nhwcToNchw(c.output_images))).toBeLessThanOrEqual(1e-4);
      });
    });
  }
});

/** The SDXL parts of the reference cases with a real scheduler, for the checks beyond the case file. */
function sdxlPipe(
  scheduler: 'sdxl_base' | 'sdxl_turbo' | 'heun',
  options: { refiner?: boolean; inChannels?: number } = {},
) {
  const unet = new FakeSdxlUnet(options.inChannels ?? 4, { timeIdCount: options.refiner ? 5 : 6 });
  const vae = new FakeSdxlVae();
  const config = fixture.meta.scheduler_base_configs[scheduler === 'heun' ? 'sdxl_base' : scheduler];
  const s =
    scheduler === 'sdxl_turbo'
      ? EulerAncestralDiscreteScheduler.fromConfig(config)
      : scheduler === 'heun'
        ? HeunDiscreteScheduler.fromConfig(config)
        : EulerDiscreteScheduler.fromConfig(config);
  const pipe = new StableDiffusionXLPipeline(
    { denoiser: unet, codec: vae, scheduler: s },
    { requiresAestheticsScore: options.refiner ?? false },
  );
  return { pipe, unet, vae };
}
const embeds = () => ({
  promptEmbeds: {
    encoderHiddenStates: tensor(fixture.inputs.prompt_embeds_b0!),
    textEmbeds: tensor(fixture.inputs.pooled_prompt_embeds_b0!),
  },
  negativePromptEmbeds: {
    encoderHiddenStates: tensor(fixture.inputs.negative_prompt_embeds!),
    textEmbeds: tensor(fixture.inputs.negative_pooled_prompt_embeds!),
  },
});
const rows = (t: Tensor) => {
  const k = t.shape[1]!;
  return Array.from({ length: t.shape[0]! }, (_, b) => [...t.data.subarray(b * k, (b + 1) * k)]);
};

describe('StableDiffusionXLPipeline beyond the reference cases (real schedulers, the fakes of the cases)', () => {
  it('the refiner case`s hand-off latents are the base run diffusers made them with (txt2img, denoisingEnd 0.8)', async () => {
    const refinerCase = fixture.cases['img2img/EulerRefiner/denoising_start0.8_aesthetic']!;
    const { pipe, unet } = sdxlPipe('sdxl_base');
    const { images } = await pipe.generate({
      ...embeds(),
      width: 64,
      height: 64,
      numInferenceSteps: 10,
      guidanceScale: 5,
      denoisingEnd: 0.8,
      generator: new TorchGenerator(fixture.meta.seed),
      outputType: 'latent',
    });
    // cutoff = round(1000 − 800) = 200: the 8 timesteps ≥ 200 of 901, 801, …, 1.
    expect(unet.calls.map((c) => c.timestep)).toEqual([901, 801, 701, 601, 501, 401, 301, 201]);
    const ref = refinerCase.handoff_latents!;
    expect(images.shape).toEqual(ref.shape);
    expect(maxAbsDiff(images.data, ref.data) / Math.max(1, maxAbs(ref.data))).toBeLessThanOrEqual(1e-4);
  });

  it('txt2img tiles the [neg, pos] time-id pair over the batch (diffusers` quirk): 2 images per prompt', async () => {
    const { pipe, unet } = sdxlPipe('sdxl_base');
    const { parameters } = await pipe.generate({
      ...embeds(),
      width: 64,
      height: 96,
      numInferenceSteps: 2,
      numImagesPerPrompt: 2,
      originalSize: [512, 768],
      negativeOriginalSize: [256, 384],
      negativeTargetSize: [64, 96],
      seed: 7,
      outputType: 'latent',
    });
    const pos = [512, 768, 0, 0, 96, 64];
    const neg = [256, 384, 0, 0, 64, 96];
    // The batch is [uncond0, uncond1, cond0, cond1]; the rows are neg, pos, neg, pos.
    expect(rows(unet.calls[0]!.conditioning.timeIds!)).toEqual([neg, pos, neg, pos]);
    expect(parameters.sdxl?.timeIds).toEqual({ positive: pos, negative: neg });
    // Hidden states and pooled rows are [neg, neg, pos, pos] (repeat per image, then CFG concatenation).
    const te = unet.calls[0]!.conditioning.textEmbeds!;
    const negPooled = tensor(fixture.inputs.negative_pooled_prompt_embeds!).data;
    const posPooled = tensor(fixture.inputs.pooled_prompt_embeds_b0!).data;
    expect(rows(te)).toEqual([[...negPooled], [...negPooled], [...posPooled], [...posPooled]]);
  });

  it('img2img lines the negative time ids up with the uncond half and uses the positive crops (diffusers` quirk)', async () => {
    const { pipe, unet } = sdxlPipe('sdxl_base');
    await pipe.generate({
      ...embeds(),
      image: tensor(fixture.inputs.init_image!),
      numInferenceSteps: 4,
      strength: 0.5,
      numImagesPerPrompt: 2,
      cropsCoordsTopLeft: [8, 16],
      negativeCropsCoordsTopLeft: [99, 99],
      negativeTargetSize: [32, 32],
      seed: 3,
      outputType: 'latent',
    });
    const pos = [64, 64, 8, 16, 64, 64];
    const neg = [64, 64, 8, 16, 32, 32];
    expect(rows(unet.calls[0]!.conditioning.timeIds!)).toEqual([neg, neg, pos, pos]);
    expect(unet.calls).toHaveLength(2);
  });

  it('a base run to denoisingEnd and a refiner-style run from denoisingStart split one full run: same timesteps, same latents', async () => {
    for (const [steps, end] of [
      [10, 0.8],
      [7, 0.5],
      [20, 0.65],
    ] as const) {
      const full = sdxlPipe('sdxl_base');
      const whole = await full.pipe.generate({
        ...embeds(),
        width: 64,
        height: 64,
        numInferenceSteps: steps,
        seed: 11,
        outputType: 'latent',
      });
      const base = sdxlPipe('sdxl_base');
      const first = await base.pipe.generate({
        ...embeds(),
        width: 64,
        height: 64,
        numInferenceSteps: steps,
        seed: 11,
        denoisingEnd: end,
        outputType: 'latent',
      });
      const second = sdxlPipe('sdxl_base');
      const rest = await second.pipe.generate({
        ...embeds(),
        image: first.images,
        numInferenceSteps: steps,
        seed: 999,
        denoisingStart: end,
        outputType: 'latent',
      });
      const split = [...base.unet.calls, ...second.unet.calls].map((c) => c.timestep);
      expect(split, `${steps} steps at ${end}`).toEqual(full.unet.calls.map((c) => c.timestep));
      expect(base.unet.calls.length).toBeGreaterThan(0);
      expect(second.unet.calls.length).toBeGreaterThan(0);
      // Euler is deterministic and the conditioning (time ids included) is the same in both modes.
      expect(maxAbsDiff(rest.images.data, whole.images.data), `${steps} steps at ${end}`).toBeLessThanOrEqual(
        1e-6,
      );
    }
  });

  it('denoisingStart with a second-order scheduler (Heun) does not cut a step in half (n even → n + 1)', async () => {
    const { pipe, unet } = sdxlPipe('heun');
    await pipe.generate({
      ...embeds(),
      image: tensor(fixture.inputs.init_image!),
      numInferenceSteps: 5,
      denoisingStart: 0.6,
      seed: 1,
      outputType: 'latent',
    });
    // Heun's 5 steps are 9 timesteps t0, t1, t1, …, t4, t4; those below 400 are an even count, so one more runs.
    const ts = unet.calls.map((c) => c.timestep);
    expect(ts.length % 2).toBe(1);
    expect(ts.filter((t) => t >= 400)).toHaveLength(1);
  });

  it('SDXL-Turbo settings: guidance 0 (no CFG batch), Euler ancestral with trailing spacing, 1 and 4 steps', async () => {
    for (const [steps, expected] of [
      [1, [999]],
      [4, [999, 749, 499, 249]],
    ] as const) {
      const { pipe, unet } = sdxlPipe('sdxl_turbo');
      const generator = new RecordingGenerator(new TorchGenerator(5));
      const { images, parameters } = await pipe.generate({
        promptEmbeds: embeds().promptEmbeds,
        width: 64,
        height: 64,
        guidanceScale: 0,
        numInferenceSteps: steps,
        generator,
        outputType: 'tensor',
      });
      expect(unet.calls.map((c) => c.timestep)).toEqual(expected);
      for (const call of unet.calls) {
        expect(call.sample.shape[0]).toBe(1);
        expect(call.conditioning.encoderHiddenStates.shape[0]).toBe(1);
        expect(rows(call.conditioning.timeIds!)).toEqual([[64, 64, 0, 0, 64, 64]]);
      }
      // The initial noise, then one ancestral draw per step.
      expect(generator.draws).toEqual(Array.from({ length: steps + 1 }, () => [1, 4, 8, 8]));
      expect(images.shape).toEqual([1, 3, 64, 64]);
      expect(parameters.guidanceScale).toBe(0);
    }
  });

  it('a generator list gives image i what generator i gives alone; a 1-element list is one generator', async () => {
    const run1 = async (generator: Generator | Generator[], n: number) => {
      const { pipe } = sdxlPipe('sdxl_turbo');
      return (
        await pipe.generate({
          ...embeds(),
          width: 64,
          height: 64,
          guidanceScale: 2,
          numInferenceSteps: 3,
          numImagesPerPrompt: n,
          generator,
          outputType: 'latent',
        })
      ).images;
    };
    const both = await run1([new TorchGenerator(1), new TorchGenerator(2)], 2);
    const alone1 = await run1(new TorchGenerator(1), 1);
    const alone2 = await run1(new TorchGenerator(2), 1);
    expect([...both.slice(0, 1).data]).toEqual([...alone1.data]);
    expect([...both.slice(1, 2).data]).toEqual([...alone2.data]);
    expect([...(await run1([new TorchGenerator(1)], 1)).data]).toEqual([...alone1.data]);
  });

  it('two calls at once on one pipeline give what each gives alone (Euler ancestral, different steps)', async () => {
    const { pipe } = sdxlPipe('sdxl_turbo');
    const call = (seed: number, steps: number) =>
      pipe.generate({
        ...embeds(),
        width: 64,
        height: 64,
        numInferenceSteps: steps,
        seed,
        outputType: 'latent',
      });
    const alone = [await call(1, 4), await call(2, 3)];
    const together = await Promise.all([call(1, 4), call(2, 3)]);
    expect([...together[0]!.images.data]).toEqual([...alone[0]!.images.data]);
    expect([...together[1]!.images.data]).toEqual([...alone[1]!.images.data]);
  });
});
