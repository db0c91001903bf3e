import { InvalidArgumentError, NotImplementedError, TorchGenerator } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { DEISMultistepScheduler } from './deis-multistep-scheduler.js';
import { DPMSolverMultistepScheduler } from './dpm-solver-multistep-scheduler.js';
import { DPMSolverSinglestepScheduler, singlestepOrderList } from './dpm-solver-singlestep-scheduler.js';
import {
  absSumMean,
  dpmFullLoop,
  dpmFullLoopWithNoise,
  dummyModel,
  dummySampleDeter,
} from './shared/diffusers-test-inputs.js';
import { UniPCMultistepScheduler } from './uni-pc-multistep-scheduler.js';

// diffusers tests/schedulers/test_scheduler_dpm_single.py, DPMSolverSinglestepSchedulerTest.get_scheduler_config
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
  lambda_min_clipped: -Infinity,
  variance_type: null,
  final_sigmas_type: 'sigma_min',
};
const make = (o: Record<string, unknown> = {}) => new DPMSolverSinglestepScheduler({ ...TEST_CONFIG, ...o });
const loopMean = (o: Record<string, unknown> = {}) => absSumMean(dpmFullLoop(make(o))).mean;

describe('DPMSolverSinglestepScheduler — diffusers test_scheduler_dpm_single.py expected numbers', () => {
  it('test_full_loop_no_noise: mean 0.2791 (tol 1e-3)', () => {
    expect(Math.abs(loopMean() - 0.2791)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_karras: mean 0.2248', () => {
    expect(Math.abs(loopMean({ use_karras_sigmas: true }) - 0.2248)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_v_prediction: mean 0.1453', () => {
    expect(Math.abs(loopMean({ prediction_type: 'v_prediction' }) - 0.1453)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_karras_and_v_prediction: mean 0.0649', () => {
    expect(
      Math.abs(loopMean({ prediction_type: 'v_prediction', use_karras_sigmas: true }) - 0.0649),
    ).toBeLessThan(1e-3);
  });
  it('test_full_uneven_loop (50 steps, loop from index 3): mean 0.2574', () => {
    const s = make();
    s.setTimesteps(50);
    let x = dummySampleDeter();
    for (const t of s.timesteps.slice(3)) x = s.step(dummyModel(x, t), t, x).prevSample;
    expect(Math.abs(absSumMean(x).mean - 0.2574)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_noise (t_start 5): sum 269.2187 (tol 1e-2), mean 0.3505', () => {
    const { sum, mean } = absSumMean(dpmFullLoopWithNoise(make(), 5));
    expect(Math.abs(sum - 269.2187)).toBeLessThan(1e-2);
    expect(Math.abs(mean - 0.3505)).toBeLessThan(1e-3);
  });
  it('test_switch: Singlestep → DEIS → DPM → UniPC → Singlestep keeps mean 0.2791', () => {
    let cfg: Readonly<Record<string, unknown>> = make().config;
    cfg = DEISMultistepScheduler.fromConfig(cfg).config;
    cfg = DPMSolverMultistepScheduler.fromConfig(cfg).config;
    cfg = UniPCMultistepScheduler.fromConfig(cfg).config;
    const back = DPMSolverSinglestepScheduler.fromConfig(cfg);
    expect(Math.abs(absSumMean(dpmFullLoop(back)).mean - 0.2791)).toBeLessThan(1e-3);
  });
  it('solver orders 1–3 × midpoint/heun × dpmsolver/dpmsolver++ run without NaN', () => {
    for (const algorithm_type of ['dpmsolver', 'dpmsolver++']) {
      for (const solver_type of ['midpoint', 'heun']) {
        for (const solver_order of [1, 2, 3]) {
          const x = dpmFullLoop(make({ algorithm_type, solver_type, solver_order }));
          expect(x.data.some(Number.isNaN)).toBe(false);
        }
      }
    }
  });
});

describe('DPMSolverSinglestepScheduler — order list, config and validation', () => {
  it('order list as diffusers get_order_list', () => {
    expect(singlestepOrderList(10, 2, false)).toEqual([1, 2, 1, 2, 1, 2, 1, 2, 1, 2]);
    expect(singlestepOrderList(7, 2, true)).toEqual([1, 2, 1, 2, 1, 2, 1]);
    expect(singlestepOrderList(6, 2, true)).toEqual([1, 2, 1, 2, 1, 1]);
    expect(singlestepOrderList(9, 3, true)).toEqual([1, 2, 3, 1, 2, 3, 1, 2, 1]);
    expect(singlestepOrderList(7, 3, true)).toEqual([1, 2, 3, 1, 2, 3, 1]);
    expect(singlestepOrderList(8, 3, true)).toEqual([1, 2, 3, 1, 2, 3, 1, 2]);
  });
  it('uneven step counts switch lower_order_final on, as diffusers re-registers it', () => {
    const s = make();
    expect(s.config.lower_order_final).toBe(false);
    s.setTimesteps(7);
    expect(s.config.lower_order_final).toBe(true);
    expect(s.orders).toEqual([1, 2, 1, 2, 1, 2, 1]);
  });
  it('timesteps: linspace over [0, 999], float32 sigmas with σ_min appended', () => {
    const s = make();
    s.setTimesteps(10);
    expect(s.timesteps).toEqual([999, 899, 799, 699, 599, 500, 400, 300, 200, 100]);
    expect(s.sigmas.length).toBe(11);
    expect(s.sigmas[10]).toBeCloseTo(0.010001329, 8);
  });
  it('fromConfig round trip and typed errors', () => {
    const s = DPMSolverSinglestepScheduler.fromConfig({ solver_order: 3 });
    expect(DPMSolverSinglestepScheduler.fromConfig(s.config).config).toEqual(s.config);
    expect(s.config._class_name).toBe('DPMSolverSinglestepScheduler');
    expect(() => make({ algorithm_type: 'x' })).toThrow(/algorithm_type/);
    expect(() => make({ algorithm_type: 'dpmsolver', final_sigmas_type: 'zero' })).toThrow(
      InvalidArgumentError,
    );
    expect(() => make({ algorithm_type: 'sde-dpmsolver++', solver_order: 3 })).toThrow(NotImplementedError);
    const x = dummySampleDeter();
    expect(() => make().step(x, 999, x)).toThrow(/setTimesteps/);
  });
  it('SDE variant: same seed ⇒ same output, different seed ⇒ different', () => {
    const run = (seed: number) =>
      dpmFullLoop(make({ algorithm_type: 'sde-dpmsolver++' }), 10, { generator: new TorchGenerator(seed) })
        .data;
    const a = run(3);
    expect(Array.from(run(3))).toEqual(Array.from(a));
    expect(Array.from(run(4))).not.toEqual(Array.from(a));
  });
});
