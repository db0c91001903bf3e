import { InvalidArgumentError, Tensor, TorchGenerator } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { DDIMScheduler } from './ddim-scheduler.js';
import { absSumMean, dummyModel, dummyNoiseDeter, dummySampleDeter } from './shared/diffusers-test-inputs.js';

// Expected numbers: huggingface/diffusers tests/schedulers/test_scheduler_ddim.py (DDIMSchedulerTest);
// tolerances as there: 1e-2 on the sum of |x|, 1e-3 on the mean.
const BASE = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  clip_sample: true,
};

function fullLoop(config: Record<string, unknown> = {}): Tensor {
  const scheduler = DDIMScheduler.fromConfig({ ...BASE, ...config });
  scheduler.setTimesteps(10);
  let sample = dummySampleDeter();
  for (const t of scheduler.timesteps) {
    sample = scheduler.step(dummyModel(sample, t), t, sample, { eta: 0 }).prevSample;
  }
  return sample;
}

describe('DDIMScheduler — diffusers expected numbers', () => {
  it('full loop, no noise: 172.0067 / 0.223967', () => {
    const r = absSumMean(fullLoop());
    expect(Math.abs(r.sum - 172.0067)).toBeLessThan(1e-2);
    expect(Math.abs(r.mean - 0.223967)).toBeLessThan(1e-3);
  });
  it('full loop, v_prediction: 52.5302 / 0.0684', () => {
    const r = absSumMean(fullLoop({ prediction_type: 'v_prediction' }));
    expect(Math.abs(r.sum - 52.5302)).toBeLessThan(1e-2);
    expect(Math.abs(r.mean - 0.0684)).toBeLessThan(1e-3);
  });
  it('full loop, set_alpha_to_one, beta_start 0.01: 149.8295 / 0.1951', () => {
    const r = absSumMean(fullLoop({ set_alpha_to_one: true, beta_start: 0.01 }));
    expect(Math.abs(r.sum - 149.8295)).toBeLessThan(1e-2);
    expect(Math.abs(r.mean - 0.1951)).toBeLessThan(1e-3);
  });
  it('full loop, no set_alpha_to_one, beta_start 0.01: 149.0784 / 0.1941', () => {
    const r = absSumMean(fullLoop({ set_alpha_to_one: false, beta_start: 0.01 }));
    expect(Math.abs(r.sum - 149.0784)).toBeLessThan(1e-2);
    expect(Math.abs(r.mean - 0.1941)).toBeLessThan(1e-3);
  });
  it('full loop with noise (t_start 8): 354.5418 / 0.4616', () => {
    const scheduler = DDIMScheduler.fromConfig(BASE);
    scheduler.setTimesteps(10);
    const timesteps = scheduler.timesteps.slice(8 * scheduler.order);
    let sample = scheduler.addNoise(dummySampleDeter(), dummyNoiseDeter(), timesteps[0]!);
    for (const t of timesteps)
      sample = scheduler.step(dummyModel(sample, t), t, sample, { eta: 0 }).prevSample;
    const r = absSumMean(sample);
    expect(Math.abs(r.sum - 354.5418)).toBeLessThan(1e-2);
    expect(Math.abs(r.mean - 0.4616)).toBeLessThan(1e-3);
  });
  it('variance (test_variance): σ² values within 1e-5', () => {
    const s = DDIMScheduler.fromConfig(BASE);
    expect(Math.abs(s.getVariance(0, 0) - 0)).toBeLessThan(1e-5);
    expect(Math.abs(s.getVariance(420, 400) - 0.14771)).toBeLessThan(1e-5);
    expect(Math.abs(s.getVariance(980, 960) - 0.3246)).toBeLessThan(1e-5);
    expect(Math.abs(s.getVariance(487, 486) - 0.00979)).toBeLessThan(1e-5);
    expect(Math.abs(s.getVariance(999, 998) - 0.02)).toBeLessThan(1e-5);
  });
  it('steps_offset 1, 5 steps → [801, 601, 401, 201, 1] (test_steps_offset)', () => {
    const s = DDIMScheduler.fromConfig({ ...BASE, steps_offset: 1 });
    s.setTimesteps(5);
    expect(s.timesteps).toEqual([801, 601, 401, 201, 1]);
  });
});

describe('DDIMScheduler — timesteps per spacing (derived by hand from diffusers’ set_timesteps)', () => {
  it('SD 1.5 config, 50 steps, leading + offset 1 → 981, 961, …, 1', () => {
    const s = DDIMScheduler.fromConfig({
      beta_schedule: 'scaled_linear',
      beta_start: 0.00085,
      beta_end: 0.012,
      steps_offset: 1,
      set_alpha_to_one: false,
      clip_sample: false,
    });
    s.setTimesteps(50);
    expect(s.timesteps.length).toBe(50);
    expect(s.timesteps[0]).toBe(981);
    expect(s.timesteps[49]).toBe(1);
    expect(s.timesteps.every((t, i) => t === 981 - 20 * i)).toBe(true);
  });
  it('trailing, 10 steps → 999, 899, …, 99', () => {
    const s = DDIMScheduler.fromConfig({ timestep_spacing: 'trailing' });
    s.setTimesteps(10);
    expect(s.timesteps).toEqual([999, 899, 799, 699, 599, 499, 399, 299, 199, 99]);
  });
  it('trailing, 3 steps → round(1000, 666.67, 333.33) − 1 = 999, 666, 332', () => {
    const s = DDIMScheduler.fromConfig({ timestep_spacing: 'trailing' });
    s.setTimesteps(3);
    expect(s.timesteps).toEqual([999, 666, 332]);
  });
  it('trailing keeps n timesteps where numpy’s arange would make n + 1 (n = 61)', () => {
    const s = DDIMScheduler.fromConfig({ timestep_spacing: 'trailing' });
    s.setTimesteps(61);
    expect(s.timesteps.length).toBe(61);
    expect(s.timesteps.at(-1)).toBeGreaterThanOrEqual(0);
  });
  it('linspace, 4 steps → round(linspace(0, 999, 4)) = 999, 666, 333, 0', () => {
    const s = DDIMScheduler.fromConfig({ timestep_spacing: 'linspace' });
    s.setTimesteps(4);
    expect(s.timesteps).toEqual([999, 666, 333, 0]);
  });
  it('linspace rounds half to even: linspace(0, 999, 7) has 166.5 → 166 and 832.5 → 832', () => {
    const s = DDIMScheduler.fromConfig({ timestep_spacing: 'linspace' });
    s.setTimesteps(7);
    expect(s.timesteps).toEqual([999, 832, 666, 500, 333, 166, 0]);
  });
  it('leading with 3 steps uses T // n = 333: 666, 333, 0', () => {
    const s = DDIMScheduler.fromConfig({});
    s.setTimesteps(3);
    expect(s.timesteps).toEqual([666, 333, 0]);
  });
});

describe('DDIMScheduler — config, eta, validation', () => {
  it('fromConfig fills defaults, carries unknown keys (hidden config), round-trips', () => {
    const s = DDIMScheduler.fromConfig({
      _class_name: 'PNDMScheduler',
      skip_prk_steps: true,
      beta_end: 0.012,
    });
    expect(s.config._class_name).toBe('DDIMScheduler');
    expect(s.config.beta_end).toBe(0.012);
    expect(s.config.timestep_spacing).toBe('leading');
    expect(s.config.skip_prk_steps).toBe(true); // not DDIM's: carried along, as diffusers registers it
    const again = DDIMScheduler.fromConfig(s.config);
    expect(again.config).toEqual(s.config);
  });
  it('null values mean the default, as None does in diffusers', () => {
    const s = DDIMScheduler.fromConfig({ trained_betas: null, prediction_type: null });
    expect(s.config.prediction_type).toBe('epsilon');
  });
  it('eta > 0 draws noise from the generator with the model output’s shape, reproducibly', () => {
    const s = DDIMScheduler.fromConfig(BASE);
    s.setTimesteps(10);
    const x = dummySampleDeter();
    const m = dummyModel(x, 901);
    const a = s.step(m, 901, x, { eta: 1, generator: new TorchGenerator(0) }).prevSample;
    const b = s.step(m, 901, x, { eta: 1, generator: new TorchGenerator(0) }).prevSample;
    const x0 = s.step(m, 901, x, { eta: 0 }).predOriginalSample!;
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    // x_prev = √ᾱ_prev·x₀ + √(1 − ᾱ_prev − σ²)·ε + σ·z, z = torch.randn((4,3,8,8)) of seed 0 (formula 12).
    const noise = new TorchGenerator(0).randn([4, 3, 8, 8]).data;
    const variance = s.getVariance(901, 801);
    const app = s.alphasCumprod[801]!;
    for (const i of [0, 100, 767]) {
      const expected =
        Math.sqrt(app) * x0.data[i]! +
        Math.sqrt(1 - app - variance) * m.data[i]! +
        Math.sqrt(variance) * noise[i]!;
      expect(a.data[i]!).toBeCloseTo(expected, 5);
    }
  });
  it('thresholding clamps x₀ per item at the quantile of |x₀| (within [1, sample_max_value])', () => {
    const s = DDIMScheduler.fromConfig({
      ...BASE,
      thresholding: true,
      sample_max_value: 1.5,
      prediction_type: 'sample',
    });
    s.setTimesteps(10);
    const x = dummySampleDeter();
    const out = new Tensor(
      x.data.map((v) => v * 4),
      x.shape,
    ); // x₀ = model output (sample prediction)
    const x0 = s.step(out, 901, x).predOriginalSample!;
    // |x₀| ranges to ~4, so s clamps to 1.5: x₀ = clamp(x₀, −1.5, 1.5)/1.5 ≤ 1.
    expect(Math.max(...x0.data)).toBeCloseTo(1, 6);
    expect(x0.data[1]).toBeCloseTo((x.data[1]! * 4) / 1.5, 5);
  });
  it('rejects bad config values with typed errors naming the key', () => {
    expect(() => DDIMScheduler.fromConfig({ beta_schedule: 'cosine' })).toThrow(/beta_schedule/);
    expect(() => DDIMScheduler.fromConfig({ prediction_type: 'eps' })).toThrow(/prediction_type.*"epsilon"/);
    expect(() => DDIMScheduler.fromConfig({ timestep_spacing: 'uniform' })).toThrow(InvalidArgumentError);
    expect(() => DDIMScheduler.fromConfig({ timestep_spacing: 'uniform' })).toThrow(/"leading"/);
  });
  it('rejects bad step counts, steps before setTimesteps, and out-of-range timesteps', () => {
    const s = DDIMScheduler.fromConfig(BASE);
    const x = dummySampleDeter();
    expect(() => s.step(x, 981, x)).toThrow(/setTimesteps/);
    expect(() => s.setTimesteps(0)).toThrow(InvalidArgumentError);
    expect(() => s.setTimesteps(1001)).toThrow(/num_train_timesteps/);
    s.setTimesteps(10);
    expect(() => s.step(x, 1000, x)).toThrow(InvalidArgumentError);
    expect(() => s.step(x, 1.5, x)).toThrow(InvalidArgumentError);
  });
});
