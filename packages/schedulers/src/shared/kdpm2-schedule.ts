import { oneOf, type ResolvedConfig, resolveConfig } from './config.js';
import { roundHalfEven } from './numpy.js';
import { alphasCumprodForConfig, checkOneSigmaSchedule, trainingSigmas } from './sigma-scheduler.js';
import { convertSigmas, interpArray, logFloat32, sigmaToT } from './sigmas.js';
import { sigmaTimesteps } from './timestep-spacing.js';

const f = Math.fround;

/** The config keys both KDPM2 schedulers read (diffusers' names). */
interface Kdpm2ConfigKeys extends Record<string, unknown> {
  num_train_timesteps: number;
  prediction_type: string;
  timestep_spacing: string;
  steps_offset: number;
}

/** What both KDPM2 constructors derive from their config. */
export interface Kdpm2Setup<T> {
  /** The resolved config, frozen. */
  config: Readonly<ResolvedConfig<T>>;
  /** The validated prediction type. */
  predictionType: 'epsilon' | 'v_prediction' | 'sample';
  /** The one sigma schedule asked for (Karras / exponential / beta), or null. */
  sigmaSchedule: 'karras' | 'exponential' | 'beta' | null;
  /** The float32 training sigmas √((1 − ᾱ)/ᾱ). */
  trainSigmas: Float32Array;
  /** Their float32 logs, for σ → t. */
  logSigmas: Float32Array;
}

/** Resolves and validates a KDPM2 config and computes its training sigmas (shared by both KDPM2 classes). */
export function kdpm2Setup<T extends Kdpm2ConfigKeys>(
  name: string,
  defaults: T,
  given: Readonly<Record<string, unknown>>,
): Kdpm2Setup<T> {
  const c = resolveConfig(name, defaults, given);
  const predictionType = oneOf(name, 'prediction_type', c.prediction_type, [
    'epsilon',
    'v_prediction',
    'sample',
  ] as const);
  oneOf(name, 'timestep_spacing', c.timestep_spacing, ['linspace', 'leading', 'trailing'] as const);
  const sigmaSchedule = checkOneSigmaSchedule(name, c);
  const config = Object.freeze(c);
  const trainSigmas = trainingSigmas(alphasCumprodForConfig(name, c));
  return { config, predictionType, sigmaSchedule, trainSigmas, logSigmas: logFloat32(trainSigmas) };
}

/**
 * The k-diffusion inference schedule shared by KDPM2 and KDPM2 ancestral: spaced timesteps, their
 * interpolated sigmas (optionally Karras / exponential / beta) and the float32 log training sigmas.
 * `float64Timesteps` is true where diffusers keeps the timesteps as a float64 tensor (converted sigmas).
 */
export function kdpm2BaseSchedule(
  config: { timestep_spacing: string; num_train_timesteps: number; steps_offset: number },
  sigmaSchedule: 'karras' | 'exponential' | 'beta' | null,
  trainSigmas: Float32Array,
  logSigmas: Float32Array,
  n: number,
): { sigmas: Float32Array; timesteps: number[]; float64Timesteps: boolean } {
  const spaced = sigmaTimesteps(
    config.timestep_spacing as 'linspace',
    config.num_train_timesteps,
    n,
    config.steps_offset,
  );
  let s: ArrayLike<number> = interpArray(spaced, trainSigmas);
  let timesteps: number[] = Array.from(spaced);
  let float64Timesteps = false;
  if (sigmaSchedule !== null) {
    const lo = s[s.length - 1]!;
    const hi = s[0]!;
    s = convertSigmas(sigmaSchedule, lo, hi, n);
    timesteps = Array.from(s, (v) => sigmaToT(v, logSigmas));
    // Only the Karras branch rounds (np.round: half to even).
    if (sigmaSchedule === 'karras') timesteps = timesteps.map(roundHalfEven);
    float64Timesteps = true;
  }
  const sigmas = new Float32Array(s.length + 1);
  sigmas.set(s);
  return { sigmas, timesteps, float64Timesteps };
}

/**
 * The KDPM2 timesteps `[t0, t_mid1, t1, t_mid2, t2, …]`: each step's timestep after the first is preceded
 * by the timestep of its midpoint sigma `midSigmas[i − 1]`. float32 unless diffusers keeps them float64.
 */
export function kdpm2InterleavedTimesteps(
  base: { timesteps: readonly number[]; float64Timesteps: boolean },
  midSigmas: ArrayLike<number>,
  logSigmas: Float32Array,
  n: number,
): readonly number[] {
  const cast = base.float64Timesteps ? (v: number) => v : f;
  const ts: number[] = [cast(base.timesteps[0]!)];
  for (let i = 1; i < n; i++) {
    ts.push(cast(sigmaToT(midSigmas[i - 1]!, logSigmas, { torch: true })), cast(base.timesteps[i]!));
  }
  return Object.freeze(ts);
}

/** `log(a).lerp(log(b), 0.5).exp()` in float32 as torch: `exp(lb − (lb − la) · 0.5)`. */
export function logMidpoint(a: number, b: number): number {
  const la = f(Math.log(a));
  const lb = f(Math.log(b));
  return f(Math.exp(f(lb - f(f(lb - la) * 0.5))));
}
