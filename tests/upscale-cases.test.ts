/**
 * StableDiffusionUpscalePipeline against diffusers 0.35.2's own `StableDiffusionUpscalePipeline`
 * (tests/fixtures/reference/upscale-cases.json, described in upscale-cases.md of the project's shared
 * reference data), run with a fake 7-channel UNet and a fake x4 VAE decoder rebuilt here, so that the
 * numbers test the pipeline's arithmetic (low-res normalization and noising, generator order, image
 * batch repetition, class labels, CFG, scheduler steps, decode), not model weights.
 * Tolerances (from the case file): final latents max |Δ| / max(1, max |ref|) ≤ 1e-4, images max |Δ| ≤ 1e-4.
 */
import { readFileSync } from 'node:fs';
import {
  type Denoiser,
  type DenoiserInput,
  type LatentCodec,
  type Scheduler,
  StableDiffusionUpscalePipeline,
  Tensor,
  TorchGenerator,
} from '@latentkit/core';
import { DDIMScheduler, DDPMScheduler, EulerAncestralDiscreteScheduler } from '@latentkit/schedulers';
import { describe, expect, it } from 'vitest';
import { type JsonTensor, maxAbsDiff, nhwcToNchw, tensor } from './support/reference-cases.js';

interface UpscaleCase {
  scheduler: string;
  scheduler_config: Record<string, unknown>;
  low_res_scheduler: string;
  low_res_scheduler_config: Record<string, unknown>;
  max_noise_level: number;
  unet_in_channels: number;
  call: {
    num_inference_steps: number;
    guidance_scale: number;
    noise_level: number;
    num_images_per_prompt: number;
    generator: { type: string; seed: number };
  };
  low_res_normalized: JsonTensor;
  low_res_noise: JsonTensor;
  low_res_noised: JsonTensor;
  timesteps_used: number[];
  unet_calls: {
    t: number;
    sample_shape: number[];
    sample_sum: number;
    class_labels: number[];
    terms: { m: JsonTensor; n: JsonTensor };
    out_sum: number;
    sample_full?: JsonTensor;
    out_full?: JsonTensor;
  }[];
  latents_after_each_step: { i: number; t: number; sum: number; full?: JsonTensor }[];
  final_latents: JsonTensor;
  vae_decode_input: JsonTensor;
  output_images: JsonTensor;
}

const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/reference/upscale-cases.json', import.meta.url), 'utf8'),
) as {
  meta: { vae: { scaling_factor: number; upscale: number } };
  inputs: Record<string, JsonTensor>;
  cases: Record<string, UpscaleCase>;
};
const fl = Math.fround;

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(fl(a[i]!)));
  return m;
}

/** The terms of one fake-UNet call, for the test to compare with diffusers' `terms`. */
interface FakeTerms {
  m: number[];
  n: number[];
}

/**
 * The fake x4-upscaler UNet of upscale-cases.md (7 input channels: latents ‖ noised low-res image):
 * `out = fl(fl(fl(fl(fl(0.3)·x) + term) + m_b) + fl(fl(0.1)·img[c mod 3])) + n_b`, with
 * `term = fl(0.1·cos(t/250 + c + 0.1y − 0.07x))`, `m_b = fl(0.05·mean64(ehs[b]))`, `n_b = fl(0.0001·label_b)`.
 */
class FakeUpscalerUnet implements Denoiser {
  readonly inChannels = 7;
  readonly calls: DenoiserInput[] = [];
  readonly terms: FakeTerms[] = [];

  async predict(input: DenoiserInput): Promise<Tensor> {
    this.calls.push(input);
    const { sample, timestep: t } = input;
    const labels = input.classLabels;
    if (!labels) throw new Error('the x4 upscaler UNet needs classLabels');
    const ehs = input.conditioning.encoderHiddenStates;
    const [n, ch, h, w] = sample.shape as [number, number, number, number];
    expect(ch).toBe(7);
    const rowSize = ehs.size / ehs.shape[0]!;
    const m = Array.from({ length: n }, (_, b) => {
      let s = 0;
      for (let i = b * rowSize; i < (b + 1) * rowSize; i++) s += ehs.data[i]!;
      return fl(0.05 * (s / rowSize));
    });
    const nTerm = Array.from({ length: n }, (_, b) => fl(0.0001 * labels.data[b]!));
    this.terms.push({ m, n: nTerm });
    const k3 = fl(0.3);
    const k1 = fl(0.1);
    const plane = h * w;
    const out = new Float32Array(n * 4 * plane);
    for (let b = 0; b < n; b++) {
      for (let c = 0; c < 4; c++) {
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            const lat = sample.data[(b * 7 + c) * plane + y * w + x]!;
            const img = sample.data[(b * 7 + 4 + (c % 3)) * plane + y * w + x]!;
            const term = fl(0.1 * Math.cos(t / 250 + c + 0.1 * y - 0.07 * x));
            let o = fl(k3 * lat);
            o = fl(o + term);
            o = fl(o + m[b]!);
            o = fl(o + fl(k1 * img));
            out[(b * 4 + c) * plane + y * w + x] = fl(o + nTerm[b]!);
          }
        }
      }
    }
    return new Tensor(out, [n, 4, h, w]);
  }
}

/**
 * The fake x4 VAE of upscale-cases.md, decode-only (no `encode`), scaling factor 0.08333 applied inside:
 * `image[b,c,Y,X] = fl(tanh(fl(z / fl(0.08333))[b,c,⌊Y/4⌋,⌊X/4⌋]))`, c = 0..2.
 */
class FakeX4Vae implements LatentCodec {
  readonly latentChannels = 4;
  readonly downscale = 4;
  readonly decodeCalls: Tensor[] = [];

  async decode(latents: Tensor): Promise<Tensor> {
    this.decodeCalls.push(latents);
    const [n, , h, w] = latents.shape as [number, number, number, number];
    const z = latents.div(fixture.meta.vae.scaling_factor);
    const H = h * 4;
    const W = w * 4;
    const out = new Float32Array(n * 3 * H * W);
    let i = 0;
    for (let b = 0; b < n; b++)
      for (let c = 0; c < 3; c++)
        for (let Y = 0; Y < H; Y++)
          for (let X = 0; X < W; X++, i++)
            out[i] = Math.tanh(z.data[((b * 4 + c) * h + (Y >> 2)) * w + (X >> 2)]!);
    return new Tensor(out, [n, 3, H, W]);
  }
}

function schedulerFor(name: string, config: Record<string, unknown>): Scheduler {
  if (name === 'DDIMScheduler') return DDIMScheduler.fromConfig(config);
  if (name === 'EulerAncestralDiscreteScheduler') return EulerAncestralDiscreteScheduler.fromConfig(config);
  if (name === 'DDPMScheduler') return DDPMScheduler.fromConfig(config);
  throw new Error(`no scheduler for ${name}`);
}

function pipelineFor(c: UpscaleCase) {
  const unet = new FakeUpscalerUnet();
  const vae = new FakeX4Vae();
  const pipe = new StableDiffusionUpscalePipeline(
    {
      denoiser: unet,
      codec: vae,
      scheduler: schedulerFor(c.scheduler, c.scheduler_config),
      lowResScheduler: schedulerFor(c.low_res_scheduler, c.low_res_scheduler_config),
    },
    { maxNoiseLevel: c.max_noise_level },
  );
  return { unet, vae, pipe };
}

function callOptions(c: UpscaleCase) {
  return {
    promptEmbeds: { encoderHiddenStates: tensor(fixture.inputs.prompt_embeds_b0!) },
    negativePromptEmbeds: { encoderHiddenStates: tensor(fixture.inputs.negative_prompt_embeds!) },
    image: tensor(fixture.inputs.low_res_image!),
    noiseLevel: c.call.noise_level,
    numInferenceSteps: c.call.num_inference_steps,
    guidanceScale: c.call.guidance_scale,
    numImagesPerPrompt: c.call.num_images_per_prompt,
    generator: new TorchGenerator(c.call.generator.seed),
  };
}

describe('diffusers x4 upscaler cases (fake 7-channel UNet, fake x4 VAE)', () => {
  const names = Object.keys(fixture.cases);

  it('has the two cases of the reference file', () => {
    expect(names.sort()).toEqual([
      'upscale/DDIM/noise20_cfg9',
      'upscale/EulerAncestral/noise100_cfg9_x2images',
    ]);
  });

  for (const name of names) {
    const c = fixture.cases[name]!;

    it(`${name}: every UNet input, class labels and step within tolerance; final latents ≤ 1e-4`, async () => {
      expect(c.unet_in_channels).toBe(7);
      const { unet, pipe } = pipelineFor(c);
      const stepLatents: Tensor[] = [];
      const { images: latents, parameters } = await pipe.generate({
        ...callOptions(c),
        outputType: 'latent',
        onStep: ({ latents }) => {
          stepLatents.push(latents);
        },
      });

      // Localise a mismatch: the schedule, the noised low-res image in channels 4..6, the first call in
      // full, each call's batch, class labels and terms, each step's latents, then the final latents.
      expect(unet.calls.map((x) => x.timestep)).toEqual(c.timesteps_used);
      const first = unet.calls[0]!;
      const ref0 = c.unet_calls[0]!;
      expect(first.sample.shape).toEqual(ref0.sample_shape);
      expect(maxAbsDiff(first.sample.data, ref0.sample_full!.data)).toBeLessThanOrEqual(1e-6);
      const plane = 16 * 16;
      for (let b = 0; b < first.sample.shape[0]!; b++) {
        const channels = first.sample.data.subarray((b * 7 + 4) * plane, (b * 7 + 7) * plane);
        expect(maxAbsDiff(channels, c.low_res_noised.data)).toBeLessThanOrEqual(1e-6);
      }
      const out0 = await new FakeUpscalerUnet().predict(first);
      expect(maxAbsDiff(out0.data, ref0.out_full!.data)).toBeLessThanOrEqual(1e-6);
      expect(unet.calls).toHaveLength(c.unet_calls.length);
      c.unet_calls.forEach((ref, i) => {
        const call = unet.calls[i]!;
        expect(call.sample.shape).toEqual(ref.sample_shape);
        expect(Array.from(call.classLabels!.data)).toEqual(ref.class_labels);
        expect(unet.terms[i]!.m).toEqual(ref.terms.m.data.map(fl));
        expect(unet.terms[i]!.n).toEqual(ref.terms.n.data.map(fl));
        expect(Math.abs(call.sample.sum() - ref.sample_sum)).toBeLessThanOrEqual(
          1e-4 * Math.max(1, Math.abs(ref.sample_sum)),
        );
      });
      expect(stepLatents).toHaveLength(c.latents_after_each_step.length);
      c.latents_after_each_step.forEach((ref, i) => {
        const ours = stepLatents[i]!;
        if (ref.full) {
          const scale = Math.max(1, maxAbs(ref.full.data));
          expect(maxAbsDiff(ours.data, ref.full.data) / scale).toBeLessThanOrEqual(1e-5);
        }
        expect(Math.abs(ours.sum() - ref.sum)).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(ref.sum)));
      });

      expect(latents.shape).toEqual(c.final_latents.shape);
      const rel = maxAbsDiff(latents.data, c.final_latents.data) / Math.max(1, maxAbs(c.final_latents.data));
      console.log(`${name}: final latents max |Δ| / max(1, max |ref|) = ${rel.toExponential(2)}`);
      expect(rel).toBeLessThanOrEqual(1e-4);

      expect(parameters).toMatchObject({
        mode: 'upscale',
        width: 64,
        height: 64,
        numInferenceSteps: c.call.num_inference_steps,
        guidanceScale: c.call.guidance_scale,
        noiseLevel: c.call.noise_level,
        scheduler: c.scheduler,
      });
      expect(parameters.images).toHaveLength(c.call.num_images_per_prompt);
      expect(parameters.images[0]!.seed).toBe(c.call.generator.seed);
    });

    it(`${name}: decoder input and output images (4× the low-res size) within 1e-4`, async () => {
      const { vae, pipe } = pipelineFor(c);
      const { images } = await pipe.generate({ ...callOptions(c), outputType: 'tensor' });
      // diffusers hands the VAE latents / scaling_factor; our codec divides inside.
      const decodeIn = vae.decodeCalls[0]!.div(fixture.meta.vae.scaling_factor);
      const scale = Math.max(1, maxAbs(c.vae_decode_input.data));
      expect(maxAbsDiff(decodeIn.data, c.vae_decode_input.data) / scale).toBeLessThanOrEqual(1e-4);

      const [n, h, w] = c.output_images.shape as [number, number, number];
      expect(images.shape).toEqual([n, 3, h, w]);
      expect([h, w]).toEqual([16 * 4, 16 * 4]);
      const err = maxAbsDiff(images.data, nhwcToNchw(c.output_images));
      console.log(`${name}: output images max |Δ| = ${err.toExponential(2)}`);
      expect(err).toBeLessThanOrEqual(1e-4);
    });
  }

  it('the low-res noise is the first draw: drawn alone from seed 7 it equals diffusers’ low_res_noise', () => {
    const c = fixture.cases['upscale/DDIM/noise20_cfg9']!;
    const noise = new TorchGenerator(7).randn([1, 3, 16, 16]);
    expect(maxAbsDiff(noise.data, c.low_res_noise.data)).toBe(0);
    const normalized = tensor(fixture.inputs.low_res_image!).mul(2).sub(1);
    expect(maxAbsDiff(normalized.data, c.low_res_normalized.data)).toBe(0);
    const noised = DDPMScheduler.fromConfig(c.low_res_scheduler_config).addNoise(normalized, noise, 20);
    expect(maxAbsDiff(noised.data, c.low_res_noised.data)).toBeLessThanOrEqual(1e-6);
  });
});
