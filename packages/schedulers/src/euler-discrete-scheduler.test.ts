import { InvalidArgumentError, Tensor, TorchGenerator } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { EulerAncestralDiscreteScheduler } from './euler-ancestral-discrete-scheduler.js';
import { EulerDiscreteScheduler } from './euler-discrete-scheduler.js';
import { dummyModel, dummySampleDeter, fullLoop, meanAbs, sumAbs } from './shared/diffusers-test-inputs.js';

// diffusers tests/schedulers/test_scheduler_euler.py: get_scheduler_config()
const BASE = { num_train_timesteps: 1100, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

function run(extra: Record<string, unknown>, tStart?: number) {
  const s = EulerDiscreteScheduler.fromConfig({ ...BASE, ...extra });
  s.setTimesteps(10);
  const x = fullLoop(s, { generator: new TorchGenerator(0), tStart });
  return { sum: sumAbs(x), mean: meanAbs(x) };
}

describe('EulerDiscreteScheduler — diffusers expected numbers (test_scheduler_euler.py, tol 1e-2 sum / 1e-3 mean)', () => {
  it('test_full_loop_no_noise / test_full_loop_device: 10.0807 / 0.0131', () => {
    const r = run({});
    expect(Math.abs(r.sum - 10.0807)).toBeLessThan(1e-2);
    expect(Math.abs(r.mean - 0.0131)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_v_prediction: 0.0002 / 2.2676e-06', () => {
    const r = run({ prediction_type: 'v_prediction' });
    expect(Math.abs(r.sum - 0.0002)).toBeLessThan(1e-2);
    expect(Math.abs(r.mean - 2.2676e-6)).toBeLessThan(1e-3);
  });
  it('test_full_loop_device_karras_sigmas: 124.52299499511719 / 0.16213932633399963', () => {
    const r = run({ use_karras_sigmas: true });
    expect(Math.abs(r.sum - 124.52299499511719)).toBeLessThan(1e-2);
    expect(Math.abs(r.mean - 0.16213932633399963)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_noise (t_start 8): 57062.9297 / 74.3007', () => {
    const r = run({}, 8);
    expect(Math.abs(r.sum - 57062.9297)).toBeLessThan(1e-2);
    expect(Math.abs(r.mean - 74.3007)).toBeLessThan(1e-3);
  });
});

describe('EulerDiscreteScheduler — custom schedules (diffusers test_custom_timesteps / test_custom_sigmas)', () => {
  const loop = (s: EulerDiscreteScheduler) => fullLoop(s, { generator: new TorchGenerator(0) });
  for (const prediction_type of ['epsilon', 'sample', 'v_prediction']) {
    for (const final_sigmas_type of ['sigma_min', 'zero']) {
      it(`custom timesteps reproduce the default loop (${prediction_type}, ${final_sigmas_type})`, () => {
        const cfg = { ...BASE, prediction_type, final_sigmas_type };
        const a = EulerDiscreteScheduler.fromConfig(cfg);
        a.setTimesteps(10);
        const b = EulerDiscreteScheduler.fromConfig(cfg);
        b.setTimesteps(0, { timesteps: a.timesteps });
        const c = EulerDiscreteScheduler.fromConfig(cfg);
        c.setTimesteps(0, { sigmas: a.sigmas });
        const xa = loop(a);
        expect(sumAbs(xa.sub(loop(b)))).toBeLessThan(1e-5);
        expect(sumAbs(xa.sub(loop(c)))).toBeLessThan(1e-5);
      });
    }
  }
});

describe('EulerDiscreteScheduler — schedules', () => {
  it('timesteps/sigmas for 10 steps of T=1100 (linspace), σ_max as init noise', () => {
    const s = EulerDiscreteScheduler.fromConfig(BASE);
    s.setTimesteps(10);
    // np.linspace(0, 1099, 10, dtype=float32)[::-1]: fl32(k · 1099/9), the end point exact
    expect(s.timesteps).toEqual([
      1099,
      ...Array.from({ length: 9 }, (_, j) => Math.fround((8 - j) * (1099 / 9))),
    ]);
    expect(s.sigmas).toHaveLength(11);
    expect(s.sigmas[10]).toBe(0);
    expect(s.initNoiseSigma).toBe(s.sigmas[0]);
    const lead = EulerDiscreteScheduler.fromConfig({ ...BASE, timestep_spacing: 'leading', steps_offset: 1 });
    lead.setTimesteps(10);
    expect(lead.timesteps[0]).toBe(991);
    const max = lead.sigmas[0]!;
    expect(lead.initNoiseSigma).toBeCloseTo(Math.sqrt(max * max + 1), 5);
  });
  it('Karras timesteps come from sigma→t and start at T − 1', () => {
    const s = EulerDiscreteScheduler.fromConfig({ ...BASE, use_karras_sigmas: true });
    s.setTimesteps(10);
    expect(s.timesteps[0]).toBeCloseTo(1099, 3);
    expect(s.timesteps[9]).toBeCloseTo(0, 3);
    expect(s.sigmas[0]).toBeCloseTo(261.0555725097656, 3);
  });
  it('exponential and beta sigmas decrease from σmax to σmin', () => {
    for (const key of ['use_exponential_sigmas', 'use_beta_sigmas']) {
      const s = EulerDiscreteScheduler.fromConfig({ ...BASE, [key]: true });
      s.setTimesteps(8);
      const sig = s.sigmas;
      for (let i = 1; i < 8; i++) expect(sig[i]!).toBeLessThan(sig[i - 1]!);
      expect(sig[8]).toBe(0);
    }
  });
  it('continuous v-prediction timesteps are 0.25·log σ', () => {
    const s = EulerDiscreteScheduler.fromConfig({
      ...BASE,
      timestep_type: 'continuous',
      prediction_type: 'v_prediction',
    });
    s.setTimesteps(5);
    for (const [i, t] of s.timesteps.entries()) expect(t).toBeCloseTo(0.25 * Math.log(s.sigmas[i]!), 5);
  });
  it('final_sigmas_type sigma_min ends at the first training sigma; rescale_betas_zero_snr gives a huge σ_max', () => {
    const s = EulerDiscreteScheduler.fromConfig({ ...BASE, final_sigmas_type: 'sigma_min' });
    s.setTimesteps(4);
    // ((1 − ᾱ0) / ᾱ0) ** 0.5 in float32 torch ops, ᾱ0 = fl32(1 − fl32(1e-4))
    const a0 = Math.fround(1 - Math.fround(0.0001));
    expect(s.sigmas[4]).toBe(Math.fround(Math.sqrt(Math.fround(Math.fround(1 - a0) / a0))));
    const z = EulerDiscreteScheduler.fromConfig({
      rescale_betas_zero_snr: true,
      timestep_spacing: 'trailing',
    });
    z.setTimesteps(4);
    expect(z.sigmas[0]).toBeCloseTo(4096, 0); // √((1 − 2^-24) / 2^-24)
  });
});

describe('EulerDiscreteScheduler — config, validation, state', () => {
  it('fromConfig round-trips and swaps samplers', () => {
    const s = EulerDiscreteScheduler.fromConfig({ ...BASE, use_karras_sigmas: true, unknown_key: 1 });
    expect(s.config._class_name).toBe('EulerDiscreteScheduler');
    expect(s.config).toHaveProperty('unknown_key', 1); // carried along as hidden config, as in diffusers
    expect(EulerDiscreteScheduler.fromConfig(s.config).config).toEqual(s.config);
    const a = EulerAncestralDiscreteScheduler.fromConfig(s.config);
    expect(a.config.num_train_timesteps).toBe(1100);
    expect(a.config._class_name).toBe('EulerAncestralDiscreteScheduler');
  });
  it('rejects unknown config choices, naming the key and the allowed values', () => {
    expect(() => EulerDiscreteScheduler.fromConfig({ prediction_type: 'eps' })).toThrow(
      /prediction_type.*"epsilon"/,
    );
    expect(() => EulerDiscreteScheduler.fromConfig({ interpolation_type: 'cubic' })).toThrow(
      InvalidArgumentError,
    );
    expect(() =>
      EulerDiscreteScheduler.fromConfig({ use_karras_sigmas: true, use_beta_sigmas: true }),
    ).toThrow(/at most one/);
    expect(() => EulerDiscreteScheduler.fromConfig({ beta_schedule: 'cosine' })).toThrow(/beta_schedule/);
  });
  it('rejects step before setTimesteps, unknown timesteps and bad option combinations', () => {
    const s = EulerDiscreteScheduler.fromConfig(BASE);
    const x = dummySampleDeter();
    expect(() => s.step(x, 1099, x)).toThrow(/setTimesteps/);
    s.setTimesteps(10);
    expect(() => s.step(x, 5, x)).toThrow(/one of scheduler.timesteps/);
    expect(() => s.setTimesteps(0)).toThrow(InvalidArgumentError);
    expect(() => s.setTimesteps(0, { timesteps: [1, 2], sigmas: [1, 0] })).toThrow(/only one/);
    const k = EulerDiscreteScheduler.fromConfig({ use_karras_sigmas: true });
    expect(() => k.setTimesteps(0, { timesteps: [999, 500] })).toThrow(InvalidArgumentError);
    expect(() => s.step(x, 1099, new Tensor(new Float32Array(4), [4]))).toThrow(/shape/);
  });
  it('churn draws noise from the generator: same seed, same result; different seed, different', () => {
    const go = (seed: number) => {
      const s = EulerDiscreteScheduler.fromConfig(BASE);
      s.setTimesteps(5);
      const g = new TorchGenerator(seed);
      let x = dummySampleDeter();
      for (const t of s.timesteps) {
        x = s.scaleModelInput(x, t);
        x = s.step(dummyModel(x, t), t, x, { generator: g, sChurn: 1.0 }).prevSample;
      }
      return x;
    };
    expect(Array.from(go(3).data)).toEqual(Array.from(go(3).data));
    expect(sumAbs(go(3).sub(go(4)))).toBeGreaterThan(1e-3);
  });
  it('setBeginIndex starts img2img part-way: addNoise uses that index and the loop runs from there', () => {
    const s = EulerDiscreteScheduler.fromConfig(BASE);
    s.setTimesteps(10);
    s.setBeginIndex(6);
    const x = dummySampleDeter();
    const noise = Tensor.full(x.shape, 1);
    const noisy = s.addNoise(x, noise, s.timesteps[6]!);
    expect(noisy.data[0]! - x.data[0]!).toBeCloseTo(s.sigmas[6]!, 5);
    let y = noisy;
    for (const t of s.timesteps.slice(6)) {
      y = s.scaleModelInput(y, t);
      y = s.step(dummyModel(y, t), t, y).prevSample;
    }
    expect(s.stepIndex).toBe(10);
    expect(() => s.step(y, 0, y)).toThrow(/finished/);
  });
});
