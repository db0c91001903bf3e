import { InvalidArgumentError } from '@latentkit/core';

/** How many smaller step counts {@link checkTimestepsFit} tries when it looks for one that fits. */
const MAX_TRIES = 200;

/** Whether every timestep lies in [0, T − 1] and no timestep repeats. */
function fits(timesteps: ArrayLike<number>, numTrainTimesteps: number): boolean {
  const seen = new Set<number>();
  for (let i = 0; i < timesteps.length; i++) {
    const t = timesteps[i]!;
    if (!(t >= 0 && t <= numTrainTimesteps - 1) || seen.has(t)) return false;
    seen.add(t);
  }
  return true;
}

/**
 * Checks, in `setTimesteps`, that the timesteps `numInferenceSteps` steps lay out fit the training
 * schedule: each in [0, num_train_timesteps − 1] and none repeated. With `timestep_spacing: "leading"`
 * and `steps_offset: 1` (Stable Diffusion 1.x/2.x configs), 1000 steps start at timestep 1000, which
 * diffusers accepts in `set_timesteps` and then fails on in `step` (an IndexError for DDIM, DDPM and PNDM;
 * a repeated σ and NaN latents for LMS and the DPM-Solver family). Here it fails at once, with the
 * largest step count that fits.
 *
 * @param timestepsFor - the timesteps the scheduler would use for a step count.
 * @throws InvalidArgumentError naming the step count, the largest one that fits, and the fix.
 */
export function checkTimestepsFit(
  className: string,
  numInferenceSteps: number,
  config: Readonly<Record<string, unknown>>,
  timestepsFor: (steps: number) => ArrayLike<number>,
): void {
  const T = config.num_train_timesteps as number;
  const timesteps = timestepsFor(numInferenceSteps);
  if (fits(timesteps, T)) return;
  let best = 0;
  for (let n = numInferenceSteps - 1; n >= 1 && n >= numInferenceSteps - MAX_TRIES; n--) {
    if (fits(timestepsFor(n), T)) {
      best = n;
      break;
    }
  }
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < timesteps.length; i++) max = Math.max(max, timesteps[i]!);
  const why =
    max > T - 1
      ? `${numInferenceSteps} steps would start at timestep ${max}, past the last training timestep (${T - 1})`
      : `${numInferenceSteps} steps would repeat a timestep (a zero-length step, NaN)`;
  const spacing = `timestep_spacing ${JSON.stringify(config.timestep_spacing)}`;
  const offset = `steps_offset ${String(config.steps_offset)}`;
  throw new InvalidArgumentError({
    name: `${className}.setTimesteps numInferenceSteps`,
    value: numInferenceSteps,
    expected: `${best > 0 ? `at most ${best} steps` : 'fewer steps'} with ${spacing} and ${offset}: ${why}; diffusers fails there too`,
    fix: `use ${best > 0 ? `${best} steps or fewer` : 'fewer steps'}, or timestep_spacing "trailing"`,
  });
}
