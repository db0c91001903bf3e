import { describe, expect, it } from 'vitest';
import { schedulerClasses } from '../registry.js';
import { resolveConfig } from './config.js';

// Stable Diffusion 1.5's scheduler_config.json, plus keys that only some families know.
const CONFIG = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.6.0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  clip_sample: false,
  final_sigmas_type: 'zero', // DPM-Solver / UniPC / Euler
  euler_at_final: true, // DPM-Solver multistep only
  original_inference_steps: 40, // LCM / TCD only
  some_future_key: { nested: [1, 2] }, // no class knows it
};

describe('one config rule: unknown keys are carried along (diffusers registers them as hidden config)', () => {
  it('resolveConfig keeps unknown keys, fills defaults, and lets the class own its keys', () => {
    const c = resolveConfig('X', { a: 1, b: 'x' }, { a: null, c: 3, _class_name: 'Y' });
    expect(c).toEqual({ a: 1, b: 'x', c: 3, _class_name: 'X' });
  });

  it('A.fromConfig(B.fromConfig(cfg).config) keeps every key through a chain of families', () => {
    const chain = [
      'DDIMScheduler',
      'EulerDiscreteScheduler',
      'DEISMultistepScheduler',
      'LCMScheduler',
      'HeunDiscreteScheduler',
      'UniPCMultistepScheduler',
      'PNDMScheduler',
      'KDPM2AncestralDiscreteScheduler',
      'DPMSolverMultistepScheduler',
    ];
    let config: Readonly<Record<string, unknown>> = CONFIG;
    for (const name of chain) {
      const cls = schedulerClasses[name]!;
      config = cls.fromConfig(config).config;
      expect(config._class_name).toBe(name);
      for (const [key, value] of Object.entries(CONFIG)) {
        if (key !== '_class_name') expect(config[key], `${name}: ${key}`).toEqual(value);
      }
    }
    // The DPM-Solver at the end of the chain uses the keys that the classes before it did not know.
    const dpm = schedulerClasses.DPMSolverMultistepScheduler!.fromConfig(config);
    expect(dpm.config.final_sigmas_type).toBe('zero');
    expect(dpm.config.euler_at_final).toBe(true);
  });

  it('every registered class carries an unknown key', () => {
    for (const [name, cls] of Object.entries(schedulerClasses)) {
      expect(cls.fromConfig({ ...CONFIG }).config.some_future_key, name).toEqual({ nested: [1, 2] });
    }
  });
});
