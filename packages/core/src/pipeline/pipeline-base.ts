import { InvalidArgumentError } from '../errors.js';
import type { PipelineParts } from '../interfaces/backend.js';
import type { Denoiser } from '../interfaces/denoiser.js';
import type { LatentCodec } from '../interfaces/latent-codec.js';
import type { PromptEncoder } from '../interfaces/prompt-encoder.js';
import type { Scheduler } from '../interfaces/scheduler.js';
import { type PipelineLimits, resolvePipelineLimits } from './pipeline-limits.js';

const PART_TYPES = { denoiser: 'a Denoiser', codec: 'a LatentCodec', scheduler: 'a Scheduler' } as const;

/**
 * What every pipeline holds: the parts, the limits, and what releases the backend's sessions. The
 * pipelines (`StableDiffusionPipeline`, `StableDiffusionUpscalePipeline`) extend it and run the one shared
 * denoising loop.
 */
export abstract class PipelineBase {
  /** Turns prompts into conditioning; optional when callers pass `promptEmbeds`. */
  readonly promptEncoder: PromptEncoder | undefined;
  /** The noise predictor (UNet). */
  readonly denoiser: Denoiser;
  /** The scheduler; swappable between calls (e.g. `DPMSolverMultistepScheduler.fromConfig(pipe.scheduler.config)`). */
  scheduler: Scheduler;
  /** Upper bounds checked before each call allocates anything; assign to raise them (docs/performance.md). */
  limits: PipelineLimits;
  #codec: LatentCodec;
  #disposeParts: (() => Promise<void>) | undefined;
  #disposed = false;

  /**
   * Checks and keeps the parts.
   *
   * @param fix - What to pass, for the message of a missing part.
   */
  protected constructor(parts: PipelineParts, fix: string) {
    for (const key of ['denoiser', 'codec', 'scheduler'] as const) {
      if (typeof parts?.[key] !== 'object' || parts[key] === null) {
        throw new InvalidArgumentError({
          name: `parts.${key}`,
          value: parts?.[key],
          expected: PART_TYPES[key],
          fix,
        });
      }
    }
    this.promptEncoder = parts.promptEncoder;
    this.denoiser = parts.denoiser;
    this.#codec = parts.codec;
    this.scheduler = parts.scheduler;
    this.limits = resolvePipelineLimits(parts.limits);
  }

  /** The VAE: latents ↔ images. */
  get codec(): LatentCodec {
    return this.#codec;
  }

  /** Keeps what releases the loaded parts' sessions, for {@link PipelineBase.dispose}. */
  protected setDisposer(dispose: (() => Promise<void>) | undefined): void {
    this.#disposeParts = dispose;
  }

  /** Releases what the backend holds (runtime sessions). Safe to call more than once. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#disposeParts?.();
  }
}
