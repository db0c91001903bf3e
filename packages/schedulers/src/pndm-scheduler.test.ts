import { InvalidArgumentError, type Tensor } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { PNDMScheduler } from './pndm-scheduler.js';
import { absSumMean, dummyModel, dummySampleDeter } from './shared/diffusers-test-inputs.js';

// Expected numbers: huggingface/diffusers tests/schedulers/test_scheduler_pndm.py (PNDMSchedulerTest).
// Tolerances as there: 1e-2 on the sum of |x|, 1e-3 on the mean.
const BASE = { num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

/** diffusers' full_loop: step_prk over prk_timesteps, then step_plms over plms_timesteps (10 steps). */
function fullLoop(config: Record<string, unknown> = {}): Tensor {
  const scheduler = PNDMScheduler.fromConfig({ ...BASE, ...config });
  scheduler.setTimesteps(10);
  let sample = dummySampleDeter();
  for (const t of scheduler.prkTimesteps)
    sample = scheduler.stepPrk(dummyModel(sample, t), t, sample).prevSample;
  for (const t of scheduler.plmsTimesteps)
    sample = scheduler.stepPlms(dummyModel(sample, t), t, sample).prevSample;
  return sample;
}

describe('PNDMScheduler — diffusers expected numbers', () => {
  it('full loop, no noise: 198.1318 / 0.2580', () => {
    const r = absSumMean(fullLoop());
    expect(Math.abs(r.sum - 198.1318)).toBeLessThan(1e-2);
    expect(Math.abs(r.mean - 0.258)).toBeLessThan(1e-3);
  });
  it('full loop, v_prediction: 67.3986 / 0.0878', () => {
    const r = absSumMean(fullLoop({ prediction_type: 'v_prediction' }));
    expect(Math.abs(r.sum - 67.3986)).toBeLessThan(1e-2);
    expect(Math.abs(r.mean - 0.0878)).toBeLessThan(1e-3);
  });
  it('full loop, set_alpha_to_one, beta_start 0.01: 230.0399 / 0.2995', () => {
    const r = absSumMean(fullLoop({ set_alpha_to_one: true, beta_start: 0.01 }));
    expect(Math.abs(r.sum - 230.0399)).toBeLessThan(1e-2);
    expect(Math.abs(r.mean - 0.2995)).toBeLessThan(1e-3);
  });
  it('full loop, no set_alpha_to_one, beta_start 0.01: 186.9482 / 0.2434', () => {
    const r = absSumMean(fullLoop({ set_alpha_to_one: false, beta_start: 0.01 }));
    expect(Math.abs(r.sum - 186.9482)).toBeLessThan(1e-2);
    expect(Math.abs(r.mean - 0.2434)).toBeLessThan(1e-3);
  });
  it('steps_offset 1, 10 steps → PRK then PLMS timesteps (test_steps_offset)', () => {
    const s = PNDMScheduler.fromConfig({ ...BASE, steps_offset: 1 });
    s.setTimesteps(10);
    expect(s.timesteps).toEqual([
      901, 851, 851, 801, 801, 751, 751, 701, 701, 651, 651, 601, 601, 501, 401, 301, 201, 101, 1,
    ]);
  });
  it('fewer than 4 steps without skip_prk_steps → error naming the minimum (test_pndm_low_inference_steps_prk_validation)', () => {
    const s = PNDMScheduler.fromConfig(BASE);
    for (const n of [1, 2, 3]) expect(() => s.setTimesteps(n)).toThrow(/must be >= 4/);
    expect(() => s.setTimesteps(4)).not.toThrow();
    const skip = PNDMScheduler.fromConfig({ ...BASE, skip_prk_steps: true });
    for (const n of [1, 2, 3, 4]) expect(() => skip.setTimesteps(n)).not.toThrow();
  });
  it('step_plms without PRK warm-up → error (test_inference_plms_no_past_residuals)', () => {
    const s = PNDMScheduler.fromConfig(BASE);
    s.setTimesteps(10);
    const x = dummySampleDeter();
    expect(() => s.stepPlms(x, 1, x)).toThrow(InvalidArgumentError);
  });
});

describe('PNDMScheduler — schedule and dispatch', () => {
  it('step() dispatches PRK then PLMS exactly like the explicit loop', () => {
    const s = PNDMScheduler.fromConfig(BASE);
    s.setTimesteps(10);
    let sample = dummySampleDeter();
    for (const t of s.timesteps) sample = s.step(dummyModel(sample, t), t, sample).prevSample;
    expect(Array.from(sample.data)).toEqual(Array.from(fullLoop().data));
  });
  it('skip_prk_steps (SD 1.5 config), 50 steps, leading offset 1 → 981, 961, 961, 941, …, 1', () => {
    const s = PNDMScheduler.fromConfig({
      ...BASE,
      beta_schedule: 'scaled_linear',
      beta_start: 0.00085,
      beta_end: 0.012,
      skip_prk_steps: true,
      steps_offset: 1,
    });
    s.setTimesteps(50);
    expect(s.prkTimesteps).toEqual([]);
    expect(s.timesteps.length).toBe(51);
    expect(s.timesteps.slice(0, 4)).toEqual([981, 961, 961, 941]);
    expect(s.timesteps.at(-1)).toBe(1);
    // Pure PLMS over the whole loop stays finite and deterministic.
    let sample = dummySampleDeter();
    for (const t of s.timesteps) sample = s.step(dummyModel(sample, t), t, sample).prevSample;
    expect(Number.isFinite(absSumMean(sample).sum)).toBe(true);
  });
  it('trailing and linspace spacings (ascending base, then PRK/PLMS split)', () => {
    const tr = PNDMScheduler.fromConfig({ ...BASE, timestep_spacing: 'trailing', skip_prk_steps: true });
    tr.setTimesteps(4);
    // round(arange(1000, 0, -250))[::-1] − 1 = [249, 499, 749, 999]
    expect(tr.timesteps).toEqual([999, 749, 749, 499, 249]);
    const ls = PNDMScheduler.fromConfig({ ...BASE, timestep_spacing: 'linspace', skip_prk_steps: true });
    ls.setTimesteps(4);
    expect(ls.timesteps).toEqual([999, 666, 666, 333, 0]);
  });
  it('sample prediction is not supported, as in diffusers', () => {
    expect(() => PNDMScheduler.fromConfig({ prediction_type: 'sample' })).toThrow(/prediction_type/);
  });
});
