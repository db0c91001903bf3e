import type { Scheduler } from '@latentkit/core';
import { a1111SamplerName } from '@latentkit/schedulers';

/**
 * A scheduler's name for the `Sampler:` field: the A1111 name of its class and config (`DPM++ 2M Karras`),
 * else the diffusers class name; see {@link a1111SamplerName}.
 */
export function schedulerDisplayName(scheduler: Scheduler): string {
  const config = scheduler.config;
  const className =
    typeof config['_class_name'] === 'string' ? config['_class_name'] : scheduler.constructor.name;
  return a1111SamplerName(className, config);
}
