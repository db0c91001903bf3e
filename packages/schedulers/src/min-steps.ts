import type { Scheduler } from '@latentkit/core';

/**
 * The fewest steps with which a scheduler is known to give a usable image, where that is more than
 * a handful: the linear multistep methods with the plain (non-Karras) schedule. Measured with the
 * shipped shapes model (`@latentkit/model-shapes`, 32×32, SD 1.x config with `timestep_spacing:
 * "leading"`, `steps_offset: 1`): at 20 steps LMS gives a black blob and PLMS a white one, at 40–45
 * steps some seeds are still off, at 50 they match the other schedulers; LMS with Karras sigmas is
 * fine at 10. Full-size SD models are less sensitive, but the same methods are the slowest to settle.
 */
const MIN_STEPS: Readonly<Record<string, number>> = {
  LMSDiscreteScheduler: 50,
  PNDMScheduler: 50,
};

/**
 * The minimum sensible step count for `scheduler` (its class and config): 50 for LMS (without
 * Karras / exponential / beta sigmas) and PNDM/PLMS, 1 for every other scheduler. Fewer steps run, but
 * with these two give a blob instead of an image. The CLI uses it to warn.
 */
export function minimumSensibleSteps(scheduler: Pick<Scheduler, 'config'>): number {
  const config = scheduler.config;
  const className = String(config._class_name ?? '');
  const min = MIN_STEPS[className];
  if (min === undefined) return 1;
  const sigmaSchedule =
    config.use_karras_sigmas === true ||
    config.use_exponential_sigmas === true ||
    config.use_beta_sigmas === true;
  return className === 'LMSDiscreteScheduler' && sigmaSchedule ? 1 : min;
}
