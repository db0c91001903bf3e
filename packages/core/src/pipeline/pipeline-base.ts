import { TiledLatentCodec, type VaeTiling, type VaeTilingOptions } from '../codec/tiled-latent-codec.js';
import { InvalidArgumentError } from '../errors.js';
import type { LoadedPipelineParts, PipelineParts } from '../interfaces/backend.js';
import type { Conditioning } from '../interfaces/conditioning.js';
import type { Denoiser } from '../interfaces/denoiser.js';
import type { LatentCodec } from '../interfaces/latent-codec.js';
import type { PromptEncoder } from '../interfaces/prompt-encoder.js';
import type { Scheduler } from '../interfaces/scheduler.js';
import type { Generator } from '../random/generator.js';
import type { Tensor } from '../tensor.js';
import type { GenerateResult, OutputType, ResolvedParameters } from './generate-options.js';
import { callConditioning, callGenerator, decodeOutput } from './pipeline-call.js';
import { type PipelineLimits, resolvePipelineLimits } from './pipeline-limits.js';
import { type ParametersInput, resolveParameters } from './resolved-parameters.js';

const PART_TYPES = { denoiser: 'a Denoiser', codec: 'a LatentCodec', scheduler: 'a Scheduler' } as const;

/** What {@link PipelineBase.startCall} sets up for one `generate()` call. */
export interface CallStart {
  /** The pipeline's scheduler when the call started; swapping `pipe.scheduler` later affects later calls only. */
  shared: Scheduler;
  generator: Generator;
  parameters: ResolvedParameters;
  conditioning: Conditioning;
}

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
  #tiled: TiledLatentCodec | undefined;
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

  /**
   * The VAE: latents ↔ images. With {@link PipelineBase.enableVaeTiling} on, a {@link TiledLatentCodec}
   * around the model's codec (its `inner`).
   */
  get codec(): LatentCodec {
    return this.#tiled ?? this.#codec;
  }

  /**
   * Decodes (and, for img2img and inpainting, encodes) in overlapping tiles blended linearly, as diffusers'
   * `enable_vae_tiling()`: peak memory then grows with the tile, not the image, so large outputs (the x4
   * upscaler's 2048², large SD images) fit. Images no larger than one tile are decoded as before, untouched.
   * Takes effect from the next `generate()` call; calling it again replaces the options.
   *
   * @param options - Tile size and overlap; diffusers' defaults (512 px tiles, overlap 0.25) when left out.
   * @throws {@link InvalidArgumentError} for invalid options (see {@link VaeTilingOptions}); tiling is then
   *   left as it was.
   */
  enableVaeTiling(options?: VaeTilingOptions): void {
    this.#tiled = new TiledLatentCodec(this.#codec, options);
  }

  /** Turns VAE tiling off again (diffusers' `disable_vae_tiling()`): the model's codec decodes whole images. */
  disableVaeTiling(): void {
    this.#tiled = undefined;
  }

  /** The tile geometry while VAE tiling is on; undefined when it is off. */
  get vaeTiling(): VaeTiling | undefined {
    return this.#tiled?.tiling;
  }

  /**
   * The start every `generate()` shares, after its options are checked: takes the current scheduler,
   * stops on an aborted signal, makes the call's generator and resolved parameters, encodes the prompts,
   * and stops again if the signal was aborted meanwhile.
   */
  protected async startCall(v: ParametersInput): Promise<CallStart> {
    const shared = this.scheduler;
    v.signal?.throwIfAborted();
    const { generator, seed } = callGenerator(v);
    const parameters = resolveParameters(v, shared, seed);
    const conditioning = await callConditioning(this.promptEncoder, v);
    v.signal?.throwIfAborted();
    return { shared, generator, parameters, conditioning };
  }

  /** The end every `generate()` shares: decodes the final latents to `outputType`, with the parameters. */
  protected async finishCall(
    v: ParametersInput,
    latents: Tensor,
    parameters: ResolvedParameters,
  ): Promise<GenerateResult<OutputType>> {
    const images = await decodeOutput(
      this.codec,
      latents,
      v.outputType,
      [v.totalImages, 3, v.height, v.width],
      v.signal,
    );
    return { images, parameters } as GenerateResult<OutputType>;
  }

  /**
   * The end of every `fromPretrained`: builds the pipeline from loaded parts and makes it own their
   * sessions ({@link PipelineBase.dispose} releases them). A constructor that refuses the parts releases
   * them before its error is thrown, so a refused model holds nothing.
   */
  protected static async adoptParts<T extends PipelineBase>(
    parts: LoadedPipelineParts,
    build: () => T,
  ): Promise<T> {
    let pipeline: T;
    try {
      pipeline = build();
    } catch (error) {
      await parts.dispose?.();
      throw error;
    }
    pipeline.#disposeParts = parts.dispose?.bind(parts);
    return pipeline;
  }

  /** Releases what the backend holds (runtime sessions). Safe to call more than once. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#disposeParts?.();
  }
}
