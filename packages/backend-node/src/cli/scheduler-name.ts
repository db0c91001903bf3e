import type { Scheduler } from '@latentkit/core';

// diffusers class → the sampler name A1111 writes in its infotext (for the model's own scheduler).
const A1111_NAMES: Readonly<Record<string, string>> = {
  DDIMScheduler: 'DDIM',
  PNDMScheduler: 'PLMS',
  LMSDiscreteScheduler: 'LMS',
  EulerDiscreteScheduler: 'Euler',
  EulerAncestralDiscreteScheduler: 'Euler a',
  HeunDiscreteScheduler: 'Heun',
  KDPM2DiscreteScheduler: 'DPM2',
  KDPM2AncestralDiscreteScheduler: 'DPM2 a',
  DPMSolverMultistepScheduler: 'DPM++ 2M',
  UniPCMultistepScheduler: 'UniPC',
  LCMScheduler: 'LCM',
};

/**
 * A scheduler's name for the `Sampler:` field: the A1111 name of its class (plus ` Karras` with Karras
 * sigmas, ` SDE` for the SDE variant of DPM++ 2M), else the diffusers class name.
 */
export function schedulerDisplayName(scheduler: Scheduler): string {
  const config = scheduler.config;
  const className =
    typeof config['_class_name'] === 'string' ? config['_class_name'] : scheduler.constructor.name;
  let name = A1111_NAMES[className];
  if (!name) return className;
  if (
    className === 'DPMSolverMultistepScheduler' &&
    String(config['algorithm_type'] ?? '').startsWith('sde-')
  ) {
    name += ' SDE';
  }
  if (config['use_karras_sigmas'] === true) name += ' Karras';
  return name;
}
