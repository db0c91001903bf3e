/**
 * GLIGEN's scheduled sampling through StableDiffusionGLIGENPipeline with real schedulers from
 * @latentkit/schedulers: denoiser call i is grounded iff `i < trunc(beta · timesteps.length)`, where
 * timesteps.length counts the scheduler's timestep entries (one per denoiser call), as diffusers'
 * `num_grounding_steps = int(beta * len(timesteps))` — PNDM has steps + 1 entries, Heun 2·steps − 1.
 */
import { readFileSync } from 'node:fs';
import { type Scheduler, StableDiffusionGLIGENPipeline } from '@latentkit/core';
import { DDIMScheduler, HeunDiscreteScheduler, PNDMScheduler } from '@latentkit/schedulers';
import { describe, expect, it } from 'vitest';
import { FakeGligenTextEncoder, FakeGligenUnet } from './fakes/fake-gligen-parts.js';
import { FakeVae } from './fakes/fake-vae.js';

const sd1 = (
  JSON.parse(readFileSync(new URL('./fixtures/reference/gligen-cases.json', import.meta.url), 'utf8')) as {
    meta: { scheduler_base_configs: { sd1: Record<string, unknown> } };
  }
).meta.scheduler_base_configs.sd1;

/** The grounded flags of every denoiser call of one 64×64 generate() with `scheduler`. */
async function groundedFlags(scheduler: Scheduler, steps: number, beta: number) {
  const unet = new FakeGligenUnet();
  const pipe = new StableDiffusionGLIGENPipeline({
    promptEncoder: new FakeGligenTextEncoder(),
    denoiser: unet,
    codec: new FakeVae(),
    scheduler,
  });
  await pipe.generate({
    prompt: 'a cozy living room',
    layout: [{ phrase: 'a cat', box: [0.1, 0.5, 0.5, 0.9] }],
    gligenScheduledSamplingBeta: beta,
    numInferenceSteps: steps,
    height: 64,
    width: 64,
    seed: 7,
    outputType: 'latent',
  });
  return unet.calls.map((c) => c.gligen!.enabled);
}

const leading = (n: number, total: number) => Array.from({ length: total }, (_, i) => i < n);

describe('GLIGEN scheduled sampling counts timestep entries, truncating', () => {
  it('PNDM (PLMS, skip_prk_steps): 10 steps are 11 denoiser calls; beta 0.3 → int(3.3) = 3 grounded', async () => {
    const flags = await groundedFlags(PNDMScheduler.fromConfig(sd1), 10, 0.3);
    expect(flags).toEqual(leading(3, 11));
  });

  it('PNDM: beta 0.5 over 11 entries → int(5.5) = 5 grounded (not round(5.5) = 6, not 0.5·10 = 5 steps of 10)', async () => {
    const flags = await groundedFlags(PNDMScheduler.fromConfig(sd1), 10, 0.5);
    expect(flags).toEqual(leading(5, 11));
  });

  it('Heun: 10 steps are 19 denoiser calls; beta 0.3 → int(5.7) = 5 grounded', async () => {
    const flags = await groundedFlags(HeunDiscreteScheduler.fromConfig(sd1), 10, 0.3);
    expect(flags).toEqual(leading(5, 19));
  });

  it('Heun: beta 0.4 over 19 entries → int(7.6) = 7 grounded (the second-order calls count too)', async () => {
    const flags = await groundedFlags(HeunDiscreteScheduler.fromConfig(sd1), 10, 0.4);
    expect(flags).toEqual(leading(7, 19));
  });

  it('beta 0.29 over 100 DDIM calls → 28 grounded: 0.29 · 100 is 28.999999999999996 in floats, and int() truncates', async () => {
    expect(0.29 * 100).toBeLessThan(29);
    const flags = await groundedFlags(DDIMScheduler.fromConfig(sd1), 100, 0.29);
    expect(flags).toEqual(leading(28, 100));
  });

  it('beta 0 never grounds, beta 1 grounds every call', async () => {
    expect(await groundedFlags(DDIMScheduler.fromConfig(sd1), 4, 0)).toEqual([false, false, false, false]);
    expect(await groundedFlags(DDIMScheduler.fromConfig(sd1), 4, 1)).toEqual([true, true, true, true]);
  });

  it('the default beta is 0.3 (diffusers’): 10 DDIM steps → 3 grounded', async () => {
    const unet = new FakeGligenUnet();
    const pipe = new StableDiffusionGLIGENPipeline({
      promptEncoder: new FakeGligenTextEncoder(),
      denoiser: unet,
      codec: new FakeVae(),
      scheduler: DDIMScheduler.fromConfig(sd1),
    });
    const { parameters } = await pipe.generate({
      prompt: 'a room',
      gligenPhrases: ['a cat'],
      gligenBoxes: [[0.1, 0.5, 0.5, 0.9]],
      numInferenceSteps: 10,
      height: 64,
      width: 64,
      seed: 7,
      outputType: 'latent',
    });
    expect(unet.calls.map((c) => c.gligen!.enabled)).toEqual(leading(3, 10));
    expect(parameters.layout?.scheduledSamplingBeta).toBe(0.3);
  });
});
