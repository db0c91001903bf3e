import { UnknownSchedulerError } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { DDIMScheduler } from './ddim-scheduler.js';
import { DPMSolverMultistepScheduler } from './dpm-solver-multistep-scheduler.js';
import { EulerAncestralDiscreteScheduler } from './euler-ancestral-discrete-scheduler.js';
import { LMSDiscreteScheduler } from './lms-discrete-scheduler.js';
import { PNDMScheduler } from './pndm-scheduler.js';
import { a1111Schedulers, createScheduler, listSchedulerNames, schedulerClasses } from './registry.js';

// Stable Diffusion 1.5's scheduler/scheduler_config.json.
const SD15 = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.6.0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
  clip_sample: false,
};

describe('scheduler registry', () => {
  it('resolves every diffusers class name and every A1111 name to a working scheduler', () => {
    for (const name of listSchedulerNames()) {
      const s = createScheduler(name, SD15);
      s.setTimesteps(10);
      expect(s.timesteps.length).toBeGreaterThan(0);
    }
  });
  it('lists the A1111 names and the class names', () => {
    const names = listSchedulerNames();
    for (const n of [
      'Euler',
      'Euler a',
      'Heun',
      'LMS',
      'LMS Karras',
      'DPM2',
      'DPM2 a',
      'DPM++ 2M',
      'DPM++ 2M Karras',
    ]) {
      expect(names).toContain(n);
    }
    for (const n of ['DPM++ 2M SDE', 'DPM++ 2M SDE Karras', 'DDIM', 'PLMS', 'UniPC', 'DEIS', 'LCM', 'TCD']) {
      expect(names).toContain(n);
    }
    expect(names).toContain('DDIMScheduler');
    expect(names).toContain('EDMDPMSolverMultistepScheduler');
    expect(Object.keys(schedulerClasses).length).toBe(18);
  });
  it('A1111 names apply their overrides on top of the base config', () => {
    const karras = createScheduler('DPM++ 2M Karras', SD15);
    expect(karras).toBeInstanceOf(DPMSolverMultistepScheduler);
    expect(karras.config.use_karras_sigmas).toBe(true);
    expect(karras.config.beta_schedule).toBe('scaled_linear');
    const sde = createScheduler('DPM++ 2M SDE Karras', SD15);
    expect(sde.config.algorithm_type).toBe('sde-dpmsolver++');
    // A plain name drops Karras even when the base config (a Karras scheduler's) has it on.
    const plain = createScheduler('DPM++ 2M', karras.config);
    expect(plain.config.use_karras_sigmas).toBe(false);
    expect(createScheduler('LMS Karras', SD15)).toBeInstanceOf(LMSDiscreteScheduler);
    expect(createScheduler('LMS Karras', SD15).config.use_karras_sigmas).toBe(true);
    const plms = createScheduler('PLMS', { ...SD15, skip_prk_steps: false });
    expect(plms).toBeInstanceOf(PNDMScheduler);
    expect(plms.config.skip_prk_steps).toBe(true);
    expect(a1111Schedulers['Euler a']!.className).toBe('EulerAncestralDiscreteScheduler');
  });
  it('names match case-insensitively', () => {
    expect(createScheduler('euler A', SD15)).toBeInstanceOf(EulerAncestralDiscreteScheduler);
    expect(createScheduler('ddimscheduler', SD15)).toBeInstanceOf(DDIMScheduler);
  });
  it('unknown names → UnknownSchedulerError listing the known names', () => {
    expect(() => createScheduler('DPM++ 4M')).toThrow(UnknownSchedulerError);
    expect(() => createScheduler('DPM++ 4M')).toThrow(/Known names: .*DPM\+\+ 2M Karras.*DDIMScheduler/);
  });
});

describe('swapping schedulers through config', () => {
  it('X.fromConfig(other.config) keeps the shared keys and fills the rest with defaults', () => {
    const pndm = PNDMScheduler.fromConfig(SD15);
    const ddim = DDIMScheduler.fromConfig(pndm.config);
    expect(ddim.config._class_name).toBe('DDIMScheduler');
    expect(ddim.config.beta_start).toBe(0.00085);
    expect(ddim.config.steps_offset).toBe(1);
    expect(ddim.config.set_alpha_to_one).toBe(false);
    // PNDM has no clip_sample key, but carries SD 1.5's clip_sample: false as hidden config, as diffusers
    // does, so DDIM gets it (not its default, true).
    expect(ddim.config.clip_sample).toBe(false);
    const euler = EulerAncestralDiscreteScheduler.fromConfig(ddim.config);
    expect(euler.config._class_name).toBe('EulerAncestralDiscreteScheduler');
    const back = createScheduler('DDIMScheduler', euler.config);
    expect(back.config.beta_schedule).toBe('scaled_linear');
    // The same noise schedule: identical ᾱ.
    expect((back as DDIMScheduler).alphasCumprod).toEqual(pndm.alphasCumprod);
  });
  it('a class’s own config round-trips exactly for all five DDPM-family classes', () => {
    for (const name of ['DDIMScheduler', 'DDPMScheduler', 'PNDMScheduler', 'LCMScheduler', 'TCDScheduler']) {
      const a = createScheduler(name, SD15);
      const b = createScheduler(name, a.config);
      expect(b.config).toEqual(a.config);
    }
  });
  it('Infinity written as a string by Python’s json is read as a number; other strings are rejected', () => {
    const s = createScheduler('DDIMScheduler', { sample_max_value: 'Infinity' });
    expect(s.config.sample_max_value).toBe(Number.POSITIVE_INFINITY);
    expect(() => createScheduler('DDIMScheduler', { beta_start: '0.001' })).toThrow(/beta_start/);
  });
});
