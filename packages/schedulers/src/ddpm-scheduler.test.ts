import { InvalidArgumentError, Tensor, TorchGenerator } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { DDPMScheduler } from './ddpm-scheduler.js';
import { absSumMean, dummyModel, dummyNoiseDeter, dummySampleDeter } from './shared/diffusers-test-inputs.js';

// Expected numbers: huggingface/diffusers tests/schedulers/test_scheduler_ddpm.py (DDPMSchedulerTest).
// Those loops draw with torch.manual_seed(0): TorchGenerator(0) reproduces torch's CPU generator.
// Tolerances as there: 1e-2 on the sum of |x|, 1e-3 on the mean.
const BASE = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  variance_type: 'fixed_small',
  clip_sample: true,
};

function fullLoop(config: Record<string, unknown> = {}): Tensor {
  const scheduler = DDPMScheduler.fromConfig({ ...BASE, ...config });
  const generator = new TorchGenerator(0);
  let sample = dummySampleDeter();
  // diffusers loops over reversed(range(1000)) without set_timesteps.
  for (let t = 999; t >= 0; t--)
    sample = scheduler.step(dummyModel(sample, t), t, sample, { generator }).prevSample;
  return sample;
}

describe('DDPMScheduler — diffusers expected numbers', () => {
  it('full loop, no noise (seed 0): 258.9606 / 0.3372', () => {
    const r = absSumMean(fullLoop());
    expect(Math.abs(r.sum - 258.9606)).toBeLessThan(1e-2);
    expect(Math.abs(r.mean - 0.3372)).toBeLessThan(1e-3);
  });
  it('full loop, v_prediction (seed 0): 202.0296 / 0.2631', () => {
    const r = absSumMean(fullLoop({ prediction_type: 'v_prediction' }));
    expect(Math.abs(r.sum - 202.0296)).toBeLessThan(1e-2);
    expect(Math.abs(r.mean - 0.2631)).toBeLessThan(1e-3);
  });
  it('full loop with noise (t_start 998, seed 0): 387.9466 / 0.5051', () => {
    const scheduler = DDPMScheduler.fromConfig(BASE);
    const generator = new TorchGenerator(0);
    const timesteps = scheduler.timesteps.slice(998 * scheduler.order);
    let sample = scheduler.addNoise(dummySampleDeter(), dummyNoiseDeter(), timesteps[0]!);
    for (const t of timesteps)
      sample = scheduler.step(dummyModel(sample, t), t, sample, { generator }).prevSample;
    const r = absSumMean(sample);
    expect(Math.abs(r.sum - 387.9466)).toBeLessThan(1e-2);
    expect(Math.abs(r.mean - 0.5051)).toBeLessThan(1e-3);
  });
  it('variance (test_variance): 0 at t=0, 0.00979 at 487, 0.02 at 999 (within 1e-5)', () => {
    const s = DDPMScheduler.fromConfig(BASE);
    expect(Math.abs(s.getVariance(0) - 0)).toBeLessThan(1e-5);
    expect(Math.abs(s.getVariance(487) - 0.00979)).toBeLessThan(1e-5);
    expect(Math.abs(s.getVariance(999) - 0.02)).toBeLessThan(1e-5);
  });
  it('custom timesteps: previous timestep is the next entry, −1 after the last (test_custom_timesteps)', () => {
    const s = DDPMScheduler.fromConfig(BASE);
    s.setTimesteps(undefined, { timesteps: [100, 87, 50, 1, 0] });
    expect(s.timesteps).toEqual([100, 87, 50, 1, 0]);
    expect(s.timesteps.map((t) => s.previousTimestep(t))).toEqual([87, 50, 1, 0, -1]);
  });
  it('custom timesteps: increasing order, both arguments, too large → errors', () => {
    const s = DDPMScheduler.fromConfig(BASE);
    expect(() => s.setTimesteps(undefined, { timesteps: [100, 87, 50, 51, 0] })).toThrow(/descending/);
    expect(() => s.setTimesteps(3, { timesteps: [100, 87, 50, 1, 0] })).toThrow(InvalidArgumentError);
    expect(() => s.setTimesteps(undefined, { timesteps: [1000] })).toThrow(/num_train_timesteps/);
  });
});

describe('DDPMScheduler — variance types and schedules', () => {
  const x = dummySampleDeter();
  const m = dummyModel(x, 500);
  function noisePart(config: Record<string, unknown>, model: Tensor = m): Float32Array {
    const s = DDPMScheduler.fromConfig({ ...BASE, ...config });
    const noisy = s.step(model, 500, x, { generator: new TorchGenerator(3) }).prevSample;
    // The noiseless mean is the t = 0-style mean: run again with a generator that returns zeros.
    const zero = {
      randn: (shape: readonly number[]) => Tensor.zeros(shape),
      rand: (shape: readonly number[]) => Tensor.zeros(shape),
    };
    const mean = s.step(model, 500, x, { generator: zero }).prevSample;
    return noisy.data.map((v, i) => v - mean.data[i]!);
  }
  const z = new TorchGenerator(3).randn([4, 3, 8, 8]).data;
  const s = DDPMScheduler.fromConfig(BASE);
  const a = s.alphasCumprod;
  const beta = 1 - a[500]! / a[499]!;
  const small = ((1 - a[499]!) / (1 - a[500]!)) * beta;

  it('fixed_small: std = √((1−ᾱ_{t−1})/(1−ᾱ_t)·β_t)', () => {
    const d = noisePart({});
    expect(d[7]! / z[7]!).toBeCloseTo(Math.sqrt(small), 6);
  });
  it('fixed_small_log: std = exp(½·log σ²) = σ', () => {
    const d = noisePart({ variance_type: 'fixed_small_log' });
    expect(d[7]! / z[7]!).toBeCloseTo(Math.sqrt(small), 6);
  });
  it('fixed_large: std = √β_t', () => {
    const d = noisePart({ variance_type: 'fixed_large' });
    expect(d[7]! / z[7]!).toBeCloseTo(Math.sqrt(beta), 6);
  });
  it('learned_range: std = exp(½·(f·log β + (1−f)·log σ²)), f = (v+1)/2, v from the second half of channels', () => {
    const v = 0.2;
    const doubled = Tensor.cat([m, Tensor.full(m.shape, v)], 1).reshape([4, 6, 8, 8]);
    // cat along dim 1 of [4,3,8,8] tensors gives [4,6,8,8]: channels 0–2 the noise, 3–5 the variance.
    const d = noisePart({ variance_type: 'learned_range' }, doubled);
    const f = (v + 1) / 2;
    const expected = Math.exp(0.5 * (f * Math.log(beta) + (1 - f) * Math.log(small)));
    expect(d[7]! / z[7]!).toBeCloseTo(expected, 5);
  });
  it('learned: std = √v', () => {
    const doubled = Tensor.cat([m, Tensor.full(m.shape, 0.01)], 1);
    const d = noisePart({ variance_type: 'learned' }, doubled);
    expect(d[7]! / z[7]!).toBeCloseTo(0.1, 6);
  });
  it('learned types need [B, 2C, …] model outputs', () => {
    const s2 = DDPMScheduler.fromConfig({ ...BASE, variance_type: 'learned' });
    expect(() => s2.step(m, 500, x)).toThrow(/predicted variance/);
  });
  it('unknown variance_type → typed error listing the values', () => {
    expect(() => DDPMScheduler.fromConfig({ variance_type: 'other' })).toThrow(/"fixed_small_log"/);
  });
  it('sigmoid betas: sigmoid(linspace(−6, 6))·(end − start) + start', () => {
    const s2 = DDPMScheduler.fromConfig({ beta_schedule: 'sigmoid' });
    expect(s2.betas[0]).toBeCloseTo((1 / (1 + Math.exp(6))) * (0.02 - 0.0001) + 0.0001, 8);
    expect(s2.betas[999]).toBeCloseTo((1 / (1 + Math.exp(-6))) * (0.02 - 0.0001) + 0.0001, 8);
  });
  it('timesteps after setTimesteps: leading 10 → 900 … 0; previous timestep follows the list', () => {
    const s2 = DDPMScheduler.fromConfig(BASE);
    s2.setTimesteps(10);
    expect(s2.timesteps).toEqual([900, 800, 700, 600, 500, 400, 300, 200, 100, 0]);
    expect(s2.previousTimestep(900)).toBe(800);
    expect(() => s2.previousTimestep(901)).toThrow(/scheduler.timesteps/);
  });
});
