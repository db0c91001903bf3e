import { InvalidArgumentError, Tensor } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import * as schedulersPackage from './index.js';
import { minimumSensibleSteps } from './min-steps.js';
import { a1111Schedulers, createScheduler, listSchedulerNames, schedulerClasses } from './registry.js';

// Every config a pipeline's scheduler can hold: each class's default config, and each name's config.
const classConfigs = Object.entries(schedulerClasses).map(
  ([className, cls]) => [className, cls.fromConfig({}).config] as const,
);
const nameConfigs = listSchedulerNames().map((name) => [name, createScheduler(name).config] as const);

/** Runs a few steps with a stand-in model; returns the final latents. */
function smokeRun(name: string, baseConfig: Readonly<Record<string, unknown>>): Float32Array {
  const scheduler = createScheduler(name, baseConfig);
  scheduler.setTimesteps(8);
  let x = new Tensor(new Float32Array(8).fill(0.5), [1, 2, 2, 2]);
  for (const t of scheduler.timesteps) {
    const input = scheduler.scaleModelInput(x, t);
    x = scheduler.step(
      input.map((v) => v * 0.1),
      t,
      x,
    ).prevSample;
  }
  return x.data;
}

describe('createScheduler(name, pipe.scheduler.config): every swap works (issue 14 §6)', () => {
  it.each(classConfigs)('from %s’s default config to every registered name', (_from, config) => {
    for (const name of listSchedulerNames()) {
      expect(smokeRun(name, config).every(Number.isFinite), `${name}`).toBe(true);
    }
  });

  it('all 40 × 40 pairs of names (each name’s config to every name) succeed', () => {
    let pairs = 0;
    for (const [from, config] of nameConfigs) {
      for (const name of listSchedulerNames()) {
        const scheduler = createScheduler(name, config);
        scheduler.setTimesteps(20);
        expect(scheduler.timesteps.length, `${from} → ${name}`).toBeGreaterThan(0);
        pairs++;
      }
    }
    expect(pairs).toBe(listSchedulerNames().length ** 2);
    expect(pairs).toBeGreaterThanOrEqual(1600);
  });

  it('a DDPM config builds "DPM++ 2M Karras": variance_type "fixed_small" is carried and ignored, as diffusers does', () => {
    const ddpm = createScheduler('DDPMScheduler', { variance_type: 'fixed_small' });
    const dpm = createScheduler('DPM++ 2M Karras', ddpm.config);
    expect(dpm.config.variance_type).toBe('fixed_small');
    // Ignored: the same numbers as without the key.
    const plain = createScheduler('DPM++ 2M Karras', { ...ddpm.config, variance_type: null });
    for (const s of [dpm, plain]) s.setTimesteps(10);
    const x = new Tensor(new Float32Array([0.3, -0.2, 0.1, 0.7]), [1, 1, 2, 2]);
    const t = dpm.timesteps[0]!;
    expect(dpm.step(x, t, x).prevSample.data).toEqual(plain.step(x, t, x).prevSample.data);
  });

  it('an SDE DPM-Solver config builds DEIS (diffusers raises NotImplementedError; latentkit reads it as DEIS)', () => {
    const sde = createScheduler('DPM++ 2M SDE Karras');
    const deis = createScheduler('DEIS', sde.config);
    expect(deis.config.algorithm_type).toBe('deis');
    expect(deis.config.use_karras_sigmas).toBe(false);
  });
});

describe('fromConfig(config, overrides)', () => {
  it.each(Object.entries(schedulerClasses))('%s applies overrides on top of the config', (_name, cls) => {
    const s = cls.fromConfig({ num_train_timesteps: 1000, steps_offset: 0 }, { num_train_timesteps: 500 });
    expect(s.config.num_train_timesteps).toBe(500);
  });

  it('overrides win, keys only in the config stay, undefined overrides are no override', () => {
    const { DDIMScheduler } = schedulersPackage;
    const base = { beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, steps_offset: 1 };
    const s = DDIMScheduler.fromConfig(base, {
      steps_offset: 0,
      timestep_spacing: 'trailing',
      beta_end: undefined,
    });
    expect(s.config.steps_offset).toBe(0);
    expect(s.config.timestep_spacing).toBe('trailing');
    expect(s.config.beta_end).toBe(0.012);
    expect(s.config.beta_schedule).toBe('scaled_linear');
    // The config object passed in is not changed.
    expect(base.steps_offset).toBe(1);
    // diffusers' DDIMScheduler.from_config(config, timestep_spacing="trailing") with SD 1.5's config
    // gives timesteps [999, 899, …, 99] for 10 steps.
    s.setTimesteps(10);
    expect(s.timesteps).toEqual([999, 899, 799, 699, 599, 499, 399, 299, 199, 99]);
  });

  it('bad overrides go through the same validation as the config', () => {
    const { EulerDiscreteScheduler } = schedulersPackage;
    expect(() => EulerDiscreteScheduler.fromConfig({}, { beta_end: 2 })).toThrow(InvalidArgumentError);
    expect(() => EulerDiscreteScheduler.fromConfig({}, { beta_end: 2 })).toThrow(/beta_end = 2/);
  });
});

describe('class names', () => {
  it('every registered class is named as diffusers names it (constructor.name, also in the built package)', () => {
    for (const [className, cls] of Object.entries(schedulerClasses)) {
      expect(cls.name).toBe(className);
      expect(cls.fromConfig({}).constructor.name).toBe(className);
      expect((schedulersPackage as Record<string, unknown>)[className]).toBe(cls);
    }
  });

  it('every A1111 name maps to a registered class', () => {
    for (const entry of Object.values(a1111Schedulers))
      expect(schedulerClasses[entry.className]).toBeDefined();
  });
});

describe('minimumSensibleSteps', () => {
  it('is 50 for LMS, LMS Karras and PLMS (a blob or wrong colours at 20 steps with the shipped model), 1 for the others', () => {
    expect(minimumSensibleSteps(createScheduler('LMS'))).toBe(50);
    expect(minimumSensibleSteps(createScheduler('PLMS'))).toBe(50);
    expect(minimumSensibleSteps(createScheduler('PNDMScheduler'))).toBe(50);
    expect(minimumSensibleSteps(createScheduler('LMS Karras'))).toBe(50);
    for (const name of ['DDIM', 'Euler', 'Euler a', 'DPM++ 2M Karras', 'UniPC', 'LCM']) {
      expect(minimumSensibleSteps(createScheduler(name))).toBe(1);
    }
  });
});
