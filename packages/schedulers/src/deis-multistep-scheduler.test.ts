import { describe, expect, it } from 'vitest';
import { DEISMultistepScheduler } from './deis-multistep-scheduler.js';
import { DPMSolverMultistepScheduler } from './dpm-solver-multistep-scheduler.js';
import {
  absSumMean,
  dpmFullLoop,
  dpmFullLoopWithNoise,
  dummySampleDeter,
} from './shared/diffusers-test-inputs.js';

// diffusers tests/schedulers/test_scheduler_deis.py, DEISMultistepSchedulerTest.get_scheduler_config
const TEST_CONFIG = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  solver_order: 2,
};
const make = (o: Record<string, unknown> = {}) => new DEISMultistepScheduler({ ...TEST_CONFIG, ...o });

describe('DEISMultistepScheduler — diffusers test_scheduler_deis.py expected numbers', () => {
  it('test_full_loop_no_noise: mean 0.23916 (tol 1e-3)', () => {
    expect(Math.abs(absSumMean(dpmFullLoop(make())).mean - 0.23916)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_v_prediction: mean 0.091', () => {
    expect(
      Math.abs(absSumMean(dpmFullLoop(make({ prediction_type: 'v_prediction' }))).mean - 0.091),
    ).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_noise (t_start 8): sum 315.3016 (tol 1e-2), mean 0.41054', () => {
    const { sum, mean } = absSumMean(dpmFullLoopWithNoise(make(), 8));
    expect(Math.abs(sum - 315.3016)).toBeLessThan(1e-2);
    expect(Math.abs(mean - 0.41054)).toBeLessThan(1e-3);
  });
  it('test_switch: DEIS → DPMSolverMultistep → DEIS keeps mean 0.23916', () => {
    const back = DEISMultistepScheduler.fromConfig(
      DPMSolverMultistepScheduler.fromConfig(make().config).config,
    );
    expect(back.config.algorithm_type).toBe('deis');
    expect(back.config.solver_type).toBe('logrho');
    expect(Math.abs(absSumMean(dpmFullLoop(back)).mean - 0.23916)).toBeLessThan(1e-3);
  });
  it('orders 1–3, prediction types and Karras / exponential sigmas run without NaN', () => {
    for (const solver_order of [1, 2, 3]) {
      for (const prediction_type of ['epsilon', 'sample', 'v_prediction']) {
        const x = dpmFullLoop(make({ solver_order, prediction_type }));
        expect(x.data.some(Number.isNaN)).toBe(false);
      }
    }
    for (const key of ['use_karras_sigmas', 'use_exponential_sigmas', 'use_beta_sigmas']) {
      const x = dpmFullLoop(make({ [key]: true }));
      expect(x.data.some(Number.isNaN)).toBe(false);
    }
  });
});

describe('DEISMultistepScheduler — config and validation', () => {
  it('defaults, name mapping and round trip', () => {
    const s = new DEISMultistepScheduler({ algorithm_type: 'dpmsolver++', solver_type: 'midpoint' });
    expect(s.config.algorithm_type).toBe('deis');
    expect(s.config.solver_type).toBe('logrho');
    expect(s.config.lower_order_final).toBe(true);
    expect(DEISMultistepScheduler.fromConfig(s.config).config).toEqual(s.config);
  });
  it('timesteps per spacing (leading divides by n + 1)', () => {
    const s = new DEISMultistepScheduler({ timestep_spacing: 'leading', steps_offset: 1 });
    s.setTimesteps(20);
    expect(s.timesteps.slice(0, 3)).toEqual([941, 894, 847]);
    expect(s.timesteps[19]).toBe(48);
  });
  it('typed errors', () => {
    expect(() => make({ algorithm_type: 'foo' })).toThrow(/algorithm_type/);
    expect(() => make({ solver_type: 'foo' })).toThrow(/solver_type/);
    const x = dummySampleDeter();
    expect(() => make().step(x, 999, x)).toThrow(/setTimesteps/);
    const s = make();
    s.setTimesteps(10);
    expect(() => s.step(x, 7, x)).toThrow(/timestep/);
  });
});
