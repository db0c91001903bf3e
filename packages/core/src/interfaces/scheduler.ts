import type { Generator } from '../random/generator.js';
import type { Tensor } from '../tensor.js';

/** Options of one {@link Scheduler.step}. */
export interface SchedulerStepOptions {
  /** Draws the noise of stochastic schedulers (DDPM, Euler ancestral, SDE solvers, DDIM with eta > 0). */
  generator?: Generator;
  /** DDIM's η (0 = deterministic). Schedulers without η ignore it. */
  eta?: number;
}

/** What one {@link Scheduler.step} returns. */
export interface SchedulerStepOutput {
  /** The latents for the next step (x_{t−1}). */
  prevSample: Tensor;
  /** The model's estimate of the clean latents x_0, where the scheduler computes it. */
  predOriginalSample?: Tensor;
}

/**
 * A diffusion scheduler: turns noise predictions into the next latents. Mirrors diffusers'
 * `SchedulerMixin` (camelCase), so `fromConfig(scheduler_config.json)` gives the numbers diffusers gives.
 */
export interface Scheduler {
  /** The diffusers config (snake_case keys, as in `scheduler_config.json`), with defaults filled in. */
  readonly config: Readonly<Record<string, unknown>>;
  /** How many model evaluations one step of the underlying solver takes (2 for Heun and KDPM2). */
  readonly order: number;
  /** The standard deviation of the initial noise (1, or σ_max for sigma-based schedulers). */
  readonly initNoiseSigma: number;
  /** The timesteps of the current schedule, as diffusers holds them. */
  readonly timesteps: readonly number[];
  /** Prepares the schedule for `numInferenceSteps` steps. */
  setTimesteps(numInferenceSteps: number): void;
  /** Scales the denoiser input for the current timestep (identity for DDPM-family schedulers). */
  scaleModelInput(sample: Tensor, timestep: number): Tensor;
  /** One step back in time from the model output at `timestep`. */
  step(
    modelOutput: Tensor,
    timestep: number,
    sample: Tensor,
    options?: SchedulerStepOptions,
  ): SchedulerStepOutput;
  /** Noises `original` to the noise level of `timestep` (img2img, inpainting). */
  addNoise(original: Tensor, noise: Tensor, timestep: number): Tensor;
  /** Starts the schedule part-way (img2img): the index of the first timestep that will be used. */
  setBeginIndex?(index: number): void;
  /**
   * A new scheduler of the same class and config, with no schedule or step state. The pipeline runs each
   * `generate()` call on its own clone, so concurrent calls on one pipeline do not share state. A scheduler
   * without `clone` is used as is, and calls that use it run one at a time.
   */
  clone?(): Scheduler;
}
