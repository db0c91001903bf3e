/**
 * GLIGEN's scheduled sampling, as diffusers: the number of leading denoiser calls with grounding on,
 * `trunc(beta · timestepCount)` (Python's `int()`), where `timestepCount` is the number of the scheduler's
 * timestep entries — one per denoiser call (PNDM: steps + 1; Heun: 2·steps − 1), not the number of steps.
 * Call i is grounded iff `i < groundedCalls(beta, n)`: beta 0 never, beta 1 always.
 *
 * @param beta - `gligenScheduledSamplingBeta` in [0, 1] (checked by the caller).
 * @param timestepCount - The length of the timestep list the denoising loop runs.
 */
export function groundedCalls(beta: number, timestepCount: number): number {
  return Math.trunc(beta * timestepCount);
}
