import { TorchGenerator } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { KDPM2DiscreteScheduler, logMidpoint } from './k-dpm2-discrete-scheduler.js';
import { fullLoop, meanAbs, sumAbs } from './shared/diffusers-test-inputs.js';

// diffusers tests/schedulers/test_scheduler_kdpm2_discrete.py: get_scheduler_config()
const BASE = { num_train_timesteps: 1100, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

function run(extra: Record<string, unknown>, tStart?: number) {
  const s = KDPM2DiscreteScheduler.fromConfig({ ...BASE, ...extra });
  s.setTimesteps(10);
  return fullLoop(s, { generator: new TorchGenerator(0), tStart });
}

describe('KDPM2DiscreteScheduler — diffusers expected numbers (test_scheduler_kdpm2_discrete.py)', () => {
  it('test_full_loop_no_noise / device: 20.4125 / 0.0266', () => {
    const x = run({});
    expect(Math.abs(sumAbs(x) - 20.4125)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 0.0266)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_v_prediction: 4.6934e-07 / 6.1112e-10', () => {
    const x = run({ prediction_type: 'v_prediction' });
    expect(Math.abs(sumAbs(x) - 4.6934e-7)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 6.1112e-10)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_noise (t_start 8): 70408.4062 / 91.6776', () => {
    const x = run({}, 8);
    expect(Math.abs(sumAbs(x) - 70408.4062)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 91.6776)).toBeLessThan(1e-3);
  });
});

describe('KDPM2DiscreteScheduler — schedule', () => {
  it('interleaves midpoint timesteps: [t0, tm1, t1, …] (2n − 1), sigmas 2n + 2 with log-midpoints', () => {
    const s = KDPM2DiscreteScheduler.fromConfig(BASE);
    s.setTimesteps(5);
    const t = s.timesteps;
    expect(t).toHaveLength(9);
    expect(t[0]).toBe(1099);
    for (let i = 1; i < 9; i += 2) {
      expect(t[i]!).toBeLessThan(t[i - 1]!);
      expect(t[i]!).toBeGreaterThan(t[i + 1]!);
    }
    expect(s.sigmas).toHaveLength(12);
  });
  it('logMidpoint is the geometric mean (float32)', () => {
    expect(logMidpoint(4, 1)).toBeCloseTo(2, 6);
    expect(logMidpoint(0, 3)).toBe(0);
  });
  it('Karras timesteps are rounded to integers (np.round) and kept as float64 values', () => {
    const s = KDPM2DiscreteScheduler.fromConfig({ ...BASE, use_karras_sigmas: true });
    s.setTimesteps(5);
    for (let i = 0; i < s.timesteps.length; i += 2) expect(Number.isInteger(s.timesteps[i])).toBe(true);
    expect(KDPM2DiscreteScheduler.fromConfig(s.config).config).toEqual(s.config);
  });
});
