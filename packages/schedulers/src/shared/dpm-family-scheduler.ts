import {
  InvalidArgumentError,
  type Scheduler,
  type SchedulerStepOptions,
  type SchedulerStepOutput,
  Tensor,
} from '@latentkit/core';
import { addNoiseIndex, addNoiseVp, checkBeginIndex, initialStepIndex, notReadyError } from './dpm-common.js';
import { SchedulerBase } from './scheduler-base.js';

/**
 * What the DPM-Solver family (DPMSolverMultistep, DPMSolverSinglestep, DEIS, UniPC, EDMDPMSolverMultistep)
 * shares, as diffusers' copies of it behave: the schedule (`timesteps`, `sigmas` with one extra final
 * sigma), the step-index counter (`_step_index`, `_begin_index`, `_init_step_index`), the history of
 * converted model outputs, and the VP `add_noise`. Each subclass owns its config, its `setTimesteps`
 * and its solver updates.
 */
export abstract class DPMFamilyScheduler extends SchedulerBase implements Scheduler {
  /** The diffusers config, snake_case, defaults filled in, with `_class_name`. */
  abstract override readonly config: Readonly<Record<string, unknown>>;
  /** Model evaluations per solver step. */
  abstract readonly order: number;
  /** The standard deviation of the initial noise. */
  abstract readonly initNoiseSigma: number;
  /** One solver step from `timestep` to the next timestep of the schedule. */
  abstract step(
    modelOutput: Tensor,
    timestep: number,
    sample: Tensor,
    options?: SchedulerStepOptions,
  ): SchedulerStepOutput;
  /** Prepares the schedule for `numInferenceSteps` steps. */
  abstract setTimesteps(numInferenceSteps?: number): void;

  /** The integer (or EDM float) timesteps of the current schedule. */
  protected _timesteps: number[] = [];
  /** The step sigmas (float32), one more than the timesteps. */
  protected _sigmas: Float32Array = new Float32Array(0);
  /** `None` in diffusers until `set_timesteps` runs; step() refuses to run before. */
  protected numInferenceSteps: number | null = null;
  /** diffusers' `model_outputs`: the converted outputs of the last `solver_order` steps, oldest first. */
  protected modelOutputs: (Float32Array | null)[] = [];
  /** diffusers' `lower_order_nums`: how many steps ran so far, capped at `solver_order`. */
  protected lowerOrderNums = 0;
  /** diffusers' `_step_index`. */
  protected stepIndex: number | null = null;
  /** diffusers' `_begin_index`. */
  protected beginIndex: number | null = null;

  /** @param className - the class name used in error messages. */
  protected constructor(protected readonly className: string) {
    super();
  }

  /** The timesteps of the current schedule, as diffusers holds them. */
  get timesteps(): readonly number[] {
    return this._timesteps;
  }

  /** The step sigmas (float32), one more than the timesteps: the last is the final sigma (0 or σ_min). */
  get sigmas(): Float32Array {
    return this._sigmas;
  }

  /** Starts the schedule at `index` (img2img). */
  setBeginIndex(index: number): void {
    checkBeginIndex(this.className, index);
    this.beginIndex = index;
  }

  /** Identity: these solvers need no input scaling (the EDM variant overrides it). */
  scaleModelInput(sample: Tensor, _timestep: number): Tensor {
    return sample;
  }

  /**
   * Noises `original` to the level of `timestep`: α_t·x + σ_t·ε at that step's sigma (the begin index
   * when set, for img2img).
   */
  addNoise(original: Tensor, noise: Tensor, timestep: number): Tensor {
    const idx = this.addNoiseIndex(timestep);
    return new Tensor(addNoiseVp(original, noise, this._sigmas[idx]!, this.className), original.shape);
  }

  /** The schedule index `addNoise` uses for `timestep` (see {@link addNoiseIndex}). */
  protected addNoiseIndex(timestep: number): number {
    return addNoiseIndex(this.className, this._timesteps, timestep, this.beginIndex, this.stepIndex);
  }

  /** Installs a new schedule and clears the solver state, as every diffusers `set_timesteps` does. */
  protected resetSchedule(
    timesteps: number[],
    sigmas: Float32Array,
    numInferenceSteps: number,
    solverOrder: number,
  ): void {
    this._sigmas = sigmas;
    this._timesteps = timesteps;
    this.numInferenceSteps = numInferenceSteps;
    this.modelOutputs = new Array(solverOrder).fill(null);
    this.lowerOrderNums = 0;
    this.stepIndex = null;
    this.beginIndex = null;
  }

  /**
   * diffusers' `_init_step_index` at the start of `step`: throws before `setTimesteps` and past the end
   * of the schedule (`limitDetail` is appended to the limit in that message); returns the step index.
   */
  protected currentStepIndex(timestep: number, limitDetail = ''): number {
    if (this.numInferenceSteps === null) throw notReadyError(this.className);
    if (this.stepIndex === null) {
      this.stepIndex = initialStepIndex(this.className, this._timesteps, timestep, this.beginIndex);
    }
    const i = this.stepIndex;
    const n = this._timesteps.length;
    if (i >= n) {
      throw new InvalidArgumentError({
        name: `${this.className}.step`,
        value: `step ${i + 1} of ${n}`,
        expected: `at most ${n} steps${limitDetail}`,
        fix: 'call setTimesteps again to start a new denoising loop',
      });
    }
    return i;
  }

  /** Appends this step's converted model output to the history (dropping the oldest of `order`). */
  protected pushModelOutput(m: Float32Array, order: number): void {
    for (let k = 0; k < order - 1; k++) this.modelOutputs[k] = this.modelOutputs[k + 1]!;
    this.modelOutputs[order - 1] = m;
  }
}
