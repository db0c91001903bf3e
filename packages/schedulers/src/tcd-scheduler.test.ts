import { InvalidArgumentError, type Tensor, TorchGenerator } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { absSumMean, dummyModel, dummySampleDeter } from './shared/diffusers-test-inputs.js';
import { TCDScheduler } from './tcd-scheduler.js';

// Expected numbers: huggingface/diffusers tests/schedulers/test_scheduler_tcd.py (TCDSchedulerTest), eta (γ) = 0.
const BASE = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  prediction_type: 'epsilon',
};

function fullLoop(steps: number, eta = 0, config: Record<string, unknown> = {}): Tensor {
  const scheduler = TCDScheduler.fromConfig({ ...BASE, ...config });
  const generator = new TorchGenerator(0);
  scheduler.setTimesteps(steps);
  let sample = dummySampleDeter();
  for (const t of scheduler.timesteps) {
    sample = scheduler.step(dummyModel(sample, t), t, sample, { eta, generator }).prevSample;
  }
  return sample;
}

describe('TCDScheduler — diffusers expected numbers', () => {
  it('one step, γ = 0: 29.8715 / 0.0389 (sum within 1e-3)', () => {
    const r = absSumMean(fullLoop(1));
    expect(Math.abs(r.sum - 29.8715)).toBeLessThan(1e-3);
    expect(Math.abs(r.mean - 0.0389)).toBeLessThan(1e-3);
  });
  it('10 steps, γ = 0: 181.2040 / 0.2359 (sum within 1e-3)', () => {
    const r = absSumMean(fullLoop(10));
    expect(Math.abs(r.sum - 181.204)).toBeLessThan(1e-3);
    expect(Math.abs(r.mean - 0.2359)).toBeLessThan(1e-3);
  });
  it('custom timesteps: previous timestep is the next entry, −1 after the last (test_custom_timesteps)', () => {
    const s = TCDScheduler.fromConfig(BASE);
    s.setTimesteps(undefined, { timesteps: [100, 87, 50, 1, 0] });
    expect(s.timesteps.map((t) => s.previousTimestep(t))).toEqual([87, 50, 1, 0, -1]);
  });
  it('custom timesteps errors: increasing, both arguments, too large', () => {
    const s = TCDScheduler.fromConfig(BASE);
    expect(() => s.setTimesteps(undefined, { timesteps: [100, 87, 50, 51, 0] })).toThrow(/descending/);
    expect(() => s.setTimesteps(2, { timesteps: [100, 87, 50, 1, 0] })).toThrow(InvalidArgumentError);
    expect(() => s.setTimesteps(undefined, { timesteps: [1000] })).toThrow(/num_train_timesteps/);
  });
});

describe('TCDScheduler — γ and schedule', () => {
  it('default γ = 0.3 draws noise; same seed → same result; γ = 0 draws none', () => {
    const a = fullLoop(4, 0.3);
    const b = fullLoop(4, 0.3);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(absSumMean(a).sum).not.toBeCloseTo(absSumMean(fullLoop(4, 0)).sum, 2);
  });
  it('γ outside [0, 1] → typed error', () => {
    const s = TCDScheduler.fromConfig(BASE);
    s.setTimesteps(4);
    const x = dummySampleDeter();
    expect(() => s.step(x, 999, x, { eta: 1.5 })).toThrow(InvalidArgumentError);
  });
  it('original_inference_steps null uses every training timestep: 4 steps → 999, 749, 499, 249', () => {
    const s = TCDScheduler.fromConfig({ ...BASE, original_inference_steps: null });
    s.setTimesteps(4);
    expect(s.timesteps).toEqual([999, 749, 499, 249]);
    expect(s.config.original_inference_steps).toBeNull();
  });
});
