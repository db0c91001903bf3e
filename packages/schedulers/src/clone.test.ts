import { type Scheduler, type Tensor, TorchGenerator } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { createScheduler, listSchedulerNames } from './registry.js';
import { SchedulerBase } from './shared/scheduler-base.js';

// Stable Diffusion 1.5's scheduler_config.json (as the pipeline's scheduler.config carries it).
const SD15 = {
  _class_name: 'PNDMScheduler',
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

const SHAPE = [1, 4, 4, 4] as const;
const STEPS = 6;

/** A stand-in denoiser, pinned down so the test is about the scheduler: ε = 0.1·x + t/1000. */
function fakeModel(sample: Tensor, t: number): Tensor {
  return sample.map((x) => Math.fround(Math.fround(0.1 * x) + Math.fround(t / 1000)));
}

/** One denoising run's state: a scheduler mid-loop, its latents, its generator and where it is. */
interface Run {
  scheduler: Scheduler;
  latents: Tensor;
  generator: TorchGenerator;
  index: number;
  outputs: Float32Array[];
}

function startRun(scheduler: Scheduler): Run {
  scheduler.setTimesteps(STEPS);
  const generator = new TorchGenerator(1234);
  const noise = generator.randn(SHAPE);
  const latents = noise.map((v) => Math.fround(v * scheduler.initNoiseSigma));
  return { scheduler, latents, generator, index: 0, outputs: [] };
}

/** Runs `count` steps (or to the end) of `run`. */
function advance(run: Run, count = Number.POSITIVE_INFINITY): void {
  const ts = run.scheduler.timesteps;
  for (let k = 0; k < count && run.index < ts.length; k++, run.index++) {
    const t = ts[run.index]!;
    const input = run.scheduler.scaleModelInput(run.latents, t);
    run.latents = run.scheduler.step(fakeModel(input, t), t, run.latents, {
      generator: run.generator,
    }).prevSample;
    run.outputs.push(run.latents.data.slice());
  }
}

/** The outputs of a run alone, on a fresh scheduler: the reference. */
function alone(name: string): Float32Array[] {
  const run = startRun(createScheduler(name, SD15));
  advance(run);
  return run.outputs;
}

describe('Scheduler.clone()', () => {
  const names = listSchedulerNames();

  it.each(names)('%s: a clone is a new scheduler of the same class and config', (name) => {
    const original = createScheduler(name, SD15);
    const clone = original.clone!();
    expect(clone).not.toBe(original);
    expect(clone.constructor).toBe(original.constructor);
    expect(clone).toBeInstanceOf(SchedulerBase);
    expect(clone.config).toEqual(original.config);
    expect(clone.config).not.toBe(original.config);
  });

  it.each(names)('%s: stepped alongside its original, a clone gives bit-identical latents', (name) => {
    const original = createScheduler(name, SD15);
    const a = startRun(original);
    const b = startRun(original.clone!());
    // Interleaved: one step of each in turn, as two concurrent generate() calls would run.
    while (a.index < a.scheduler.timesteps.length) {
      advance(a, 1);
      advance(b, 1);
    }
    expect(b.index).toBe(a.index);
    expect(a.outputs.length).toBeGreaterThan(0);
    const reference = alone(name);
    for (let i = 0; i < reference.length; i++) {
      expect(a.outputs[i]).toEqual(reference[i]);
      expect(b.outputs[i]).toEqual(reference[i]);
    }
    expect(a.latents.data.every(Number.isFinite)).toBe(true);
  });

  it.each(names)('%s: a clone made mid-run has no state and leaves the original undisturbed', (name) => {
    const reference = alone(name);
    const a = startRun(createScheduler(name, SD15));
    advance(a, 2);
    const clone = a.scheduler.clone!();
    // No schedule state carried over: a fresh run on the clone matches a fresh scheduler from the start,
    // including a different step count (a clone's setTimesteps is its own).
    const b = startRun(clone);
    advance(b);
    expect(b.outputs).toEqual(reference);
    clone.setTimesteps(3);
    // The original carries on where it was, as if the clone had never existed.
    advance(a);
    expect(a.outputs).toEqual(reference);
    expect(a.scheduler.timesteps.length).toBe(reference.length);
  });
});
