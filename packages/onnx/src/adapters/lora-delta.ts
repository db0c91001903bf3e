import { InvalidArgumentError, NonFiniteOutputError, ShapeMismatchError } from '@latentkit/core';
import type { LoraLayer } from './lora-file.js';
import type { LoraTarget } from './lora-targets.js';

/**
 * The weight change of one LoRA layer, ΔW = (alpha / rank) · up · down, laid out like the weight it changes,
 * and the merge W' = W + Σ scaleᵢ · ΔWᵢ (diffusers' `fuse_lora`; the user's scale is applied here, not in the
 * delta, so one delta serves every scale).
 */

/**
 * ΔW of a layer in its target's layout: `[out, in]` for `linear`, `[in, out]` for `matmul`,
 * `[out, in, kh, kw]` for `conv` (up `[out, rank]` times down `[rank, in·kh·kw]`, reshaped). Not multiplied
 * by the user's scale. The target must have been checked against the layer (`findLoraTargets` does).
 *
 * @param layer - The LoRA layer.
 * @param target - The weight it changes.
 * @returns The delta, as many values as the target has.
 */
export function loraDelta(layer: LoraLayer, target: LoraTarget): Float32Array {
  const rank = layer.down.shape[0]!;
  const out = layer.up.shape[0]!;
  const inner = layer.down.data.length / rank; // in · kh · kw
  const factor = (layer.alpha ?? rank) / rank;
  const up = layer.up.data; // [out, rank] (trailing 1×1 dims are the same bytes)
  const down = layer.down.data; // [rank, inner]
  const delta = new Float32Array(out * inner);
  const row = new Float64Array(inner);
  const transposed = target.layout === 'matmul';
  for (let o = 0; o < out; o++) {
    row.fill(0);
    for (let k = 0; k < rank; k++) {
      const u = up[o * rank + k]!;
      if (u === 0) continue;
      const base = k * inner;
      for (let i = 0; i < inner; i++) row[i]! += u * down[base + i]!;
    }
    if (transposed) for (let i = 0; i < inner; i++) delta[i * out + o] = row[i]! * factor;
    else for (let i = 0; i < inner; i++) delta[o * inner + i] = row[i]! * factor;
  }
  return delta;
}

/** One delta and the scale it is merged with. */
export interface ScaledDelta {
  /** ΔW, as {@link loraDelta} returns it. */
  readonly delta: Float32Array;
  /** The adapter's scale. */
  readonly scale: number;
}

/**
 * Merges deltas into a weight: W' = W + Σ scaleᵢ · ΔWᵢ (summed in float64, rounded once). `base` is not
 * changed.
 *
 * @param base - The weight's own values.
 * @param deltas - The deltas and their scales (a scale of 0 adds nothing).
 * @param what - The weight's name, for messages.
 * @returns The merged weight.
 * @throws {@link @latentkit/core!ShapeMismatchError} when a delta's length differs from the weight's.
 * @throws {@link @latentkit/core!InvalidArgumentError} for a scale that is not a finite number.
 * @throws {@link @latentkit/core!NonFiniteOutputError} when the merged weight overflows float32.
 */
export function mergeDeltas(
  base: Float32Array,
  deltas: readonly ScaledDelta[],
  what = 'the weight',
): Float32Array {
  for (const [i, d] of deltas.entries()) {
    if (typeof d.scale !== 'number' || !Number.isFinite(d.scale)) {
      throw new InvalidArgumentError({
        name: `LoRA scale for ${what}`,
        value: d.scale,
        expected: 'a finite number (1 = as trained, 0 = off, negative values invert the LoRA)',
        fix: 'pass a number such as 0.8',
      });
    }
    if (d.delta.length !== base.length) {
      throw new ShapeMismatchError(
        `LoRA delta ${i} for ${what} has ${d.delta.length} values but the weight has ${base.length}. Fix: compute the delta with loraDelta for this weight's target (findLoraTargets).`,
      );
    }
  }
  const active = deltas.filter((d) => d.scale !== 0);
  const merged = new Float32Array(base.length);
  if (active.length === 1) {
    const { delta, scale } = active[0]!;
    for (let i = 0; i < base.length; i++) merged[i] = base[i]! + scale * delta[i]!;
  } else {
    const sum = Float64Array.from(base);
    for (const { delta, scale } of active) for (let i = 0; i < sum.length; i++) sum[i]! += scale * delta[i]!;
    merged.set(sum);
  }
  for (let i = 0; i < merged.length; i++) {
    if (!Number.isFinite(merged[i]!)) {
      throw new NonFiniteOutputError(
        `Merging LoRA into ${what} gives ${merged[i]} at index ${i} (the weight ${base[i]} plus ${active.map((d) => `${d.scale}·${d.delta[i]}`).join(' + ')}). Fix: use smaller LoRA scales.`,
      );
    }
  }
  return merged;
}
