import type { Scheduler } from '@latentkit/core';

/**
 * The fewest steps with which a scheduler is known to give a usable image, where that is more than
 * a handful: the linear multistep methods. Measured with the shipped shapes model
 * (`@latentkit/model-shapes`, 32×32, SD 1.x config with `timestep_spacing: "leading"`, `steps_offset: 1`,
 * "a red circle on a blue background", seeds 1–4, judged by the model's adherence judge): at 20 steps
 * LMS gives a black blob (0/4 right) and PLMS a white one (0/4); LMS with Karras sigmas gives the wrong
 * colour (1/4 at 20 and 30 steps, 2/4 at 40); at 50 all three are right (4, 3 and 4 of 4). Full-size SD
 * models are less sensitive, but the same methods are the slowest to settle.
 */
const MIN_STEPS: Readonly<Record<string, number>> = {
  LMSDiscreteScheduler: 50,
  PNDMScheduler: 50,
};

/**
 * The minimum sensible step count for `scheduler` (its class): 50 for LMS (any sigma schedule) and
 * PNDM/PLMS, 1 for every other scheduler. Fewer steps run, but with these two give a blob or the wrong
 * colours instead of the prompt's image. The CLI uses it to warn.
 */
export function minimumSensibleSteps(scheduler: Pick<Scheduler, 'config'>): number {
  return MIN_STEPS[String(scheduler.config._class_name ?? '')] ?? 1;
}
