import { TorchGenerator } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { KDPM2AncestralDiscreteScheduler } from './k-dpm2-ancestral-discrete-scheduler.js';
import { fullLoop, meanAbs, sumAbs } from './shared/diffusers-test-inputs.js';

// diffusers tests/schedulers/test_scheduler_kdpm2_ancestral.py: get_scheduler_config(); torch.manual_seed(0)
const BASE = { num_train_timesteps: 1100, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

function run(extra: Record<string, unknown>, tStart?: number, seed = 0) {
  const s = KDPM2AncestralDiscreteScheduler.fromConfig({ ...BASE, ...extra });
  s.setTimesteps(10);
  return fullLoop(s, { generator: new TorchGenerator(seed), tStart });
}

describe('KDPM2AncestralDiscreteScheduler — diffusers expected numbers (torch CPU generator, seed 0)', () => {
  it('test_full_loop_no_noise: 13979.9433 / 18.2030 (mean tol 5e-3)', () => {
    const x = run({});
    expect(Math.abs(sumAbs(x) - 13979.9433)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 18.203)).toBeLessThan(5e-3);
  });
  it('test_full_loop_with_v_prediction: 331.8133 / 0.4320', () => {
    const x = run({ prediction_type: 'v_prediction' });
    expect(Math.abs(sumAbs(x) - 331.8133)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 0.432)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_noise (t_start 8): 93087.3437 / 121.2074 (mean tol 5e-3)', () => {
    const x = run({}, 8);
    expect(Math.abs(sumAbs(x) - 93087.3437)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 121.2074)).toBeLessThan(5e-3);
  });
});

describe('KDPM2AncestralDiscreteScheduler — behaviour', () => {
  it('is deterministic per seed; timesteps interleave like KDPM2; config round-trips', () => {
    expect(Array.from(run({}, undefined, 5).data)).toEqual(Array.from(run({}, undefined, 5).data));
    expect(sumAbs(run({}, undefined, 5).sub(run({}, undefined, 6)))).toBeGreaterThan(1e-3);
    const s = KDPM2AncestralDiscreteScheduler.fromConfig(BASE);
    s.setTimesteps(4);
    expect(s.timesteps).toHaveLength(7);
    expect(KDPM2AncestralDiscreteScheduler.fromConfig(s.config).config).toEqual(s.config);
  });
});
