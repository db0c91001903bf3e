import { TiledLatentCodec, type VaeTiling, type VaeTilingOptions } from '../codec/tiled-latent-codec.js';
import { InvalidArgumentError, NotImplementedError } from '../errors.js';
import type { LoadedPipelineParts, PipelineParts } from '../interfaces/backend.js';
import type { Conditioning } from '../interfaces/conditioning.js';
import type { Denoiser } from '../interfaces/denoiser.js';
import type { LatentCodec } from '../interfaces/latent-codec.js';
import type {
  AdapterSource,
  LoraAdapterInfo,
  LoraLoadOptions,
  ModelAdapters,
  TextualInversionInfo,
  TextualInversionLoadOptions,
} from '../interfaces/model-adapters.js';
import type { PromptEncoder } from '../interfaces/prompt-encoder.js';
import type { Scheduler } from '../interfaces/scheduler.js';
import { checkLoraTagNames, extractLoraTags, loraTagScales } from '../prompt/lora-tags.js';
import type { Generator } from '../random/generator.js';
import type { Tensor } from '../tensor.js';
import { checkAdapterNames } from './adapter-arguments.js';
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
  #adapters: ModelAdapters | undefined;
  /** The scheduler each call had when it started (withLoraTags may make it wait for its weights). */
  readonly #callScheduler = new WeakMap<object, Scheduler>();

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
    this.#adapters = (parts as LoadedPipelineParts).adapters;
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
   * The start every `generate()` shares, after its options are checked: takes the scheduler set when the call began,
   * stops on an aborted signal, makes the call's generator and resolved parameters, encodes the prompts,
   * and stops again if the signal was aborted meanwhile.
   */
  protected async startCall(v: ParametersInput): Promise<CallStart> {
    const shared = this.#callScheduler.get(v) ?? this.scheduler;
    v.signal?.throwIfAborted();
    const { generator, seed } = callGenerator(v);
    const parameters = resolveParameters(v, shared, seed);
    // `<lora:…>` tags chose the call's adapter scales (withLoraTags); the text encoder never sees them.
    const strip = (p: string[] | undefined) => p?.map((text) => extractLoraTags(text).prompt);
    const encodeInput = { ...v };
    if (v.prompts) encodeInput.prompts = strip(v.prompts)!;
    if (v.negativePrompts) encodeInput.negativePrompts = strip(v.negativePrompts)!;
    if (v.prompts2) encodeInput.prompts2 = strip(v.prompts2)!;
    if (v.negativePrompts2) encodeInput.negativePrompts2 = strip(v.negativePrompts2)!;
    const conditioning = await callConditioning(this.promptEncoder, encodeInput);
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
   * Runs one `generate()` call (`body`, from the prompt encoding to the decode) with the LoRA scales its
   * prompts ask for: the `<lora:name:weight>` tags of its prompts and negative prompts (see
   * {@link extractLoraTags}; SDXL: also of prompt2 / negativePrompt2) override the adapters' scales for this call only ({@link ModelAdapters.withScales}).
   * Every pipeline's `generate` goes through here, so weights never change under a running call.
   *
   * @throws {@link InvalidArgumentError} for a tag naming an adapter that is not loaded (listing the loaded
   *   ones), and the tag errors of {@link loraTagScales}.
   */
  protected async withLoraTags<T>(
    v: {
      readonly prompts?: readonly string[];
      readonly negativePrompts?: readonly string[];
      readonly prompts2?: readonly string[];
      readonly negativePrompts2?: readonly string[];
    },
    body: () => Promise<T>,
  ): Promise<T> {
    // The call's scheduler is the one set when generate() was called, even if it waits for its weights.
    this.#callScheduler.set(v, this.scheduler);
    const scales = loraTagScales([
      ...(v.prompts ?? []),
      ...(v.negativePrompts ?? []),
      ...(v.prompts2 ?? []),
      ...(v.negativePrompts2 ?? []),
    ]);
    const adapters = this.#adapters;
    if (!adapters) {
      checkLoraTagNames(scales, []);
      return body();
    }
    checkLoraTagNames(
      scales,
      adapters.loras.map((l) => l.name),
    );
    return adapters.withScales(scales, body);
  }

  #requireAdapters(method: string): ModelAdapters {
    if (this.#adapters) return this.#adapters;
    throw new NotImplementedError(
      `${method}() needs a pipeline loaded with fromPretrained (its backend patches the model's weights); this pipeline was built from parts without adapters. Fix: load the model with ${this.constructor.name}.fromPretrained(folder, { backend }), or merge the LoRA or embedding into your own denoiser and prompt encoder.`,
    );
  }

  /**
   * Loads a LoRA adapter into the UNet and text encoder (diffusers' `load_lora_weights`): a `.safetensors`
   * file in the diffusers/PEFT (`lora_A`/`lora_B`) or kohya/A1111 (`lora_down`/`lora_up`/`alpha`) format,
   * from a path (Node), a URL, or its bytes. Several adapters may be loaded, each with its own scale;
   * `<lora:name:weight>` in a prompt sets the weight for one call. Resolves once the weights are in place.
   *
   * @throws {@link NotImplementedError} for a pipeline built from hand-made parts (no backend adapters).
   */
  loadLoraWeights(source: AdapterSource, options?: LoraLoadOptions): Promise<LoraAdapterInfo> {
    return this.#requireAdapters('loadLoraWeights').loadLoraWeights(source, options);
  }

  /**
   * Chooses the active adapters and their scales (diffusers' `set_adapters`): the adapters not named get
   * scale 0 (they stay loaded). One scale for all names, one per name, or none (1 each).
   *
   * @throws {@link InvalidArgumentError} for an unknown or repeated name, a scale that is not finite, or a
   *   list of scales of another length; {@link NotImplementedError} for a pipeline without adapters.
   */
  setAdapters(names: string | readonly string[], scales?: number | readonly number[]): Promise<void> {
    const adapters = this.#requireAdapters('setAdapters');
    const list = typeof names === 'string' ? [names] : names;
    const weights = typeof scales === 'number' ? list.map(() => scales) : scales;
    checkAdapterNames(
      list,
      weights,
      adapters.loras.map((l) => l.name),
    );
    return adapters.setAdapters(list, weights);
  }

  /**
   * Removes every LoRA adapter (diffusers' `unload_lora_weights`): the model's own weights again.
   *
   * @throws {@link NotImplementedError} for a pipeline built from hand-made parts.
   */
  unloadLoraWeights(): Promise<void> {
    return this.#requireAdapters('unloadLoraWeights').unloadLoraWeights();
  }

  /**
   * Loads a textual-inversion embedding (diffusers' `load_textual_inversion`): its token (e.g. `<pink>`)
   * can then be written in prompts and negative prompts.
   *
   * @throws {@link NotImplementedError} for a pipeline built from hand-made parts.
   */
  loadTextualInversion(
    source: AdapterSource,
    options?: TextualInversionLoadOptions,
  ): Promise<TextualInversionInfo> {
    return this.#requireAdapters('loadTextualInversion').loadTextualInversion(source, options);
  }

  /** The loaded LoRA adapters with their scales (none for a pipeline built from hand-made parts). */
  get loras(): readonly LoraAdapterInfo[] {
    return this.#adapters?.loras ?? [];
  }

  /** The loaded textual-inversion embeddings (none for a pipeline built from hand-made parts). */
  get embeddings(): readonly TextualInversionInfo[] {
    return this.#adapters?.embeddings ?? [];
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
