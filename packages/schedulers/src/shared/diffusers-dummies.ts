import { type Generator, type Scheduler, Tensor } from '@latentkit/core';

/**
 * The inputs of diffusers' own scheduler tests (`tests/schedulers/test_schedulers.py`), for our tests:
 * `dummy_sample_deter`, `dummy_noise_deter`, `dummy_model` and the k-diffusion-style full loop of
 * `test_scheduler_euler.py` & co. Test support only; not exported from the package.
 */

/** `arange(768)` (flipped for the noise) reshaped (3, 8, 8, 4), / 768, permuted to (4, 3, 8, 8). */
function deterministic(flip: boolean): Tensor {
  const out = new Float32Array(768);
  for (let b = 0; b < 4; b++)
    for (let c = 0; c < 3; c++)
      for (let h = 0; h < 8; h++)
        for (let w = 0; w < 8; w++) {
          const k = c * 256 + h * 32 + w * 4 + b;
          out[((b * 3 + c) * 8 + h) * 8 + w] = (flip ? 767 - k : k) / 768;
        }
  return new Tensor(out, [4, 3, 8, 8]);
}

/** diffusers' `dummy_sample_deter`. */
export function dummySampleDeter(): Tensor {
  return deterministic(false);
}

/** diffusers' `dummy_noise_deter`. */
export function dummyNoiseDeter(): Tensor {
  return deterministic(true);
}

/** diffusers' `dummy_model`: `sample · t / (t + 1)` with t cast to float32, each op rounded to float32. */
export function dummyModel(sample: Tensor, t: number): Tensor {
  const t32 = Math.fround(t);
  const den = Math.fround(t32 + 1);
  return sample.map((v) => Math.fround(v * t32) / den);
}

/** Σ|x| in float64. */
export function sumAbs(t: Tensor): number {
  let s = 0;
  for (const v of t.data) s += Math.abs(v);
  return s;
}

/** mean |x| in float64. */
export function meanAbs(t: Tensor): number {
  return sumAbs(t) / t.size;
}

/**
 * The full loop of diffusers' Euler/LMS/Heun/KDPM2 tests: `x = sample · init_noise_sigma`; optionally
 * `x = add_noise(x, noise, timesteps[tStart · order])` and loop from there; for each t:
 * `x = scale_model_input(x, t)`, `x = step(model(x, t), t, x).prev_sample`.
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
