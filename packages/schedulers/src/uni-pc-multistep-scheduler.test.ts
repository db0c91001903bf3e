import { InvalidArgumentError, NotImplementedError } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { DPMSolverMultistepScheduler } from './dpm-solver-multistep-scheduler.js';
import {
  absSumMean,
  dpmFullLoop,
  dpmFullLoopWithNoise,
  dummySampleDeter,
} from './shared/diffusers-test-inputs.js';
import { UniPCMultistepScheduler } from './uni-pc-multistep-scheduler.js';

// diffusers tests/schedulers/test_scheduler_unipc.py, UniPCMultistepSchedulerTest.get_scheduler_config
const TEST_CONFIG = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  solver_order: 2,
  solver_type: 'bh2',
  final_sigmas_type: 'sigma_min',
};
const make = (o: Record<string, unknown> = {}) => new UniPCMultistepScheduler({ ...TEST_CONFIG, ...o });
const loopMean = (o: Record<string, unknown> = {}) => absSumMean(dpmFullLoop(make(o))).mean;

describe('UniPCMultistepScheduler — diffusers test_scheduler_unipc.py expected numbers', () => {
  it('test_full_loop_no_noise: mean 0.2464 (tol 1e-3)', () => {
    expect(Math.abs(loopMean() - 0.2464)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_karras: mean 0.2925', () => {
    expect(Math.abs(loopMean({ use_karras_sigmas: true }) - 0.2925)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_v_prediction: mean 0.1014', () => {
    expect(Math.abs(loopMean({ prediction_type: 'v_prediction' }) - 0.1014)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_karras_and_v_prediction: mean 0.1966', () => {
    expect(
      Math.abs(loopMean({ prediction_type: 'v_prediction', use_karras_sigmas: true }) - 0.1966),
    ).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_noise (t_start 8): sum 315.5757 (tol 1e-2), mean 0.4109', () => {
    const { sum, mean } = absSumMean(dpmFullLoopWithNoise(make(), 8));
    expect(Math.abs(sum - 315.5757)).toBeLessThan(1e-2);
    expect(Math.abs(mean - 0.4109)).toBeLessThan(1e-3);
  });
  it('test_switch: UniPC config through DPMSolverMultistep and back keeps mean 0.2464', () => {
    const back = UniPCMultistepScheduler.fromConfig(
      DPMSolverMultistepScheduler.fromConfig(make().config).config,
    );
    expect(back.config.solver_type).toBe('bh2');
    expect(Math.abs(absSumMean(dpmFullLoop(back)).mean - 0.2464)).toBeLessThan(1e-3);
  });
  it('bh1 / bh2 × orders 1–3 × predict_x0 × lower_order_final, and disable_corrector, run without NaN', () => {
    for (const solver_type of ['bh1', 'bh2']) {
      for (const solver_order of [1, 2, 3]) {
        for (const predict_x0 of [true, false]) {
          for (const lower_order_final of [true, false]) {
            const x = dpmFullLoop(make({ solver_type, solver_order, predict_x0, lower_order_final }));
            expect(x.data.some(Number.isNaN)).toBe(false);
          }
        }
      }
    }
    const a = dpmFullLoop(make({ disable_corrector: [0, 1, 2] }));
    expect(Array.from(a.data)).not.toEqual(Array.from(dpmFullLoop(make()).data));
  });
  it('order 3 uses the float32 linear solve: close to order 2 on this smooth problem', () => {
    const m3 = absSumMean(dpmFullLoop(make({ solver_order: 3 }))).mean;
    expect(Math.abs(m3 - 0.2464)).toBeLessThan(0.05);
  });
});

describe('UniPCMultistepScheduler — config and validation', () => {
  it('maps midpoint/heun/logrho to bh2, fills defaults, round-trips', () => {
    const s = new UniPCMultistepScheduler({ solver_type: 'midpoint' });
    expect(s.config.solver_type).toBe('bh2');
    expect(s.config.predict_x0).toBe(true);
    expect(s.config.disable_corrector).toEqual([]);
    expect(UniPCMultistepScheduler.fromConfig(s.config).config).toEqual(s.config);
  });
  it('typed errors', () => {
    expect(() => make({ solver_type: 'rk' })).toThrow(/solver_type/);
    expect(() => make({ disable_corrector: 'x' })).toThrow(InvalidArgumentError);
    expect(() => make({ solver_p: {} })).toThrow(NotImplementedError);
    const x = dummySampleDeter();
    expect(() => make().step(x, 999, x)).toThrow(/setTimesteps/);
  });
  it('deterministic', () => {
    expect(Array.from(dpmFullLoop(make()).data)).toEqual(Array.from(dpmFullLoop(make()).data));
  });
});
