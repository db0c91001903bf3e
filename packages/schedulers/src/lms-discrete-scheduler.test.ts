import { InvalidArgumentError, TorchGenerator } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { LMSDiscreteScheduler, lmsCoefficient } from './lms-discrete-scheduler.js';
import { dummySampleDeter, fullLoop, meanAbs, sumAbs } from './shared/diffusers-test-inputs.js';

// diffusers tests/schedulers/test_scheduler_lms.py: get_scheduler_config()
const BASE = { num_train_timesteps: 1100, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

function run(extra: Record<string, unknown>, tStart?: number) {
  const s = LMSDiscreteScheduler.fromConfig({ ...BASE, ...extra });
  s.setTimesteps(10);
  return fullLoop(s, { generator: new TorchGenerator(0), tStart });
}

describe('LMSDiscreteScheduler — diffusers expected numbers (test_scheduler_lms.py)', () => {
  it('test_full_loop_no_noise / device: 1006.388 / 1.31', () => {
    const x = run({});
    expect(Math.abs(sumAbs(x) - 1006.388)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 1.31)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_v_prediction: 0.0017 / 2.2676e-06', () => {
    const x = run({ prediction_type: 'v_prediction' });
    expect(Math.abs(sumAbs(x) - 0.0017)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 2.2676e-6)).toBeLessThan(1e-3);
  });
  it('test_full_loop_device_karras_sigmas: 3812.9927 / 4.9648 (sum tol 2e-2)', () => {
    const x = run({ use_karras_sigmas: true });
    expect(Math.abs(sumAbs(x) - 3812.9927)).toBeLessThan(2e-2);
    expect(Math.abs(meanAbs(x) - 4.9648)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_noise (t_start 8): 27663.6895 / 36.0204', () => {
    const x = run({}, 8);
    expect(Math.abs(sumAbs(x) - 27663.6895)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 36.0204)).toBeLessThan(1e-3);
  });
});

describe('lmsCoefficient (exact integral of the Lagrange basis polynomial)', () => {
  // Nodes σ_t = 2, σ_{t−1} = 3, σ_{t−2} = 5, σ_{t−3} = 9 (descending in time), integrate from σ_t = 2 to σ_{t+1} = 1.
  const sigmas = [9, 5, 3, 2, 1];
  const t = 3;
  it('order 1: ∫ 1 dτ = σ_{t+1} − σ_t', () => {
    expect(lmsCoefficient(sigmas, 1, t, 0)).toBeCloseTo(-1, 14);
  });
  it('order 2: ℓ0(τ) = (τ − 3)/(2 − 3) → ∫_2^1 = −1.5; ℓ1 = (τ − 2)/(3 − 2) → ∫_2^1 = 0.5', () => {
    expect(lmsCoefficient(sigmas, 2, t, 0)).toBeCloseTo(-1.5, 14);
    expect(lmsCoefficient(sigmas, 2, t, 1)).toBeCloseTo(0.5, 14);
  });
  it('order 4: coefficients sum to σ_{t+1} − σ_t and ℓ0 matches the hand-integrated cubic', () => {
    const c = [0, 1, 2, 3].map((j) => lmsCoefficient(sigmas, 4, t, j));
    expect(c.reduce((a, b) => a + b, 0)).toBeCloseTo(-1, 13);
    // ℓ0(τ) = (τ−3)(τ−5)(τ−9) / ((2−3)(2−5)(2−9)) = (τ³ − 17τ² + 87τ − 135) / (−21)
    // ∫_2^1 = −(F(1) − F(2)) / 21 with F = τ⁴/4 − 17τ³/3 + 87τ²/2 − 135τ
    const F = (x: number) => x ** 4 / 4 - (17 * x ** 3) / 3 + (87 * x ** 2) / 2 - 135 * x;
    expect(c[0]).toBeCloseTo(-(F(1) - F(2)) / 21, 12);
  });
});

describe('LMSDiscreteScheduler — behaviour', () => {
  it('uses step options.order, validates it, and round-trips its config', () => {
    const s = LMSDiscreteScheduler.fromConfig(BASE);
    s.setTimesteps(4);
    const x = dummySampleDeter();
    expect(() => s.step(x, s.timesteps[0]!, x, { order: 0 })).toThrow(InvalidArgumentError);
    expect(LMSDiscreteScheduler.fromConfig(s.config).config).toEqual(s.config);
  });
});
