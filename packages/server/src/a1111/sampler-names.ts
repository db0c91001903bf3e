import { InvalidArgumentError, NotImplementedError, UnknownSchedulerError } from '@latentkit/core';
import { a1111Schedulers, schedulerClasses } from '@latentkit/schedulers';

/** A1111's aliases of its sampler names (k-diffusion's function names), as `/sdapi/v1/samplers` lists them. */
const ALIASES: Readonly<Record<string, readonly string[]>> = {
  'DPM++ 2M': ['k_dpmpp_2m'],
  'DPM++ 2M Karras': ['k_dpmpp_2m_ka'],
  'DPM++ 2M SDE': ['k_dpmpp_2m_sde'],
  'DPM++ 2M SDE Karras': ['k_dpmpp_2m_sde_ka'],
  'DPM++ SDE': ['k_dpmpp_sde'],
  'DPM++ SDE Karras': ['k_dpmpp_sde_ka'],
  DPM2: ['k_dpm_2'],
  'DPM2 Karras': ['k_dpm_2_ka'],
  'DPM2 a': ['k_dpm_2_a'],
  'DPM2 a Karras': ['k_dpm_2_a_ka'],
  Euler: ['k_euler'],
  'Euler a': ['k_euler_a', 'k_euler_ancestral'],
  Heun: ['k_heun'],
  LMS: ['k_lms'],
  'LMS Karras': ['k_lms_ka'],
  DDIM: ['ddim'],
  PLMS: ['plms'],
  UniPC: ['unipc'],
  LCM: ['k_lcm'],
};

/** One entry of `GET /sdapi/v1/samplers` (A1111's `SamplerItem`). */
export interface SamplerItem {
  name: string;
  aliases: string[];
  options: Record<string, string>;
}

/** `GET /sdapi/v1/samplers`: the A1111 names of @latentkit/schedulers' registry. */
export function samplerItems(): SamplerItem[] {
  return Object.keys(a1111Schedulers).map((name) => ({
    name,
    aliases: [...(ALIASES[name] ?? [])],
    options: name.endsWith(' Karras') ? { scheduler: 'karras' } : ({} as Record<string, string>),
  }));
}

/** `GET /sdapi/v1/schedulers` (A1111 1.9's `SchedulerItem`): the schedules this server can combine. */
export function schedulerItems() {
  return [
    { name: 'automatic', label: 'Automatic', aliases: null, default_rho: -1, need_inner_model: false },
    { name: 'karras', label: 'Karras', aliases: null, default_rho: 7, need_inner_model: false },
  ];
}

/** The registry name (or diffusers class name) an A1111 sampler name or alias means, case-insensitively. */
function canonicalSampler(name: string): string {
  const wanted = name.trim().toLowerCase();
  for (const known of Object.keys(a1111Schedulers)) {
    if (known.toLowerCase() === wanted || ALIASES[known]?.includes(wanted)) return known;
  }
  const byClass = Object.keys(schedulerClasses).find((n) => n.toLowerCase() === wanted);
  if (byClass) return byClass;
  throw new UnknownSchedulerError(name, Object.keys(a1111Schedulers));
}

/**
 * The sampler a body asks for, as a name of @latentkit/schedulers' registry: `sampler_name` (or the legacy
 * `sampler_index`) combined with A1111 1.9's separate `scheduler` ("DPM++ 2M" + "Karras" → "DPM++ 2M
 * Karras"). Undefined when the body names none: the model's own scheduler.
 *
 * @throws UnknownSchedulerError for a name the registry does not know; NotImplementedError for a
 *   `scheduler` other than Automatic / Karras, or Karras for a sampler without a Karras variant.
 */
export function resolveSampler(body: {
  sampler_name?: string | null | undefined;
  sampler_index?: string | null | undefined;
  scheduler?: string | null | undefined;
}): string | undefined {
  const name = body.sampler_name || body.sampler_index || undefined;
  const schedule = (body.scheduler ?? '').trim().toLowerCase();
  const automatic = schedule === '' || schedule === 'automatic';
  if (name === undefined) {
    if (automatic) return undefined;
    throw new InvalidArgumentError({
      name: 'scheduler',
      value: body.scheduler,
      expected: 'a sampler_name to go with it',
      fix: 'send "sampler_name" too, e.g. "sampler_name": "DPM++ 2M", "scheduler": "Karras"',
    });
  }
  const sampler = canonicalSampler(name);
  if (automatic) return sampler;
  if (schedule !== 'karras') {
    throw new NotImplementedError(
      `scheduler ${JSON.stringify(body.scheduler)} is not built here: this server combines a sampler with "Automatic" or "Karras" only. Fix: send "scheduler": "Karras" or "Automatic" (or leave it out).`,
    );
  }
  if (sampler.endsWith(' Karras')) return sampler;
  if (`${sampler} Karras` in a1111Schedulers) return `${sampler} Karras`;
  throw new NotImplementedError(
    `sampler ${JSON.stringify(name)} has no Karras variant here. Fix: send "scheduler": "Automatic", or one of ${Object.keys(
      a1111Schedulers,
    )
      .filter((n) => n.endsWith(' Karras'))
      .map((n) => JSON.stringify(n.slice(0, -' Karras'.length)))
      .join(', ')} with "Karras".`,
  );
}

/** The A1111 samplers whose noise is ancestral / SDE (A1111's η defaults to 1 for them). */
export function usesAncestralEta(sampler: string): boolean {
  return / a( Karras)?$/.test(sampler) || sampler.includes('SDE');
}
