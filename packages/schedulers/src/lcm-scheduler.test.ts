import { InvalidArgumentError, type Tensor, TorchGenerator } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { LCMScheduler } from './lcm-scheduler.js';
import { absSumMean, dummyModel, dummySampleDeter } from './shared/diffusers-test-inputs.js';

// Expected numbers: huggingface/diffusers tests/schedulers/test_scheduler_lcm.py (LCMSchedulerTest), as
// listed in the project's diffusers-scheduler-tests reference. The loop draws with torch.manual_seed(0):
// TorchGenerator(0) reproduces torch's CPU generator.
const BASE = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  prediction_type: 'epsilon',
};

function fullLoop(steps: number, config: Record<string, unknown> = {}): Tensor {
  const scheduler = LCMScheduler.fromConfig({ ...BASE, ...config });
  const generator = new TorchGenerator(0);
  scheduler.setTimesteps(steps);
  let sample = dummySampleDeter();
  for (const t of scheduler.timesteps)
    sample = scheduler.step(dummyModel(sample, t), t, sample, { generator }).prevSample;
  return sample;
}

describe('LCMScheduler — diffusers expected numbers', () => {
  it('one step (no noise drawn): 18.7097 / 0.0244', () => {
    const r = absSumMean(fullLoop(1));
    expect(Math.abs(r.sum - 18.7097)).toBeLessThan(1e-3);
    expect(Math.abs(r.mean - 0.0244)).toBeLessThan(1e-3);
  });
  it('10 steps (seed 0): 197.7616 / 0.2575', () => {
    const r = absSumMean(fullLoop(10));
    expect(Math.abs(r.sum - 197.7616)).toBeLessThan(1e-2);
    expect(Math.abs(r.mean - 0.2575)).toBeLessThan(1e-3);
  });
});

describe('LCMScheduler — schedule, determinism, validation', () => {
  it('4 steps from the 50-step distillation schedule (k = 20): 999, 759, 499, 259', () => {
    const s = LCMScheduler.fromConfig(BASE);
    s.setTimesteps(4);
    expect(s.timesteps).toEqual([999, 759, 499, 259]);
  });
  it('strength 0.5 keeps the first 25 distillation timesteps: 4 steps → 499, 379, 259, 139', () => {
    const s = LCMScheduler.fromConfig(BASE);
    s.setTimesteps(4, { strength: 0.5 });
    // arange(1, 26)·20 − 1 reversed = 499 … 19; floor(linspace(0, 25, 4, endpoint=False)) = 0, 6, 12, 18.
    expect(s.timesteps).toEqual([499, 379, 259, 139]);
  });
  it('custom timesteps are kept as given', () => {
    const s = LCMScheduler.fromConfig(BASE);
    s.setTimesteps(undefined, { timesteps: [999, 499, 259] });
    expect(s.timesteps).toEqual([999, 499, 259]);
  });
  it('same seed → same result; the noise between steps comes from the generator', () => {
    const a = fullLoop(4);
    const b = fullLoop(4);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
  });
  it('more steps than original_inference_steps, timesteps off the schedule, step before setTimesteps → errors', () => {
    const s = LCMScheduler.fromConfig(BASE);
    const x = dummySampleDeter();
    expect(() => s.step(x, 999, x)).toThrow(/setTimesteps/);
    expect(() => s.setTimesteps(51)).toThrow(InvalidArgumentError);
    s.setTimesteps(4);
    expect(() => s.step(x, 998, x)).toThrow(/scheduler.timesteps/);
  });
  it('setBeginIndex starts part-way: the step at index 2 re-noises to timesteps[3]', () => {
    const s = LCMScheduler.fromConfig(BASE);
    s.setTimesteps(4);
    s.setBeginIndex(2);
    const x = dummySampleDeter();
    const out = s.step(dummyModel(x, 499), 499, x, { generator: new TorchGenerator(1) });
    expect(out.prevSample.shape).toEqual([4, 3, 8, 8]);
    const last = s.step(dummyModel(out.prevSample, 259), 259, out.prevSample);
    // The last step returns the denoised estimate itself (no noise).
    expect(Array.from(last.prevSample.data)).toEqual(Array.from(last.predOriginalSample!.data));
  });
});
