/**
 * @packageDocumentation
 * `@latentkit/schedulers`: diffusers' schedulers, one class per file, each numerically equal to diffusers,
 * plus a registry by diffusers class name and by A1111 sampler name.
 *
 * @module @latentkit/schedulers
 */

export * from './ddim-scheduler.js';
export * from './ddpm-scheduler.js';
export * from './deis-multistep-scheduler.js';
export * from './dpm-solver-multistep-scheduler.js';
export * from './dpm-solver-singlestep-scheduler.js';
export * from './edm-dpm-solver-multistep-scheduler.js';
export * from './edm-euler-scheduler.js';
export * from './euler-ancestral-discrete-scheduler.js';
export * from './euler-discrete-scheduler.js';
export * from './flow-match-euler-discrete-scheduler.js';
export * from './heun-discrete-scheduler.js';
export * from './k-dpm2-ancestral-discrete-scheduler.js';
export * from './k-dpm2-discrete-scheduler.js';
export * from './lcm-scheduler.js';
export * from './lms-discrete-scheduler.js';
export * from './min-steps.js';
export * from './pndm-scheduler.js';
export * from './registry.js';
export * from './sampler-name.js';
export * from './shared/betas.js';
export * from './shared/config.js';
export { MAX_TRAIN_TIMESTEPS } from './shared/config-ranges.js';
export type { VpSolverConfig } from './shared/dpm-common.js';
export { DPMFamilyScheduler } from './shared/dpm-family-scheduler.js';
export * from './shared/numpy.js';
export { SchedulerBase } from './shared/scheduler-base.js';
export {
  type CustomScheduleOptions,
  SigmaScheduler,
} from './shared/sigma-scheduler.js';
export * from './shared/sigmas.js';
export * from './shared/timestep-spacing.js';
export * from './tcd-scheduler.js';
export * from './uni-pc-multistep-scheduler.js';
