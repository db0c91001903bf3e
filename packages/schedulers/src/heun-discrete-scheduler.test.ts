import { TorchGenerator } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { HeunDiscreteScheduler } from './heun-discrete-scheduler.js';
import { KDPM2DiscreteScheduler } from './k-dpm2-discrete-scheduler.js';
import { dummyModel, dummySampleDeter, fullLoop, meanAbs, sumAbs } from './shared/diffusers-test-inputs.js';

// diffusers tests/schedulers/test_scheduler_heun.py: get_scheduler_config()
const BASE = { num_train_timesteps: 1100, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

function run(extra: Record<string, unknown>, tStart?: number) {
  const s = HeunDiscreteScheduler.fromConfig({ ...BASE, ...extra });
  s.setTimesteps(10);
  return fullLoop(s, { generator: new TorchGenerator(0), tStart });
}

describe('HeunDiscreteScheduler — diffusers expected numbers (test_scheduler_heun.py)', () => {
  it('test_full_loop_no_noise / device: 0.1233 / 0.0002', () => {
    const x = run({});
    expect(Math.abs(sumAbs(x) - 0.1233)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 0.0002)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_v_prediction: 4.6934e-07 / 6.1112e-10', () => {
    const x = run({ prediction_type: 'v_prediction' });
    expect(Math.abs(sumAbs(x) - 4.6934e-7)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 6.1112e-10)).toBeLessThan(1e-3);
  });
  it('test_full_loop_device_karras_sigmas: 0.00015 / 1.9869554535034695e-07 (mean tol 1e-2)', () => {
    const x = run({ use_karras_sigmas: true });
    expect(Math.abs(sumAbs(x) - 0.00015)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 1.9869554535034695e-7)).toBeLessThan(1e-2);
  });
  it('test_full_loop_with_noise (t_start 8): 75074.8906 / 97.7538', () => {
    const x = run({}, 8);
    expect(Math.abs(sumAbs(x) - 75074.8906)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 97.7538)).toBeLessThan(1e-3);
  });
});

describe('HeunDiscreteScheduler — schedule and state', () => {
  it('repeats inner timesteps and sigmas as diffusers: 2n − 1 timesteps, 2n sigmas', () => {
    const s = HeunDiscreteScheduler.fromConfig(BASE);
    s.setTimesteps(4);
    const t = s.timesteps;
    expect(t).toHaveLength(7);
    expect(t[0]).toBe(1099);
    expect(t[1]).toBe(t[2]);
    expect(t[5]).toBe(0);
    expect(s.sigmas).toHaveLength(8);
    expect(s.sigmas[1]).toBe(s.sigmas[2]);
    expect(s.sigmas[7]).toBe(0);
    expect(s.order).toBe(2);
  });
  it('alternates first- and second-order calls; a loop entered at a repeated timestep uses its second occurrence', () => {
    const s = HeunDiscreteScheduler.fromConfig(BASE);
    s.setTimesteps(4);
    const x = dummySampleDeter();
    expect(s.stateInFirstOrder).toBe(true);
    s.step(dummyModel(x, s.timesteps[0]!), s.timesteps[0]!, x);
    expect(s.stateInFirstOrder).toBe(false);
    const r = HeunDiscreteScheduler.fromConfig(BASE);
    r.setTimesteps(4);
    r.scaleModelInput(x, r.timesteps[1]!);
    expect(r.stepIndex).toBe(2);
  });
  it('custom timesteps reproduce the default schedule; config round trip and swap to KDPM2', () => {
    const a = HeunDiscreteScheduler.fromConfig(BASE);
    a.setTimesteps(6);
    const b = HeunDiscreteScheduler.fromConfig(BASE);
    b.setTimesteps(0, {
      timesteps: [1099, 879.2000122070312, 659.4000244140625, 439.6000061035156, 219.8000030517578, 0],
    });
    expect(b.timesteps).toEqual(a.timesteps);
    expect(HeunDiscreteScheduler.fromConfig(a.config).config).toEqual(a.config);
    expect(KDPM2DiscreteScheduler.fromConfig(a.config).config.beta_start).toBe(0.0001);
    const k = HeunDiscreteScheduler.fromConfig({ use_karras_sigmas: true });
    expect(() => k.setTimesteps(0, { timesteps: [10, 0] })).toThrow(/use_karras_sigmas/);
  });
  it('clip_sample clamps x0', () => {
    const s = HeunDiscreteScheduler.fromConfig({
      ...BASE,
      prediction_type: 'sample',
      clip_sample: true,
      clip_sample_range: 0.5,
    });
    s.setTimesteps(3);
    const x = dummySampleDeter();
    const out = s.step(x.mul(10), s.timesteps[0]!, x);
    expect(Math.max(...out.predOriginalSample!.data)).toBe(0.5);
  });
});
