import { alphasCumprodFromBetas, BETA_SCHEDULES, betasFromConfig, rescaleZeroTerminalSnr } from './betas.js';
import type { SchedulerConfig } from './config.js';
import { betaScheduleKey, memoArrays } from './schedule-memo.js';

/** The noise schedule of a beta-based scheduler: β_t, α_t = 1 − β_t and ᾱ_t = ∏α, all float32 as torch holds them. */
export interface AlphaSchedule {
  /** β_t for t = 0 … T−1. */
  readonly betas: Float32Array;
  /** α_t = 1 − β_t. */
  readonly alphas: Float32Array;
  /** ᾱ_t = α_0·…·α_t. */
  readonly alphasCumprod: Float32Array;
}

/**
 * Builds β, α and ᾱ from a resolved config as diffusers' `__init__` does: the beta schedule (or
 * `trained_betas`), then `rescale_betas_zero_snr` when set, then `1 − β` and the cumulative product.
 */
export function alphaScheduleFromConfig(
  className: string,
  config: SchedulerConfig,
  schedules: readonly string[] = BETA_SCHEDULES,
): AlphaSchedule {
  const [betas, alphas, alphasCumprod] = memoArrays(
    betaScheduleKey('alphas', className, config, schedules),
    () => {
      let betas = betasFromConfig(className, config, schedules);
      if (config.rescale_betas_zero_snr === true) betas = rescaleZeroTerminalSnr(betas);
      return [betas, betas.map((b) => 1 - b), alphasCumprodFromBetas(betas)];
    },
  );
  return { betas: betas!, alphas: alphas!, alphasCumprod: alphasCumprod! };
}
