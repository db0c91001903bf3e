/**
 * StableDiffusionGLIGENPipeline against diffusers 0.35.2's own `StableDiffusionGLIGENPipeline`
 * (tests/fixtures/reference/gligen-cases.json: copied unchanged from the project's shared reference data
 * `reference/gligen-cases.json`, described by `gligen-cases.md` there), run with the fake text encoder,
 * grounded fake UNet and fake VAE of that description (tests/fakes/fake-gligen-parts.ts,
 * tests/fakes/fake-vae.ts), so that the numbers test the pipeline's arithmetic — phrase encoding to the
 * pooled output, padding to 30 slots, the masks of the unconditional rows, scheduled sampling, CFG,
 * scheduler steps, decode — not model weights. Seed 7, 64×64, 10 steps: DDIM with 3 objects and beta 0.3,
 * Euler ancestral with 2 objects, beta 0.4 and 2 images per prompt.
 * Tolerances (from the case file): final latents max |Δ| / max(1, max |ref|) ≤ 1e-4, images max |Δ| ≤ 1e-4.
 */
import { readFileSync } from 'node:fs';
import {
  type LayoutBox,
  type Scheduler,
  StableDiffusionGLIGENPipeline,
  TorchGenerator,
} from '@latentkit/core';
import { DDIMScheduler, EulerAncestralDiscreteScheduler } from '@latentkit/schedulers';
import { describe, expect, it } from 'vitest';
import { FakeGligenTextEncoder, FakeGligenUnet, fakeIds } from './fakes/fake-gligen-parts.js';
import { FakeVae } from './fakes/fake-vae.js';
import { type JsonTensor, maxAbsDiff, nhwcToNchw, tensor } from './support/reference-cases.js';

interface GligenCase {
  scheduler: string;
  scheduler_config: Record<string, unknown>;
  cross_attention_dim: number;
  call: {
    prompt: string;
    height: number;
    width: number;
    num_inference_steps: number;
    guidance_scale: number;
    num_images_per_prompt: number;
    generator: { type: string; seed: number };
    gligen_phrases: string[];
    gligen_boxes: LayoutBox[];
    gligen_scheduled_sampling_beta?: number;
  };
  timesteps: number[];
  gligen_scheduled_sampling_beta_used: number;
  num_grounding_steps: number;
  fuser_enabled_per_call: boolean[];
  phrase_input_ids: JsonTensor;
  phrase_attention_mask: JsonTensor;
  phrase_pooled_embeds: JsonTensor;
  unet_calls: {
    t: number;
    fuser_enabled: boolean;
    sample_shape: number[];
    sample_sum: number;
    terms: { m: JsonTensor };
    gligen_term_sum: number | null;
    out_sum: number;
    gligen?: { boxes: JsonTensor; positive_embeddings: JsonTensor; masks: JsonTensor };
    sample_full?: JsonTensor;
    out_full?: JsonTensor;
    gligen_term_full?: JsonTensor;
    gligen_same_as_first_call?: boolean;
  }[];
  latents_after_each_step: { i: number; t: number; sum: number; first: number; full?: JsonTensor }[];
  final_latents: JsonTensor;
  vae_decode_input: JsonTensor;
  output_images: JsonTensor;
}

const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/reference/gligen-cases.json', import.meta.url), 'utf8'),
) as { meta: { vae: { scaling_factor: number } }; cases: Record<string, GligenCase> };
const fl = Math.fround;

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(fl(a[i]!)));
  return m;
}

function schedulerFor(name: string, config: Record<string, unknown>): Scheduler {
  if (name === 'DDIMScheduler') return DDIMScheduler.fromConfig(config);
  if (name === 'EulerAncestralDiscreteScheduler') return EulerAncestralDiscreteScheduler.fromConfig(config);
  throw new Error(`no scheduler for ${name}`);
}

function pipelineFor(c: GligenCase) {
  const unet = new FakeGligenUnet();
  const vae = new FakeVae();
  const encoder = new FakeGligenTextEncoder();
  const pipe = new StableDiffusionGLIGENPipeline({
    promptEncoder: encoder,
    denoiser: unet,
    codec: vae,
    scheduler: schedulerFor(c.scheduler, c.scheduler_config),
  });
  return { unet, vae, encoder, pipe };
}

/** The case's call, replayed with latentkit's names (only the keys diffusers was given). */
function callOptions(c: GligenCase) {
  const k = c.call;
  return {
    prompt: k.prompt,
    height: k.height,
    width: k.width,
    numInferenceSteps: k.num_inference_steps,
    guidanceScale: k.guidance_scale,
    numImagesPerPrompt: k.num_images_per_prompt,
    gligenPhrases: k.gligen_phrases,
    gligenBoxes: k.gligen_boxes,
    ...(k.gligen_scheduled_sampling_beta === undefined
      ? {}
      : { gligenScheduledSamplingBeta: k.gligen_scheduled_sampling_beta }),
    generator: new TorchGenerator(k.generator.seed),
  };
}

describe('diffusers GLIGEN cases (fake text encoder, grounded fake UNet, fake VAE)', () => {
  const names = Object.keys(fixture.cases);

  it('has the two cases of the reference file', () => {
    expect(names.sort()).toEqual([
      'gligen/DDIM/cfg7.5_3boxes_beta0.3',
      'gligen/EulerAncestral/cfg7.5_2boxes_beta0.4_x2images',
    ]);
  });

  for (const name of names) {
    const c = fixture.cases[name]!;

    it(`${name}: phrases encoded to the pooled output, as diffusers' tokenizer and text encoder did`, async () => {
      const { encoder } = pipelineFor(c);
      // The fake tokenizer gives what diffusers' did (padding=True: zero-padded to the longest phrase).
      const [n, len] = c.phrase_input_ids.shape as [number, number];
      c.call.gligen_phrases.forEach((p, i) => {
        const ids = fakeIds(p);
        expect(c.phrase_input_ids.data.slice(i * len, (i + 1) * len)).toEqual([
          ...ids,
          ...Array(len - ids.length).fill(0),
        ]);
        expect(c.phrase_attention_mask.data.slice(i * len, i * len + ids.length).every((m) => m === 1)).toBe(
          true,
        );
      });
      const pooled = await encoder.encodePooled(c.call.gligen_phrases);
      expect(pooled.shape).toEqual([n, c.cross_attention_dim]);
      expect(maxAbsDiff(pooled.data, c.phrase_pooled_embeds.data)).toBeLessThanOrEqual(1e-6);
    });

    it(`${name}: grounding per call, first call's boxes/embeddings/masks, every step; final latents ≤ 1e-4`, async () => {
      const { unet, encoder, pipe } = pipelineFor(c);
      const stepLatents: Float32Array[] = [];
      const { images: latents, parameters } = await pipe.generate({
        ...callOptions(c),
        outputType: 'latent',
        onStep: ({ latents }) => {
          stepLatents.push(latents.data.slice());
        },
      });

      // The phrases go to encodePooled as written, once, in object order.
      expect(encoder.pooledCalls).toEqual([c.call.gligen_phrases]);
      // Scheduled sampling: grounded iff i < int(beta · len(timesteps)).
      expect(unet.calls.map((x) => x.timestep)).toEqual(c.timesteps);
      expect(unet.calls.map((x) => x.gligen?.enabled)).toEqual(c.fuser_enabled_per_call);
      expect(c.fuser_enabled_per_call.filter(Boolean)).toHaveLength(c.num_grounding_steps);

      // The grounding tensors of the first call, in full (30 slots, all rows, uncond masks 0).
      const first = unet.calls[0]!;
      const ref0 = c.unet_calls[0]!;
      const g = first.gligen!;
      expect(g.boxes.shape).toEqual(ref0.gligen!.boxes.shape);
      expect(g.positiveEmbeddings.shape).toEqual(ref0.gligen!.positive_embeddings.shape);
      expect(g.masks.shape).toEqual(ref0.gligen!.masks.shape);
      expect(maxAbsDiff(g.boxes.data, ref0.gligen!.boxes.data)).toBe(0);
      expect(maxAbsDiff(g.masks.data, ref0.gligen!.masks.data)).toBe(0);
      expect(
        maxAbsDiff(g.positiveEmbeddings.data, ref0.gligen!.positive_embeddings.data),
      ).toBeLessThanOrEqual(1e-6);
      // The same three tensors go to every call (only `enabled` changes).
      for (const call of unet.calls) {
        expect(call.gligen!.boxes).toBe(g.boxes);
        expect(call.gligen!.positiveEmbeddings).toBe(g.positiveEmbeddings);
        expect(call.gligen!.masks).toBe(g.masks);
      }

      // The first call's sample, output and grounding term, then each call's sums and terms.
      expect(first.sample.shape).toEqual(ref0.sample_shape);
      expect(maxAbsDiff(first.sample.data, ref0.sample_full!.data)).toBeLessThanOrEqual(1e-6);
      expect(maxAbsDiff(unet.terms[0]!, ref0.gligen_term_full!.data)).toBeLessThanOrEqual(1e-6);
      const out0 = await new FakeGligenUnet().predict(first);
      expect(maxAbsDiff(out0.data, ref0.out_full!.data)).toBeLessThanOrEqual(1e-6);
      expect(unet.calls).toHaveLength(c.unet_calls.length);
      c.unet_calls.forEach((ref, i) => {
        const call = unet.calls[i]!;
        expect(call.sample.shape).toEqual(ref.sample_shape);
        const rows = call.conditioning.encoderHiddenStates;
        const rowSize = rows.size / rows.shape[0]!;
        const m = Array.from({ length: rows.shape[0]! }, (_, b) => {
          let s = 0;
          for (let j = b * rowSize; j < (b + 1) * rowSize; j++) s += rows.data[j]!;
          return fl(0.05 * (s / rowSize));
        });
        expect(m).toEqual(ref.terms.m.data.map(fl));
        const term = unet.terms[i];
        if (ref.gligen_term_sum === null) expect(term).toBeUndefined();
        else {
          const sum = term!.reduce((s, v) => s + v, 0);
          expect(Math.abs(sum - ref.gligen_term_sum)).toBeLessThanOrEqual(
            1e-4 * Math.max(1, Math.abs(ref.gligen_term_sum)),
          );
        }
        expect(Math.abs(call.sample.sum() - ref.sample_sum)).toBeLessThanOrEqual(
          1e-4 * Math.max(1, Math.abs(ref.sample_sum)),
        );
      });
      expect(stepLatents).toHaveLength(c.latents_after_each_step.length);
      c.latents_after_each_step.forEach((ref, i) => {
        const ours = stepLatents[i]!;
        if (ref.full) {
          const scale = Math.max(1, maxAbs(ref.full.data));
          expect(maxAbsDiff(ours, ref.full.data) / scale).toBeLessThanOrEqual(1e-5);
        }
        const sum = ours.reduce((s, v) => s + v, 0);
        expect(Math.abs(sum - ref.sum)).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(ref.sum)));
      });

      expect(latents.shape).toEqual(c.final_latents.shape);
      const rel = maxAbsDiff(latents.data, c.final_latents.data) / Math.max(1, maxAbs(c.final_latents.data));
      console.log(`${name}: final latents max |Δ| / max(1, max |ref|) = ${rel.toExponential(2)}`);
      expect(rel).toBeLessThanOrEqual(1e-4);

      expect(parameters).toMatchObject({
        mode: 'txt2img',
        width: c.call.width,
        height: c.call.height,
        numInferenceSteps: c.call.num_inference_steps,
        guidanceScale: c.call.guidance_scale,
        scheduler: c.scheduler,
        layout: {
          phrases: c.call.gligen_phrases,
          boxes: c.call.gligen_boxes,
          scheduledSamplingBeta: c.gligen_scheduled_sampling_beta_used,
        },
      });
      expect(parameters.images).toHaveLength(c.call.num_images_per_prompt);
      expect(parameters.images[0]!.seed).toBe(c.call.generator.seed);
    });

    it(`${name}: decoder input and output images within 1e-4`, async () => {
      const { vae, pipe } = pipelineFor(c);
      const { images } = await pipe.generate({ ...callOptions(c), outputType: 'tensor' });
      const decodeIn = vae.decodeCalls[0]!.div(fixture.meta.vae.scaling_factor);
      const scale = Math.max(1, maxAbs(c.vae_decode_input.data));
      expect(maxAbsDiff(decodeIn.data, c.vae_decode_input.data) / scale).toBeLessThanOrEqual(1e-4);
      const [n, h, w] = c.output_images.shape as [number, number, number];
      expect(images.shape).toEqual([n, 3, h, w]);
      const err = maxAbsDiff(images.data, nhwcToNchw(c.output_images));
      console.log(`${name}: output images max |Δ| = ${err.toExponential(2)}`);
      expect(err).toBeLessThanOrEqual(1e-4);
    });
  }

  it('the layout as data ({ phrase, box }[]) gives the same latents as gligenPhrases + gligenBoxes', async () => {
    const c = fixture.cases['gligen/DDIM/cfg7.5_3boxes_beta0.3']!;
    const { gligenPhrases, gligenBoxes, ...rest } = callOptions(c);
    const layout = gligenPhrases.map((phrase, i) => ({ phrase, box: gligenBoxes[i]! }));
    const { images } = await pipelineFor(c).pipe.generate({ ...rest, layout, outputType: 'latent' });
    const rel = maxAbsDiff(images.data, c.final_latents.data) / Math.max(1, maxAbs(c.final_latents.data));
    expect(rel).toBeLessThanOrEqual(1e-4);
  });

  it('precomputed gligenPhraseEmbeds (diffusers’ phrase_pooled_embeds) give the same latents', async () => {
    const c = fixture.cases['gligen/EulerAncestral/cfg7.5_2boxes_beta0.4_x2images']!;
    const { gligenPhrases: _, ...rest } = callOptions(c);
    const { encoder, pipe } = pipelineFor(c);
    const { images } = await pipe.generate({
      ...rest,
      gligenPhraseEmbeds: tensor(c.phrase_pooled_embeds),
      outputType: 'latent',
    });
    expect(encoder.pooledCalls).toEqual([]);
    const rel = maxAbsDiff(images.data, c.final_latents.data) / Math.max(1, maxAbs(c.final_latents.data));
    expect(rel).toBeLessThanOrEqual(1e-4);
  });
});
