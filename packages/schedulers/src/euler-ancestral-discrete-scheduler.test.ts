import { NotImplementedError, TorchGenerator } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { EulerAncestralDiscreteScheduler } from './euler-ancestral-discrete-scheduler.js';
import { EulerDiscreteScheduler } from './euler-discrete-scheduler.js';
import { dummySampleDeter, fullLoop, meanAbs, sumAbs } from './shared/diffusers-test-inputs.js';

// diffusers tests/schedulers/test_scheduler_euler_ancestral.py: get_scheduler_config(); generator = torch.manual_seed(0)
const BASE = { num_train_timesteps: 1100, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

function run(extra: Record<string, unknown>, tStart?: number, seed = 0) {
  const s = EulerAncestralDiscreteScheduler.fromConfig({ ...BASE, ...extra });
  s.setTimesteps(10);
  return fullLoop(s, { generator: new TorchGenerator(seed), tStart });
}

describe('EulerAncestralDiscreteScheduler — diffusers expected numbers (torch CPU generator, seed 0)', () => {
  it('test_full_loop_no_noise / test_full_loop_device: 152.3192 / 0.1983', () => {
    const x = run({});
    expect(Math.abs(sumAbs(x) - 152.3192)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 0.1983)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_v_prediction: 108.4439 / 0.1412', () => {
    const x = run({ prediction_type: 'v_prediction' });
    expect(Math.abs(sumAbs(x) - 108.4439)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 0.1412)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_noise (t_start 8): 56163.0508 / 73.1290', () => {
    const x = run({}, 8);
    expect(Math.abs(sumAbs(x) - 56163.0508)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 73.129)).toBeLessThan(1e-3);
  });
});

describe('EulerAncestralDiscreteScheduler — behaviour', () => {
  it('is deterministic per seed and differs between seeds', () => {
    expect(Array.from(run({}, undefined, 7).data)).toEqual(Array.from(run({}, undefined, 7).data));
    expect(sumAbs(run({}, undefined, 7).sub(run({}, undefined, 8)))).toBeGreaterThan(1e-3);
  });
  it('draws exactly one randn of the sample shape per step (generator state advances as diffusers)', () => {
    const s = EulerAncestralDiscreteScheduler.fromConfig(BASE);
    s.setTimesteps(2);
    const g = new TorchGenerator(0);
    const x = dummySampleDeter();
    s.step(x, s.timesteps[0]!, x, { generator: g });
    const ref = new TorchGenerator(0);
    ref.randn(x.shape);
    expect(Array.from(g.randn([16]).data)).toEqual(Array.from(ref.randn([16]).data));
  });
  it('round-trips its config, swaps from Euler, and rejects prediction_type "sample" at step', () => {
    const a = EulerAncestralDiscreteScheduler.fromConfig({ ...BASE, timestep_spacing: 'trailing' });
    expect(EulerAncestralDiscreteScheduler.fromConfig(a.config).config).toEqual(a.config);
    const e = EulerDiscreteScheduler.fromConfig(a.config);
    expect(e.config.timestep_spacing).toBe('trailing');
    const s = EulerAncestralDiscreteScheduler.fromConfig({ prediction_type: 'sample' });
    s.setTimesteps(3);
    const x = dummySampleDeter();
    expect(() => s.step(x, s.timesteps[0]!, x)).toThrow(NotImplementedError);
    expect(() => EulerAncestralDiscreteScheduler.fromConfig({ timestep_spacing: 'even' })).toThrow(
      /timestep_spacing/,
    );
  });
});
