import { InvalidArgumentError } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { DDIMScheduler } from '../ddim-scheduler.js';
import { DDPMScheduler } from '../ddpm-scheduler.js';
import { alphaScheduleFromConfig } from './alphas.js';
import { alphasCumprodFromBetas, BETA_SCHEDULES, betasFromConfig } from './betas.js';
import { vpSchedule } from './dpm-common.js';
import { alphasCumprodForConfig } from './sigma-scheduler.js';

const SD15 = {
  num_train_timesteps: 1000,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  beta_end: 0.012,
};

describe('memoised noise schedules', () => {
  it('give equal arrays on every call, as fresh copies (mutating one leaves the next untouched)', () => {
    const a = alphaScheduleFromConfig('DDIMScheduler', SD15);
    a.alphasCumprod[0] = 123;
    a.betas[1] = 456;
    const b = alphaScheduleFromConfig('DDIMScheduler', SD15);
    expect(b.alphasCumprod[0]).not.toBe(123);
    expect(b.betas[1]).not.toBe(456);
    const c = alphaScheduleFromConfig('DDIMScheduler', SD15);
    expect(c.alphasCumprod).toEqual(b.alphasCumprod);
    expect(c.alphasCumprod).not.toBe(b.alphasCumprod);
    const v1 = vpSchedule('DPMSolverMultistepScheduler', SD15);
    v1.lambdas.fill(0);
    const v2 = vpSchedule('DPMSolverMultistepScheduler', SD15);
    expect(v2.lambdas.some((x) => x !== 0)).toBe(true);
    const e1 = alphasCumprodForConfig(
      'EulerDiscreteScheduler',
      { ...SD15, rescale_betas_zero_snr: true },
      true,
    );
    const e2 = alphasCumprodForConfig('EulerDiscreteScheduler', SD15, false);
    expect(e1[999]).toBe(2 ** -24); // the rescaled schedule is its own entry
    expect(e2[999]).not.toBe(2 ** -24);
  });

  it('keep the config checks: a schedule one class accepts is still refused by a class that does not', () => {
    const sigmoid = { ...SD15, beta_schedule: 'sigmoid' };
    expect(BETA_SCHEDULES).not.toContain('sigmoid');
    expect(() => new DDPMScheduler(sigmoid)).not.toThrow();
    expect(() => new DDIMScheduler(sigmoid)).toThrow(InvalidArgumentError);
    expect(() => new DDIMScheduler(sigmoid)).toThrow(InvalidArgumentError); // refused again, not cached
  });

  it('hold the same values as the unmemoised building blocks, on a hit as on a miss', () => {
    const betas = betasFromConfig('PNDMScheduler', SD15);
    const cumprod = alphasCumprodFromBetas(betas);
    for (let k = 0; k < 2; k++) {
      const s = alphaScheduleFromConfig('PNDMScheduler', SD15);
      expect(s.betas).toEqual(betas);
      expect(s.alphasCumprod).toEqual(cumprod);
      expect(alphasCumprodForConfig('HeunDiscreteScheduler', SD15)).toEqual(cumprod);
      expect(vpSchedule('DEISMultistepScheduler', SD15).alphasCumprod).toEqual(cumprod);
    }
  });
});
