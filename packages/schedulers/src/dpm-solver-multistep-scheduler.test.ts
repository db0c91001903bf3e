import {
  InvalidArgumentError,
  NotImplementedError,
  ShapeMismatchError,
  Tensor,
  TorchGenerator,
} from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { DEISMultistepScheduler } from './deis-multistep-scheduler.js';
import { DPMSolverMultistepScheduler } from './dpm-solver-multistep-scheduler.js';
import { DPMSolverSinglestepScheduler } from './dpm-solver-singlestep-scheduler.js';
import {
  absSumMean,
  dpmFullLoop,
  dpmFullLoopWithNoise,
  dummyModel,
  dummySampleDeter,
} from './shared/diffusers-test-inputs.js';
import { UniPCMultistepScheduler } from './uni-pc-multistep-scheduler.js';

// diffusers tests/schedulers/test_scheduler_dpm_multi.py, DPMSolverMultistepSchedulerTest.get_scheduler_config
const TEST_CONFIG = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  solver_order: 2,
  prediction_type: 'epsilon',
  thresholding: false,
  sample_max_value: 1.0,
  algorithm_type: 'dpmsolver++',
  solver_type: 'midpoint',
  lower_order_final: false,
  euler_at_final: false,
  lambda_min_clipped: -Infinity,
  variance_type: null,
  final_sigmas_type: 'sigma_min',
};

// Stable Diffusion 1.5's scheduler_config.json (a PNDM config; loaded as DPM++ 2M by swapping classes).
const SD15 = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.6.0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
  clip_sample: false,
};

const make = (o: Record<string, unknown> = {}) => new DPMSolverMultistepScheduler({ ...TEST_CONFIG, ...o });
// full_loop passes generator=torch.manual_seed(0); only SDE variants draw from it.
const loopMean = (o: Record<string, unknown> = {}) =>
  absSumMean(dpmFullLoop(make(o), 10, { generator: new TorchGenerator(0) })).mean;

describe('DPMSolverMultistepScheduler — diffusers test_scheduler_dpm_multi.py expected numbers', () => {
  it('test_full_loop_no_noise: mean 0.3301 (tol 1e-3)', () => {
    expect(Math.abs(loopMean() - 0.3301)).toBeLessThan(1e-3);
  });
  it('test_full_loop_no_noise_thres: mean 1.1364 (ratio 0.87, max 0.5)', () => {
    const m = loopMean({ thresholding: true, dynamic_thresholding_ratio: 0.87, sample_max_value: 0.5 });
    expect(Math.abs(m - 1.1364)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_v_prediction: mean 0.2251', () => {
    expect(Math.abs(loopMean({ prediction_type: 'v_prediction' }) - 0.2251)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_karras_and_v_prediction: mean 0.2096', () => {
    const m = loopMean({ prediction_type: 'v_prediction', use_karras_sigmas: true });
    expect(Math.abs(m - 0.2096)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_lu_and_v_prediction: mean 0.1554', () => {
    const m = loopMean({ prediction_type: 'v_prediction', use_lu_lambdas: true });
    expect(Math.abs(m - 0.1554)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_noise (t_start 5): sum 318.4111 (tol 1e-2), mean 0.4146', () => {
    const { sum, mean } = absSumMean(dpmFullLoopWithNoise(make(), 5));
    expect(Math.abs(sum - 318.4111)).toBeLessThan(1e-2);
    expect(Math.abs(mean - 0.4146)).toBeLessThan(1e-3);
  });
  it('test_switch: DPM → Singlestep → UniPC → DEIS → DPM keeps mean 0.3301', () => {
    let cfg: Readonly<Record<string, unknown>> = make().config;
    cfg = DPMSolverSinglestepScheduler.fromConfig(cfg).config;
    cfg = UniPCMultistepScheduler.fromConfig(cfg).config;
    cfg = DEISMultistepScheduler.fromConfig(cfg).config;
    const back = DPMSolverMultistepScheduler.fromConfig(cfg);
    expect(back.config.algorithm_type).toBe('dpmsolver++');
    expect(back.config.solver_type).toBe('midpoint');
    expect(Math.abs(absSumMean(dpmFullLoop(back)).mean - 0.3301)).toBeLessThan(1e-3);
  });
  it('test_full_loop_custom_timesteps: custom timesteps give the same loop', () => {
    const a = dpmFullLoop(make());
    const s = make();
    s.setTimesteps(10);
    const ts = [...s.timesteps];
    const c = make();
    c.setTimesteps(undefined, { timesteps: ts });
    let x = dummySampleDeter();
    for (const t of c.timesteps) x = c.step(dummyModel(x, t), t, x).prevSample;
    expect(Array.from(x.data)).toEqual(Array.from(a.data));
  });
  it('solver orders 1–3 × midpoint/heun × dpmsolver/dpmsolver++ run without NaN', () => {
    for (const algorithm_type of ['dpmsolver', 'dpmsolver++']) {
      for (const solver_type of ['midpoint', 'heun']) {
        for (const solver_order of [1, 2, 3]) {
          for (const prediction_type of ['epsilon', 'sample']) {
            const x = dpmFullLoop(make({ algorithm_type, solver_type, solver_order, prediction_type }));
            expect(x.data.some(Number.isNaN)).toBe(false);
          }
        }
      }
    }
  });
});

describe('DPMSolverMultistepScheduler — timesteps (SD 1.5 config, 20 steps, derived from the formulas)', () => {
  it('leading divides by n + 1: ratio 1000 // 21 = 47, plus steps_offset 1', () => {
    const s = DPMSolverMultistepScheduler.fromConfig({ ...SD15, timestep_spacing: 'leading' });
    s.setTimesteps(20);
    expect(s.timesteps).toEqual([
      941, 894, 847, 800, 753, 706, 659, 612, 565, 518, 471, 424, 377, 330, 283, 236, 189, 142, 95, 48,
    ]);
    expect(s.sigmas.length).toBe(21);
    expect(s.sigmas[20]).toBe(0); // final_sigmas_type "zero" by default
  });
  it('linspace: round(i · 999/20), ties to even (499.5 → 500)', () => {
    const s = DPMSolverMultistepScheduler.fromConfig(SD15);
    s.setTimesteps(20);
    expect(s.timesteps).toEqual([
      999, 949, 899, 849, 799, 749, 699, 649, 599, 549, 500, 450, 400, 350, 300, 250, 200, 150, 100, 50,
    ]);
  });
  it('trailing: arange(1000, 0, −50) − 1, and −1000/7 steps', () => {
    const s = DPMSolverMultistepScheduler.fromConfig({ ...SD15, timestep_spacing: 'trailing' });
    s.setTimesteps(20);
    expect(s.timesteps).toEqual([
      999, 949, 899, 849, 799, 749, 699, 649, 599, 549, 499, 449, 399, 349, 299, 249, 199, 149, 99, 49,
    ]);
    s.setTimesteps(7);
    expect(s.timesteps).toEqual([999, 856, 713, 570, 428, 285, 142]);
  });
  it('Karras sigmas run from σ_max to σ_min of the training schedule, timesteps decreasing', () => {
    const s = DPMSolverMultistepScheduler.fromConfig({ ...SD15, use_karras_sigmas: true });
    s.setTimesteps(20);
    expect(s.timesteps[0]).toBe(999);
    expect(s.timesteps[19]).toBe(0);
    // SD's σ_max = √((1 − ᾱ_999)/ᾱ_999) ≈ 14.6146, σ_min ≈ 0.0292.
    expect(s.sigmas[0]).toBeCloseTo(14.6146, 3);
    expect(s.sigmas[19]).toBeCloseTo(0.02916753, 6);
    for (let i = 1; i < 20; i++) expect(s.sigmas[i]!).toBeLessThan(s.sigmas[i - 1]!);
  });
  it('lambda_min_clipped shortens the schedule (cosine betas)', () => {
    const s = new DPMSolverMultistepScheduler({
      beta_schedule: 'squaredcos_cap_v2',
      lambda_min_clipped: -5.1,
    });
    s.setTimesteps(10);
    expect(s.timesteps[0]!).toBeLessThan(999);
    const u = new DPMSolverMultistepScheduler({
      beta_schedule: 'squaredcos_cap_v2',
      lambda_min_clipped: '-inf',
    });
    u.setTimesteps(10);
    expect(u.timesteps[0]).toBe(999);
  });
});

describe('DPMSolverMultistepScheduler — config, state and validation', () => {
  it('fromConfig fills diffusers defaults, ignores unknown keys (kept as hidden config, as diffusers does), and round-trips', () => {
    const s = DPMSolverMultistepScheduler.fromConfig({ ...SD15, unknown_key: 1 });
    expect(s.config._class_name).toBe('DPMSolverMultistepScheduler');
    expect(s.config.solver_order).toBe(2);
    expect(s.config.final_sigmas_type).toBe('zero');
    expect(s.config.lambda_min_clipped).toBe(-Infinity);
    expect(s.config.unknown_key).toBe(1); // carried, unused: diffusers registers it as hidden config
    expect(s.config.set_alpha_to_one).toBe(false);
    const t = DPMSolverMultistepScheduler.fromConfig(s.config);
    expect(t.config).toEqual(s.config);
    expect(s.order).toBe(1);
    expect(s.initNoiseSigma).toBe(1);
  });
  it('maps sibling names as diffusers does (deis → dpmsolver++, bh2 → midpoint)', () => {
    const s = new DPMSolverMultistepScheduler({ algorithm_type: 'deis', solver_type: 'bh2' });
    expect(s.config.algorithm_type).toBe('dpmsolver++');
    expect(s.config.solver_type).toBe('midpoint');
  });
  it('rejects unknown choices naming the key and the allowed values', () => {
    expect(() => new DPMSolverMultistepScheduler({ algorithm_type: 'foo' })).toThrow(
      /algorithm_type.*dpmsolver\+\+/,
    );
    expect(() => new DPMSolverMultistepScheduler({ solver_type: 'rk4' })).toThrow(InvalidArgumentError);
    expect(() => new DPMSolverMultistepScheduler({ timestep_spacing: 'even' })).toThrow(/timestep_spacing/);
    expect(() => new DPMSolverMultistepScheduler({ prediction_type: 'x' })).toThrow(/prediction_type/);
    expect(() => new DPMSolverMultistepScheduler({ solver_order: 4 })).toThrow(/solver_order/);
  });
  it('rejects the combinations diffusers rejects', () => {
    expect(() => new DPMSolverMultistepScheduler({ algorithm_type: 'dpmsolver' })).toThrow(
      /final_sigmas_type/,
    );
    expect(() => new DPMSolverMultistepScheduler({ use_karras_sigmas: true, use_beta_sigmas: true })).toThrow(
      InvalidArgumentError,
    );
    expect(
      () =>
        new DPMSolverMultistepScheduler({
          algorithm_type: 'sde-dpmsolver',
          final_sigmas_type: 'sigma_min',
          solver_order: 3,
        }),
    ).toThrow(NotImplementedError);
    const k = new DPMSolverMultistepScheduler({ use_karras_sigmas: true });
    expect(() => k.setTimesteps(undefined, { timesteps: [999, 500] })).toThrow(/use_karras_sigmas/);
  });
  it('step before setTimesteps, an unknown timestep, and mismatched shapes are typed errors', () => {
    const s = make();
    const x = dummySampleDeter();
    expect(() => s.step(x, 999, x)).toThrow(/setTimesteps/);
    s.setTimesteps(10);
    expect(() => s.step(x, 998, x)).toThrow(/timestep/);
    expect(() => s.step(new Tensor(new Float32Array(4), [1, 4]), 999, x)).toThrow(ShapeMismatchError);
    expect(() => s.setTimesteps(0)).toThrow(InvalidArgumentError);
  });
  it('is deterministic: two runs give identical samples', () => {
    expect(Array.from(dpmFullLoop(make()).data)).toEqual(Array.from(dpmFullLoop(make()).data));
  });
  it('SDE variants draw from the generator: same seed ⇒ same output, different seed ⇒ different', () => {
    for (const algorithm_type of ['sde-dpmsolver++', 'sde-dpmsolver']) {
      const run = (seed: number) =>
        dpmFullLoop(make({ algorithm_type }), 10, { generator: new TorchGenerator(seed) }).data;
      const a = run(0);
      expect(Array.from(run(0))).toEqual(Array.from(a));
      expect(Array.from(run(1))).not.toEqual(Array.from(a));
      expect(a.some(Number.isNaN)).toBe(false);
    }
  });
  it('addNoise with setBeginIndex uses the begin index (img2img)', () => {
    const s = make();
    s.setTimesteps(10);
    const x = dummySampleDeter();
    const e = dummySampleDeter(true);
    const byTimestep = s.addNoise(x, e, s.timesteps[5]!);
    s.setBeginIndex(5);
    const byIndex = s.addNoise(x, e, 12345);
    expect(Array.from(byIndex.data)).toEqual(Array.from(byTimestep.data));
    // α_t·x + σ_t·ε with σ = sigmas[5]: check one element in float64 to float32 tolerance.
    const sig = s.sigmas[5]!;
    const a = 1 / Math.sqrt(sig * sig + 1);
    expect(byIndex.data[7]).toBeCloseTo(a * x.data[7]! + sig * a * e.data[7]!, 6);
  });
});
