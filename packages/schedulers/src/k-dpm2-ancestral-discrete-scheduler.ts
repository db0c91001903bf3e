import {
  NotImplementedError,
  type SchedulerStepOptions,
  type SchedulerStepOutput,
  type Tensor,
} from '@latentkit/core';
import { KDPM2_DISCRETE_DEFAULTS } from './k-dpm2-discrete-scheduler.js';
import { type ResolvedConfig, withOverrides } from './shared/config.js';
import {
  kdpm2BaseSchedule,
  kdpm2InterleavedTimesteps,
  kdpm2Setup,
  logMidpoint,
} from './shared/kdpm2-schedule.js';
import { drawNoise } from './shared/noise.js';
import {
  checkInferenceSteps,
  initNoiseSigmaFor,
  predictX0,
  predictX0Into,
  repeatInterleaveInner,
  ScratchBuffer,
  SigmaScheduler,
  scaleBySigma,
  stepOutput,
} from './shared/sigma-scheduler.js';
import { runStepKernel } from './shared/step-wasm.js';

const f = Math.fround;

/** The config keys of {@link KDPM2AncestralDiscreteScheduler}, with diffusers' defaults. */
export const KDPM2_ANCESTRAL_DISCRETE_DEFAULTS = { ...KDPM2_DISCRETE_DEFAULTS };

/** The config of {@link KDPM2AncestralDiscreteScheduler}: diffusers' keys and `_class_name`. */
export type KDPM2AncestralDiscreteSchedulerConfig = ResolvedConfig<typeof KDPM2_ANCESTRAL_DISCRETE_DEFAULTS>;

/**
 * diffusers' `KDPM2AncestralDiscreteScheduler` ("DPM2 a"): DPM-Solver-2 to σ_down with ancestral noise
 * of scale σ_up drawn from the step's `generator` on the second call of each step.
 */
export class KDPM2AncestralDiscreteScheduler extends SigmaScheduler {
  /** The diffusers config, defaults filled in. */
  readonly config: Readonly<KDPM2AncestralDiscreteSchedulerConfig>;
  /** Two model evaluations per step. */
  readonly order = 2;
  private readonly trainSigmas: Float32Array;
  private readonly logSigmas: Float32Array;
  private readonly predictionType: 'epsilon' | 'v_prediction' | 'sample';
  private readonly sigmaSchedule: 'karras' | 'exponential' | 'beta' | null;
  private sigmasInterpol: Float32Array = new Float32Array(0);
  private sigmasUp: Float32Array = new Float32Array(0);
  private sigmasDown: Float32Array = new Float32Array(0);
  private firstSample: Float32Array | null = null;
  private readonly scratch = new ScratchBuffer();

  /** Builds the scheduler from a diffusers config (missing keys take diffusers' defaults). */
  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super();
    const setup = kdpm2Setup('KDPM2AncestralDiscreteScheduler', KDPM2_ANCESTRAL_DISCRETE_DEFAULTS, config);
    this.config = setup.config;
    this.predictionType = setup.predictionType;
    this.sigmaSchedule = setup.sigmaSchedule;
    this.trainSigmas = setup.trainSigmas;
    this.logSigmas = setup.logSigmas;
    this.build(this.config.num_train_timesteps);
    this.numInferenceStepsValue = null;
  }

  /** Builds the scheduler from a diffusers `scheduler_config.json` object (unknown keys are ignored). `overrides` win over `config`, as the keyword arguments of diffusers' `from_config`. */
  static fromConfig(
    config: Readonly<Record<string, unknown>>,
    overrides?: Readonly<Record<string, unknown>>,
  ): KDPM2AncestralDiscreteScheduler {
    return new KDPM2AncestralDiscreteScheduler(
      withOverrides('KDPM2AncestralDiscreteScheduler', config, overrides),
    );
  }

  protected get className(): string {
    return 'KDPM2AncestralDiscreteScheduler';
  }

  /** σ_max for linspace/trailing spacing, else √(σ_max² + 1). */
  get initNoiseSigma(): number {
    return initNoiseSigmaFor(this.sigmasData, this.config.timestep_spacing);
  }

  /** True when the next `step` call is the first half of a DPM2 step. */
  get stateInFirstOrder(): boolean {
    return this.firstSample === null;
  }

  /** Sets `numInferenceSteps` steps (2·n − 1 model evaluations). */
  setTimesteps(numInferenceSteps: number): void {
    this.build(numInferenceSteps);
  }

  private build(n: number): void {
    checkInferenceSteps(this.className, n);
    const base = kdpm2BaseSchedule(this.config, this.sigmaSchedule, this.trainSigmas, this.logSigmas, n);
    const s = base.sigmas;
    const len = s.length;
    const up = new Float32Array(len);
    const down = new Float32Array(len);
    const interpol = new Float32Array(len);
    for (let i = 0; i < len; i++) {
      const next = i + 1 < len ? s[i + 1]! : 0;
      const s2 = f(s[i]! * s[i]!);
      const n2 = f(next * next);
      // 0/0 at the final σ = 0 gives NaN in torch too; only the expanded tail keeps it, unused.
      up[i] = Math.sqrt(f(f(n2 * f(s2 - n2)) / s2));
      down[i] = i === len - 1 ? 0 : Math.sqrt(f(n2 - f(up[i]! * up[i]!)));
      interpol[i] = i >= len - 2 ? 0 : logMidpoint(s[i]!, down[i]!);
    }
    this.sigmasData = repeatInterleaveInner(s);
    this.sigmasInterpol = repeatInterleaveInner(interpol);
    this.sigmasUp = repeatInterleaveInner(up);
    this.sigmasDown = repeatInterleaveInner(down);
    // timesteps_interpol[:-2] interleaved with timesteps[1:]: step i's midpoint is interpol[i − 1].
    this.timestepValues = kdpm2InterleavedTimesteps(base, interpol, this.logSigmas, n);
    this.firstSample = null;
    this.startSchedule(n);
  }

  /** Divides the sample by √(σ² + 1), σ being the step's sigma or, on the second call, its midpoint. */
  override scaleModelInput(sample: Tensor, timestep: number): Tensor {
    this.requireSchedule('scaleModelInput');
    const index = this.initStepIndex(timestep);
    const sigma = this.stateInFirstOrder ? this.sigmasData[index]! : this.sigmasInterpol[index - 1]!;
    return scaleBySigma(sample, sigma);
  }

  /**
   * One half of an ancestral DPM2 step. First call: Euler from σ to σ_mid. Second call: the midpoint
   * derivative over σ_down − σ from the stored sample, plus `noise · σ_up` (noise from
   * `options.generator`).
   */
  step(
    modelOutput: Tensor,
    timestep: number,
    sample: Tensor,
    options: SchedulerStepOptions = {},
  ): SchedulerStepOutput {
    this.requireSchedule('step');
    this.checkSameShape(sample, modelOutput, 'sample', 'modelOutput');
    if (this.predictionType === 'sample') {
      throw new NotImplementedError(
        'KDPM2AncestralDiscreteScheduler: prediction_type "sample" (diffusers does not implement it either).',
      );
    }
    const index = this.initStepIndex(timestep);
    this.checkInRange(index, this.sigmasData.length - 2);
    const first = this.stateInFirstOrder;
    const k = first ? index : index - 1;
    const sigma = this.sigmasData[k]!;
    const sigmaInterpol = this.sigmasInterpol[k]!;
    const sigmaUp = this.sigmasUp[k]!;
    const sigmaDown = this.sigmasDown[index - 1 < 0 ? this.sigmasDown.length - 1 : index - 1]!;
    const sigmaInput = first ? sigma : sigmaInterpol;
    const x = sample.data;
    const m = modelOutput.data;
    const n = x.length;
    const type = this.predictionType;
    const prev = new Float32Array(n);
    // ε prediction: the WebAssembly kernels compute x₀ = x − σ_in·m themselves (same float32 operations).
    const eps = type === 'epsilon';
    if (first) {
      const dt = f(sigmaInterpol - sigma);
      if (!(eps && runStepKernel('eulerx0', [x, m], [prev], [sigmaInput, sigma, dt]))) {
        const x0s = predictX0Into(type, x, m, sigmaInput, this.scratch.get(n));
        for (let i = 0; i < n; i++) prev[i] = x[i]! + f(f(f(x[i]! - x0s[i]!) / sigma) * dt);
      }
      this.firstSample = x;
    } else {
      const dt = f(sigmaDown - sigma);
      const x0 = this.firstSample!;
      const noise = drawNoise(modelOutput.shape, options.generator);
      if (
        !(eps && runStepKernel('dpm2a', [x0, x, m, noise], [prev], [sigmaInput, sigmaInterpol, dt, sigmaUp]))
      ) {
        const x0s = predictX0Into(type, x, m, sigmaInput, this.scratch.get(n));
        for (let i = 0; i < n; i++) {
          const p = x0[i]! + f(f(f(x[i]! - x0s[i]!) / sigmaInterpol) * dt);
          prev[i] = f(p) + f(noise[i]! * sigmaUp);
        }
      }
      this.firstSample = null;
    }
    this.stepIndexValue = index + 1;
    return stepOutput(prev, sample.shape, () => predictX0(type, x, m, sigmaInput));
  }
}
