/**
 * Test-only inputs of diffusers' scheduler tests (`tests/schedulers/test_schedulers.py`,
 * `SchedulerCommonTest`), used by the DPM-family tests. Not exported from the package.
 */
import { type Scheduler, Tensor } from '@latentkit/core';

const SHAPE = [4, 3, 8, 8] as const;
const NUM = 4 * 3 * 8 * 8;

/**
 * `dummy_sample_deter`: `arange(768)` reshaped to (3, 8, 8, 4), divided by 768, permuted to (4, 3, 8, 8),
 * i.e. element [b, c, h, w] = (c·256 + h·32 + w·4 + b) / 768 (float32 division).
 * With `flip`, `dummy_noise_deter`: the arange is reversed first.
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

/** `dummy_model`: `sample · t / (t + 1)` with t cast to float32, each op rounded to float32. */
export function dummyModel(sample: Tensor, t: number): Tensor {
  const tf = Math.fround(t);
  const t1 = Math.fround(tf + 1);
  return new Tensor(
    sample.data.map((x) => Math.fround(x * tf) / t1),
    sample.shape,
  );
}

/** `sum(|x|)` and `mean(|x|)`, in float64 (torch's float32 sum differs by far less than the tolerances). */
export function absStats(x: Tensor): { sum: number; mean: number } {
  let s = 0;
  for (const v of x.data) s += Math.abs(v);
  return { sum: s, mean: s / x.data.length };
}

/** diffusers' `full_loop`: `set_timesteps(n)`, then `x = step(model(x, t), t, x)` for every t. */
export function fullLoop(
  scheduler: Scheduler & { setTimesteps(n: number): void },
  steps = 10,
  options: { generator?: import('@latentkit/core').Generator; start?: number } = {},
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

/** diffusers' `test_full_loop_with_noise`: noise the sample at `timesteps[tStart]`, then loop from there. */
export function fullLoopWithNoise(
  scheduler: Scheduler & { setTimesteps(n: number): void },
  tStart: number,
): Tensor {
  scheduler.setTimesteps(10);
  const ts = scheduler.timesteps.slice(tStart * scheduler.order);
  let sample = scheduler.addNoise(dummySampleDeter(), dummySampleDeter(true), ts[0]!);
  for (const t of ts) {
    const residual = dummyModel(sample, t);
    sample = scheduler.step(residual, t, sample).prevSample;
  }
  return sample;
}
