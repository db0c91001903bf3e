import { describe, expect, it } from 'vitest';
import { a1111Schedulers, createScheduler } from './registry.js';
import { a1111SamplerName } from './sampler-name.js';

describe('a1111SamplerName', () => {
  it.each([
    ['DDIMScheduler', {}, 'DDIM'],
    ['PNDMScheduler', { skip_prk_steps: true }, 'PLMS'],
    ['DPMSolverMultistepScheduler', { use_karras_sigmas: true }, 'DPM++ 2M Karras'],
    ['DPMSolverMultistepScheduler', { algorithm_type: 'dpmsolver++' }, 'DPM++ 2M'],
    [
      'DPMSolverMultistepScheduler',
      { algorithm_type: 'sde-dpmsolver++', use_karras_sigmas: true },
      'DPM++ 2M SDE Karras',
    ],
    ['EulerAncestralDiscreteScheduler', {}, 'Euler a'],
    ['LMSDiscreteScheduler', { use_karras_sigmas: false }, 'LMS'],
  ])('%s %j → %s', (className, config, name) => {
    expect(a1111SamplerName(className, config)).toBe(name);
  });

  it('falls back to the class name when no A1111 name fits', () => {
    // PNDM with its Runge–Kutta warm-up steps is not A1111's PLMS; DPMSolver's "dpmsolver" is no A1111 sampler.
    expect(a1111SamplerName('PNDMScheduler', { skip_prk_steps: false })).toBe('PNDMScheduler');
    expect(a1111SamplerName('DPMSolverMultistepScheduler', { algorithm_type: 'dpmsolver' })).toBe(
      'DPMSolverMultistepScheduler',
    );
    expect(a1111SamplerName('MyScheduler', {})).toBe('MyScheduler');
  });

  it('names every scheduler the registry builds from an A1111 name by that name', () => {
    for (const name of Object.keys(a1111Schedulers)) {
      const scheduler = createScheduler(name);
      const className = String(scheduler.config['_class_name'] ?? a1111Schedulers[name]!.className);
      expect(a1111SamplerName(className, scheduler.config), name).toBe(name);
    }
  });
});
