import { a1111Schedulers } from './registry.js';

// The value a config key has when a scheduler config leaves it out (diffusers' defaults), for the keys
// the A1111 names set.
const CONFIG_DEFAULTS: Readonly<Record<string, unknown>> = {
  use_karras_sigmas: false,
  use_exponential_sigmas: false,
  use_beta_sigmas: false,
  algorithm_type: 'dpmsolver++',
  skip_prk_steps: false,
};

function configValue(config: Readonly<Record<string, unknown>>, key: string): unknown {
  return config[key] ?? CONFIG_DEFAULTS[key];
}

/**
 * The A1111 sampler name of a scheduler — what A1111 writes after `Sampler:` in its infotext — from its
 * diffusers class name and config, by this package's registry ({@link a1111Schedulers}):
 * `DPMSolverMultistepScheduler` with `use_karras_sigmas: true` is `DPM++ 2M Karras`, `DDIMScheduler` is
 * `DDIM`, `PNDMScheduler` with `skip_prk_steps: true` is `PLMS`. When several names fit, the one whose
 * config keys match most wins; when none fits, the diffusers class name is returned as it is.
 */
export function a1111SamplerName(className: string, config: Readonly<Record<string, unknown>> = {}): string {
  let best: string | undefined;
  let bestKeys = -1;
  for (const [name, entry] of Object.entries(a1111Schedulers)) {
    if (entry.className !== className) continue;
    const keys = Object.entries(entry.overrides);
    if (!keys.every(([key, value]) => configValue(config, key) === value)) continue;
    if (keys.length > bestKeys) {
      best = name;
      bestKeys = keys.length;
    }
  }
  return best ?? className;
}
