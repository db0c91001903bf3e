/**
 * The pipeline against diffusers 0.35.2's own `StableDiffusionPipeline` / `StableDiffusionImg2ImgPipeline`
 * (tests/fixtures/pipeline-cases.json), run with the fake UNet and VAE of tests/fakes/ so that the numbers
 * test the pipeline's arithmetic (CFG, batching, generator order, img2img start, decode) and the
 * schedulers, not model weights. Output images must agree within 1e-4 (we reach ~1e-7).
 */
import { readFileSync } from 'node:fs';
import { type Scheduler, StableDiffusionPipeline, type Tensor, TorchGenerator } from '@latentkit/core';
import { DDIMScheduler, EulerAncestralDiscreteScheduler } from '@latentkit/schedulers';
import { describe, expect, it } from 'vitest';
import { FakeUnet } from './fakes/fake-unet.js';
import { FakeVae } from './fakes/fake-vae.js';
import { type JsonTensor, maxAbsDiff, nhwcToNchw, tensor } from './support/reference-cases.js';

interface PipelineCase {
  scheduler: string;
  scheduler_config: Record<string, unknown>;
  call: {
    num_inference_steps: number;
    guidance_scale: number;
    num_images_per_prompt: number;
    generator: { type: string; seed: number };
    width?: number;
    height?: number;
    strength?: number;
    image?: string;
  };
  timesteps_used: number[];
  unet_calls: { t: number; sample_full: JsonTensor; out_full: JsonTensor }[];
  latents_after_each_step: { i: number; t: number; sum: number; full?: JsonTensor }[];
  vae_decode_input: JsonTensor;
  output_images: JsonTensor;
  generator_words_consumed: number;
}

const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/pipeline-cases.json', import.meta.url), 'utf8'),
) as {
  inputs: Record<string, JsonTensor>;
  cases: Record<string, PipelineCase>;
};

function schedulerFor(c: PipelineCase): Scheduler {
  if (c.scheduler === 'DDIMScheduler') return DDIMScheduler.fromConfig(c.scheduler_config);
  if (c.scheduler === 'EulerAncestralDiscreteScheduler')
    return EulerAncestralDiscreteScheduler.fromConfig(c.scheduler_config);
  throw new Error(`no scheduler for ${c.scheduler}`);
}

describe('diffusers pipeline cases (fake UNet/VAE)', () => {
  const names = Object.keys(fixture.cases);

  it('has the three cases of the issue', () => {
    expect(names.sort()).toEqual([
      'img2img/DDIM/strength0.6',
      'txt2img/DDIM/cfg7.5',
      'txt2img/EulerAncestral/cfg1.0',
    ]);
  });

  for (const name of names) {
    it(`${name}: output images within 1e-4 of diffusers`, async () => {
      const c = fixture.cases[name]!;
      const unet = new FakeUnet();
      const vae = new FakeVae();
      const pipe = new StableDiffusionPipeline({ denoiser: unet, codec: vae, scheduler: schedulerFor(c) });
      const stepLatents: Tensor[] = [];
      const { images } = await pipe.generate({
        promptEmbeds: { encoderHiddenStates: tensor(fixture.inputs.prompt_embeds_b0!) },
        negativePromptEmbeds: { encoderHiddenStates: tensor(fixture.inputs.negative_prompt_embeds!) },
        numInferenceSteps: c.call.num_inference_steps,
        guidanceScale: c.call.guidance_scale,
        numImagesPerPrompt: c.call.num_images_per_prompt,
        generator: new TorchGenerator(c.call.generator.seed),
        outputType: 'tensor',
        ...(c.call.image
          ? { image: tensor(fixture.inputs.init_image!), strength: c.call.strength! }
          : { width: c.call.width!, height: c.call.height! }),
        onStep: ({ latents }) => {
          stepLatents.push(latents);
        },
      });

      // Localise a mismatch: schedule, first UNet call, each step's latents, decoder input, then images.
      expect(unet.calls.map((x) => x.timestep)).toEqual(c.timesteps_used);
      const first = c.unet_calls[0]!;
      expect(maxAbsDiff(unet.calls[0]!.sample.data, first.sample_full.data)).toBeLessThanOrEqual(1e-6);
      expect(
        maxAbsDiff((await new FakeUnet().predict(unet.calls[0]!)).data, first.out_full.data),
      ).toBeLessThanOrEqual(1e-6);
      expect(stepLatents).toHaveLength(c.latents_after_each_step.length);
      c.latents_after_each_step.forEach((ref, i) => {
        const ours = stepLatents[i]!;
        if (ref.full) expect(maxAbsDiff(ours.data, ref.full.data)).toBeLessThanOrEqual(1e-5);
        expect(Math.abs(ours.sum() - ref.sum)).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(ref.sum)));
      });
      // diffusers hands the VAE latents / scaling_factor; our codec divides inside.
      const decodeIn = vae.decodeCalls[0]!.div(0.18215);
      expect(maxAbsDiff(decodeIn.data, c.vae_decode_input.data)).toBeLessThanOrEqual(1e-3);

      const expected = nhwcToNchw(c.output_images);
      expect(images.shape).toEqual([
        c.output_images.shape[0],
        3,
        c.output_images.shape[1],
        c.output_images.shape[2],
      ]);
      const err = maxAbsDiff(images.data, expected);
      console.log(`${name}: max |Δ| of output images = ${err.toExponential(2)}`);
      expect(err).toBeLessThanOrEqual(1e-4);
    });
  }
});
