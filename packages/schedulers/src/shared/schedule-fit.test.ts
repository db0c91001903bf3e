import { InvalidArgumentError, Tensor, TorchGenerator } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { createScheduler, listSchedulerNames } from '../registry.js';

// SD 1.x numbers with 100 training timesteps (10× fewer steps to run than 1000, the same edge cases:
// with "leading" and steps_offset 1, T steps start at timestep T).
const CONFIG = {
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  num_train_timesteps: 100,
  set_alpha_to_one: false,
  steps_offset: 1,
  skip_prk_steps: true,
};

const STEP_COUNTS = [1, 2, 3, 4, 7, 33, 49, 50, 51, 98, 99, 100];

/** Runs the whole schedule with a stand-in model; returns the final latents. */
function run(name: string, spacing: string, steps: number): Float32Array | 'rejected' {
  const scheduler = createScheduler(name, { ...CONFIG, timestep_spacing: spacing });
  try {
    scheduler.setTimesteps(steps);
  } catch (err) {
    expect(err, `${name} ${spacing} ${steps}`).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(/numInferenceSteps = \d+ is invalid/);
    return 'rejected';
  }
  const generator = new TorchGenerator(3);
  let x = generator.randn([1, 1, 2, 2]).map((v) => v * scheduler.initNoiseSigma);
  for (const t of scheduler.timesteps) {
    const input = scheduler.scaleModelInput(x, t);
    x = scheduler.step(
      new Tensor(
        input.data.map((v) => v * 0.1),
        input.shape,
      ),
      t,
      x,
      { generator },
    ).prevSample;
  }
  return x.data;
}

describe('setTimesteps: a step count either gives finite latents or is rejected up front', () => {
  it.each(['leading', 'linspace', 'trailing'])('timestep_spacing %s, every name, 1 to T steps', (spacing) => {
    let rejected = 0;
    for (const name of listSchedulerNames()) {
      for (const steps of STEP_COUNTS) {
        const out = run(name, spacing, steps);
        if (out === 'rejected') {
          rejected++;
          continue;
        }
        expect(out.every(Number.isFinite), `${name}, ${spacing}, ${steps} steps: non-finite latents`).toBe(
          true,
        );
      }
    }
    // Something is rejected in every spacing (T steps at least, for the DPM-Solver family), not everything.
    expect(rejected).toBeGreaterThan(0);
    expect(rejected).toBeLessThan(listSchedulerNames().length * STEP_COUNTS.length * 0.25);
  });

  it('the largest step count the error suggests runs', () => {
    for (const name of ['DDIM', 'DDPM', 'PLMS', 'LMS', 'DPM++ 2M', 'UniPC', 'DEIS']) {
      const scheduler = createScheduler(name, { ...CONFIG, timestep_spacing: 'leading' });
      let suggested = 0;
      try {
        scheduler.setTimesteps(100);
      } catch (err) {
        suggested = Number(/at most (\d+) steps/.exec((err as Error).message)?.[1]);
      }
      expect(suggested, name).toBeGreaterThan(90);
      const out = run(name, 'leading', suggested);
      expect(out).not.toBe('rejected');
      expect((out as Float32Array).every(Number.isFinite)).toBe(true);
    }
  });
});
