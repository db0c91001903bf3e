/**
 * Dynamic thresholding (Imagen, Saharia et al. 2022), as diffusers' `_threshold_sample`: per batch item,
 * s = the `ratio` quantile of |x| (torch.quantile, linear interpolation), clamped to [1, maxValue]; then
 * x ← clamp(x, −s, s) / s. Computed in float32 like torch.
 *
 * @param data - the predicted x₀, row-major with the batch first; overwritten with the result.
 * @param batch - the number of batch items (the first dimension).
 */
export function thresholdSampleInPlace(
  data: Float32Array,
  batch: number,
  ratio: number,
  maxValue: number,
): void {
  const fr = Math.fround;
  const per = data.length / batch;
  const sorted = new Float32Array(per);
  for (let b = 0; b < batch; b++) {
    const item = data.subarray(b * per, (b + 1) * per);
    for (let i = 0; i < per; i++) sorted[i] = Math.abs(item[i]!);
    sorted.sort(); // NaN sorts last, as in torch.sort
    const s = quantileSorted(sorted, ratio);
    // torch.clamp(s, min=1, max=maxValue) is min(max(s, 1), maxValue).
    const limit = fr(Math.min(Math.max(s, 1), fr(maxValue)));
    for (let i = 0; i < per; i++) {
      const v = item[i]!;
      item[i] = (v < -limit ? -limit : Math.min(v, limit)) / limit;
    }
  }
}

/** `torch.quantile(x, q)` of sorted float32 values, with linear interpolation and torch's float32 lerp. */
export function quantileSorted(sorted: Float32Array, q: number): number {
  const fr = Math.fround;
  const n = sorted.length;
  if (n === 0 || Number.isNaN(sorted[n - 1]!)) return Number.NaN;
  const rank = fr(fr(q) * (n - 1));
  const below = Math.trunc(rank);
  const above = Math.ceil(rank);
  const weight = fr(rank - below);
  const lo = sorted[below]!;
  const hi = sorted[above]!;
  const diff = fr(hi - lo);
  // torch's lerp: a + w·(b − a) for |w| < 0.5, else b − (b − a)·(1 − w).
  return Math.abs(weight) < 0.5 ? fr(lo + fr(weight * diff)) : fr(hi - fr(diff * fr(1 - weight)));
}
