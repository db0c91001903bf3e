import { type Scheduler, UnknownSchedulerError } from '@latentkit/core';
import { DDIMScheduler } from './ddim-scheduler.js';
import { DDPMScheduler } from './ddpm-scheduler.js';
import { DEISMultistepScheduler } from './deis-multistep-scheduler.js';
import { DPMSolverMultistepScheduler } from './dpm-solver-multistep-scheduler.js';
import { DPMSolverSinglestepScheduler } from './dpm-solver-singlestep-scheduler.js';
import { EDMDPMSolverMultistepScheduler } from './edm-dpm-solver-multistep-scheduler.js';
import { EDMEulerScheduler } from './edm-euler-scheduler.js';
import { EulerAncestralDiscreteScheduler } from './euler-ancestral-discrete-scheduler.js';
import { EulerDiscreteScheduler } from './euler-discrete-scheduler.js';
import { FlowMatchEulerDiscreteScheduler } from './flow-match-euler-discrete-scheduler.js';
import { HeunDiscreteScheduler } from './heun-discrete-scheduler.js';
import { KDPM2AncestralDiscreteScheduler } from './k-dpm2-ancestral-discrete-scheduler.js';
import { KDPM2DiscreteScheduler } from './k-dpm2-discrete-scheduler.js';
import { LCMScheduler } from './lcm-scheduler.js';
import { LMSDiscreteScheduler } from './lms-discrete-scheduler.js';
import { PNDMScheduler } from './pndm-scheduler.js';
import { TCDScheduler } from './tcd-scheduler.js';
import { UniPCMultistepScheduler } from './uni-pc-multistep-scheduler.js';

/** A scheduler class as the registry needs it: something with diffusers' `from_config`. */
export interface SchedulerClass {
  /** The class name, as diffusers names it (`DDIMScheduler`; also in the built package). */
  readonly name: string;
  /**
   * Builds the scheduler from a diffusers `scheduler_config.json` object (unknown keys carried along);
   * `overrides` win over `config`, as the keyword arguments of diffusers' `from_config(config, **kwargs)`.
   */
  fromConfig(
    config: Readonly<Record<string, unknown>>,
    overrides?: Readonly<Record<string, unknown>>,
  ): Scheduler;
}

/**
 * Every registered scheduler class, by diffusers `_class_name`. To add a class, append one entry here.
 */
const REGISTERED: ReadonlyArray<readonly [className: string, schedulerClass: SchedulerClass]> = [
  ['DDIMScheduler', DDIMScheduler],
  ['DDPMScheduler', DDPMScheduler],
  ['PNDMScheduler', PNDMScheduler],
  ['LCMScheduler', LCMScheduler],
  ['TCDScheduler', TCDScheduler],
  ['LMSDiscreteScheduler', LMSDiscreteScheduler],
  ['EulerDiscreteScheduler', EulerDiscreteScheduler],
  ['EulerAncestralDiscreteScheduler', EulerAncestralDiscreteScheduler],
  ['HeunDiscreteScheduler', HeunDiscreteScheduler],
  ['KDPM2DiscreteScheduler', KDPM2DiscreteScheduler],
  ['KDPM2AncestralDiscreteScheduler', KDPM2AncestralDiscreteScheduler],
  ['EDMEulerScheduler', EDMEulerScheduler],
  ['FlowMatchEulerDiscreteScheduler', FlowMatchEulerDiscreteScheduler],
  ['DPMSolverMultistepScheduler', DPMSolverMultistepScheduler],
  ['DPMSolverSinglestepScheduler', DPMSolverSinglestepScheduler],
  ['DEISMultistepScheduler', DEISMultistepScheduler],
  ['UniPCMultistepScheduler', UniPCMultistepScheduler],
  ['EDMDPMSolverMultistepScheduler', EDMDPMSolverMultistepScheduler],
];

/** The scheduler classes by diffusers `_class_name` (to load a model folder's `scheduler_config.json`). */
export const schedulerClasses: Readonly<Record<string, SchedulerClass>> = Object.freeze(
  Object.fromEntries(REGISTERED),
);

/** An A1111 / k-diffusion sampler name: the diffusers class it maps to and the config keys it sets. */
export interface A1111Scheduler {
  /** The diffusers `_class_name`. */
  readonly className: string;
  /** Config keys set on top of the base config (e.g. `use_karras_sigmas: true`). */
  readonly overrides: Readonly<Record<string, unknown>>;
}

// A Karras name turns Karras sigmas on and the other sigma schedules off (only one may be on); a plain
// name turns them all off, so swapping from a Karras config to a plain name really drops Karras.
const PLAIN = { use_karras_sigmas: false, use_exponential_sigmas: false, use_beta_sigmas: false } as const;
const KARRAS = { use_karras_sigmas: true, use_exponential_sigmas: false, use_beta_sigmas: false } as const;

/**
 * A1111 sampler names → diffusers classes and overrides, following the table of diffusers' "Schedulers"
 * overview page (huggingface.co/docs/diffusers/api/schedulers/overview), plus the names A1111 uses for
 * DDIM, PLMS, UniPC, DEIS, LCM and TCD.
 */
export const a1111Schedulers: Readonly<Record<string, A1111Scheduler>> = Object.freeze({
  'DPM++ 2M': {
    className: 'DPMSolverMultistepScheduler',
    overrides: { ...PLAIN, algorithm_type: 'dpmsolver++' },
  },
  'DPM++ 2M Karras': {
    className: 'DPMSolverMultistepScheduler',
    overrides: { ...KARRAS, algorithm_type: 'dpmsolver++' },
  },
  'DPM++ 2M SDE': {
    className: 'DPMSolverMultistepScheduler',
    overrides: { ...PLAIN, algorithm_type: 'sde-dpmsolver++' },
  },
  'DPM++ 2M SDE Karras': {
    className: 'DPMSolverMultistepScheduler',
    overrides: { ...KARRAS, algorithm_type: 'sde-dpmsolver++' },
  },
  'DPM++ SDE': { className: 'DPMSolverSinglestepScheduler', overrides: PLAIN },
  'DPM++ SDE Karras': { className: 'DPMSolverSinglestepScheduler', overrides: KARRAS },
  DPM2: { className: 'KDPM2DiscreteScheduler', overrides: PLAIN },
  'DPM2 Karras': { className: 'KDPM2DiscreteScheduler', overrides: KARRAS },
  'DPM2 a': { className: 'KDPM2AncestralDiscreteScheduler', overrides: PLAIN },
  'DPM2 a Karras': { className: 'KDPM2AncestralDiscreteScheduler', overrides: KARRAS },
  Euler: { className: 'EulerDiscreteScheduler', overrides: PLAIN },
  'Euler a': { className: 'EulerAncestralDiscreteScheduler', overrides: {} },
  Heun: { className: 'HeunDiscreteScheduler', overrides: PLAIN },
  LMS: { className: 'LMSDiscreteScheduler', overrides: PLAIN },
  'LMS Karras': { className: 'LMSDiscreteScheduler', overrides: KARRAS },
  DDIM: { className: 'DDIMScheduler', overrides: {} },
  DDPM: { className: 'DDPMScheduler', overrides: {} },
  PLMS: { className: 'PNDMScheduler', overrides: { skip_prk_steps: true } },
  UniPC: { className: 'UniPCMultistepScheduler', overrides: PLAIN },
  DEIS: { className: 'DEISMultistepScheduler', overrides: PLAIN },
  LCM: { className: 'LCMScheduler', overrides: {} },
  TCD: { className: 'TCDScheduler', overrides: {} },
});

/** All names {@link createScheduler} accepts: the A1111 names, then the diffusers class names. */
export function listSchedulerNames(): string[] {
  return [...Object.keys(a1111Schedulers), ...Object.keys(schedulerClasses)];
}

/**
 * Creates a scheduler from a diffusers class name (`"EulerDiscreteScheduler"`) or an A1111 name
 * (`"DPM++ 2M Karras"`, matched case-insensitively), on top of `baseConfig` — typically the model's
 * `scheduler_config.json` or the current scheduler's `config`, so the swap keeps the model's noise schedule:
 *
 * ```ts
 * pipe.scheduler = createScheduler('DPM++ 2M Karras', pipe.scheduler.config);
 * ```
 *
 * @throws UnknownSchedulerError listing the known names.
 */
export function createScheduler(
  nameOrClassName: string,
  baseConfig: Readonly<Record<string, unknown>> = {},
): Scheduler {
  const byClass = schedulerClasses[nameOrClassName];
  if (byClass) return byClass.fromConfig(baseConfig);
  const wanted = String(nameOrClassName).trim().toLowerCase();
  const a1111 = Object.entries(a1111Schedulers).find(([name]) => name.toLowerCase() === wanted)?.[1];
  const cls = a1111
    ? schedulerClasses[a1111.className]
    : Object.entries(schedulerClasses).find(([n]) => n.toLowerCase() === wanted)?.[1];
  if (!cls) throw new UnknownSchedulerError(String(nameOrClassName), listSchedulerNames());
  return cls.fromConfig(baseConfig, a1111?.overrides);
}
