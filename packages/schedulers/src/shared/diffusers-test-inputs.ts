import { Tensor } from '@latentkit/core';

/**
 * The inputs of diffusers' scheduler tests (tests/schedulers/test_schedulers.py, `SchedulerCommonTest`),
 * for reproducing their expected numbers. Test-only; not exported from the package.
 */

/** `dummy_sample_deter`: arange(768) as (3, 8, 8, 4) / 768, permuted to (4, 3, 8, 8). */
export function dummySampleDeter(): Tensor {
  return dummy(false);
}

/** `dummy_noise_deter`: as {@link dummySampleDeter}, with the arange flipped first. */
export function dummyNoiseDeter(): Tensor {
  return dummy(true);
}

function dummy(flip: boolean): Tensor {
  const out = new Float32Array(768);
  for (let b = 0; b < 4; b++) {
    for (let c = 0; c < 3; c++) {
      for (let h = 0; h < 8; h++) {
        for (let w = 0; w < 8; w++) {
          const k = c * 256 + h * 32 + w * 4 + b;
          out[((b * 3 + c) * 8 + h) * 8 + w] = (flip ? 767 - k : k) / 768;
        }
      }
    }
  }
  return new Tensor(out, [4, 3, 8, 8]);
}

/** `dummy_model`: `sample · t / (t + 1)`, each operation rounded to float32. */
export function dummyModel(sample: Tensor, t: number): Tensor {
  const tf = Math.fround(t);
  const t1 = Math.fround(t + 1);
  return sample.map((x) => Math.fround(x * tf) / t1);
}

/** `torch.sum(torch.abs(x))` and `torch.mean(torch.abs(x))` (in float64; the tests allow 1e-2 and 1e-3). */
export function absSumMean(x: Tensor): { sum: number; mean: number } {
  let s = 0;
  for (let i = 0; i < x.size; i++) s += Math.abs(x.data[i]!);
  return { sum: s, mean: s / x.size };
}
