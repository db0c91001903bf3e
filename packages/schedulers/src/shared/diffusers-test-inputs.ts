import { type Generator, type Scheduler, Tensor } from '@latentkit/core';

/**
 * The inputs of diffusers' own scheduler tests (tests/schedulers/test_schedulers.py, `SchedulerCommonTest`,
 * and the full loops of test_scheduler_*.py), for reproducing their expected numbers. Test-only: imported
 * by `*.test.ts` files alone, not exported from the package.
 */

const SHAPE = [4, 3, 8, 8] as const;
const NUM = 4 * 3 * 8 * 8;

/**
 * `dummy_sample_deter`: `arange(768)` reshaped to (3, 8, 8, 4), divided by 768, permuted to (4, 3, 8, 8),
 * i.e. element [b, c, h, w] = (c·256 + h·32 + w·4 + b) / 768 (float32 division). With `flip`,
 * `dummy_noise_deter` (the arange reversed first).
 */
export function dummySampleDeter(flip = false): Tensor {
  const out = new Float32Array(NUM);
  let i = 0;
  for (let b = 0; b < 4; b++)
    for (let c = 0; c < 3; c++)
      for (let h = 0; h < 8; h++)
        for (let w = 0; w < 8; w++) {
          const k = c * 256 + h * 32 + w * 4 + b;
          out[i++] = (flip ? NUM - 1 - k : k) / NUM;
        }
  return new Tensor(out, SHAPE);
}

/** `dummy_noise_deter`: {@link dummySampleDeter} with the arange flipped first. */
export function dummyNoiseDeter(): Tensor {
  return dummySampleDeter(true);
}

/** `dummy_model`: `sample · t / (t + 1)` with t cast to float32, each op rounded to float32. */
export function dummyModel(sample: Tensor, t: number): Tensor {
  const tf = Math.fround(t);
  const t1 = Math.fround(tf + 1);
  return sample.map((x) => Math.fround(x * tf) / t1);
}

/** `torch.sum(torch.abs(x))` and `torch.mean(torch.abs(x))`, in float64 (torch's float32 sum differs by far less than the tests' tolerances). */
export function absSumMean(x: Tensor): { sum: number; mean: number } {
  let s = 0;
  for (const v of x.data) s += Math.abs(v);
  return { sum: s, mean: s / x.data.length };
}

/** Σ|x| in float64. */
export function sumAbs(x: Tensor): number {
  return absSumMean(x).sum;
}

/** mean |x| in float64. */
export function meanAbs(x: Tensor): number {
  return absSumMean(x).mean;
}

/**
 * The full loop of diffusers' Euler/LMS/Heun/KDPM2 tests: `x = sample · init_noise_sigma`; optionally
 * `x = add_noise(x, noise, timesteps[tStart · order])` and loop from there; for each t:
 * `x = scale_model_input(x, t)`, `x = step(model(x, t), t, x).prev_sample`. (The caller sets the timesteps.)
 */
export function fullLoop(
  scheduler: Scheduler,
  options: { generator?: Generator; tStart?: number } = {},
): Tensor {
  let x = dummySampleDeter().mul(scheduler.initNoiseSigma);
  let timesteps = scheduler.timesteps;
  if (options.tStart !== undefined) {
    timesteps = timesteps.slice(options.tStart * scheduler.order);
    x = scheduler.addNoise(x, dummyNoiseDeter(), timesteps[0]!);
  }
  for (const t of timesteps) {
    x = scheduler.scaleModelInput(x, t);
    const eps = dummyModel(x, t);
    x = scheduler.step(eps, t, x, options.generator ? { generator: options.generator } : {}).prevSample;
  }
  return x;
}

/**
 * The full loop of diffusers' DPM-Solver/DEIS/UniPC tests: `set_timesteps(steps)`, then
 * `x = step(model(x, t), t, x)` for every t from index `start` (no input scaling, no initial sigma).
 */
export function dpmFullLoop(
  scheduler: Scheduler,
  steps = 10,
  options: { generator?: Generator; start?: number } = {},
): Tensor {
  scheduler.setTimesteps(steps);
  let sample = dummySampleDeter();
  const ts = scheduler.timesteps.slice(options.start ?? 0);
  for (const t of ts) {
    const residual = dummyModel(sample, t);
    sample = scheduler.step(residual, t, sample, { generator: options.generator }).prevSample;
  }
  return sample;
}

/** diffusers' DPM-family `test_full_loop_with_noise`: noise the sample at `timesteps[tStart · order]`, then loop from there. */
export function dpmFullLoopWithNoise(scheduler: Scheduler, tStart: number): Tensor {
  scheduler.setTimesteps(10);
  const ts = scheduler.timesteps.slice(tStart * scheduler.order);
  let sample = scheduler.addNoise(dummySampleDeter(), dummyNoiseDeter(), ts[0]!);
  for (const t of ts) {
    const residual = dummyModel(sample, t);
    sample = scheduler.step(residual, t, sample).prevSample;
  }
  return sample;
}
