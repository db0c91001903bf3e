/**
 * The schedule length of the hires pass: the smallest `numInferenceSteps` N for which diffusers' img2img
 * (`floor(N · strength)` steps, see `strengthSchedule`) runs exactly `hiresSteps` steps. A1111 runs
 * `hiresSteps` steps of a schedule of `int(hiresSteps / min(strength, 0.999))` steps; N is that length or
 * one more (A1111's truncation can leave `floor(N · strength)` one short), so the pass starts at the same
 * noise level or one schedule step higher, and always runs `hiresSteps` steps.
 */
export function hiresInferenceSteps(hiresSteps: number, strength: number): number {
  let n = Math.max(hiresSteps, Math.ceil(hiresSteps / strength));
  // Float rounding of hiresSteps / strength can land one off either way: settle on the exact count.
  const runs = (steps: number) => Math.min(Math.floor(steps * strength), steps);
  while (n > hiresSteps && runs(n - 1) >= hiresSteps) n--;
  while (runs(n) < hiresSteps) n++;
  return n;
}

/**
 * A side of the hires pass: `size · scale` rounded to the nearest multiple of `step` (the sizes the model
 * runs: `codec.downscale × denoiser.sizeMultiple`), at least one step. A1111 truncates (`int(size · scale)`)
 * and then floors to its latent size; rounding to the nearest size the model runs keeps e.g. 512 × 1.1
 * from staying 512 on SD 1.5 (step 64).
 */
export function hiresSide(size: number, scale: number, step: number): number {
  return Math.max(step, Math.round((size * scale) / step) * step);
}
