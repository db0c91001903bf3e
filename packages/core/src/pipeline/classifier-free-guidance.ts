import { ShapeMismatchError } from '../errors.js';
import { shapeSize, Tensor } from '../tensor.js';

/** What {@link applyGuidance} returns. */
export interface GuidedPrediction {
  /** The guided prediction `u + g·(c − u)`, `[N, …]`. */
  guided: Tensor;
  /**
   * The conditional half `c` of the batched prediction, `[N, …]` (guidance rescale needs it): a view of
   * the second half of the prediction's data, not a copy.
   */
  cond: Tensor;
}

/**
 * Classifier-free guidance on a batched prediction `[uncond…; cond…]` (uncond first):
 * `u + g·(c − u)`, each op rounded to float32 as torch does (g cast to float32 first).
 * Returns the guided prediction and the conditional half (guidance rescale needs it).
 *
 * One pass over the prediction: the values are those of torch's three ops `c − u`, `·g`, `u +`, each
 * rounded to float32 in turn (the double result of one op on two float32 values rounds to the same
 * float32 as the op done in float32), without the chunk copies and the two intermediate tensors.
 */
export function applyGuidance(prediction: Tensor, guidanceScale: number): GuidedPrediction {
  const n = prediction.shape[0]!;
  if (n % 2 !== 0) {
    throw new ShapeMismatchError({ name: 'batch', value: n, expected: 'a multiple of 2' });
  }
  const half = prediction.size / 2;
  const shape = [n / 2, ...prediction.shape.slice(1)];
  const data = prediction.data;
  const g = Math.fround(guidanceScale);
  const fround = Math.fround;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const u = data[i]!;
    out[i] = u + fround(fround(data[half + i]! - u) * g);
  }
  return { guided: new Tensor(out, shape), cond: new Tensor(data.subarray(half), shape) };
}

/** Per-batch-item sample standard deviation (unbiased, n − 1) over all other dims, as float32 values. */
function stdPerItem(t: Tensor): Float64Array {
  const n = t.shape[0]!;
  const inner = shapeSize(t.shape.slice(1));
  const out = new Float64Array(n);
  for (let b = 0; b < n; b++) {
    const row = t.data.subarray(b * inner, (b + 1) * inner);
    // torch's CPU std accumulates float32 input in double (Welford) and rounds the result to float32.
    let mean = 0;
    for (let i = 0; i < inner; i++) mean += row[i]!;
    mean /= inner;
    let ss = 0;
    for (let i = 0; i < inner; i++) {
      const d = row[i]! - mean;
      ss += d * d;
    }
    out[b] = Math.fround(Math.sqrt(ss / (inner - 1)));
  }
  return out;
}

/**
 * diffusers' `rescale_noise_cfg`: rescales the guided prediction to the per-item standard deviation of
 * the conditional one, then mixes `φ·rescaled + (1 − φ)·guided`. Std is unbiased over all dims but the
 * batch. φ = 0 returns `guided` unchanged.
 */
export function rescaleNoiseCfg(guided: Tensor, cond: Tensor, guidanceRescale: number): Tensor {
  if (guidanceRescale === 0) return guided;
  if (guided.shape.join() !== cond.shape.join()) {
    throw new ShapeMismatchError({
      name: 'cond',
      value: cond.shape,
      expected: `shape [${guided.shape.join(', ')}]`,
    });
  }
  const stdCond = stdPerItem(cond);
  const stdGuided = stdPerItem(guided);
  const n = guided.shape[0]!;
  const inner = guided.size / n;
  const phi = Math.fround(guidanceRescale);
  // (1 − φ) is a Python float expression, evaluated in float64 and cast once.
  const oneMinusPhi = Math.fround(1 - guidanceRescale);
  const out = new Float32Array(guided.size);
  for (let b = 0; b < n; b++) {
    const ratio = Math.fround(stdCond[b]! / stdGuided[b]!);
    for (let i = b * inner; i < (b + 1) * inner; i++) {
      const g = guided.data[i]!;
      const rescaled = Math.fround(g * ratio);
      out[i] = Math.fround(Math.fround(phi * rescaled) + Math.fround(oneMinusPhi * g));
    }
  }
  return new Tensor(out, guided.shape);
}
