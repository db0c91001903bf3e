import type {
  GenerateOptions,
  GligenGenerateOptions,
  LayoutObject,
  ProblemDetails,
  RefinerHandOffParameters,
  ResolvedParameters,
  RgbaImage,
  UpscaleGenerateOptions,
  VaeTilingOptions,
} from '@latentkit/core';
import type { DownloadProgress } from '../http-model-source.js';
import type { WebBackendOptions } from '../web-backend.js';
import type { WebProviderAssignment } from '../web-session-factory.js';

/**
 * The messages between {@link createGenerationWorker} (the page) and {@link serveGenerationWorker} (the
 * worker). Everything in them survives `postMessage`'s structured clone: no functions, no class instances.
 */

/**
 * VAE tiling in the worker (diffusers' `enable_vae_tiling()`, see `PipelineBase.enableVaeTiling`): `true`
 * for diffusers' defaults, tile options, or `false` for whole-image decoding.
 */
export type WorkerVaeTiling = boolean | VaeTilingOptions;

/**
 * Load options that can cross to a worker: {@link WebBackendOptions} without its callbacks, and
 * `vaeTiling` — the model's VAE tiling for every call that does not set its own (default off).
 */
export type WorkerLoadOptions = Omit<
  WebBackendOptions,
  'onProgress' | 'onWarning' | 'fetch' | 'sessionOptions'
> & { vaeTiling?: WorkerVaeTiling };

/** How step previews are made in the worker. */
export interface PreviewOptions {
  /** A preview every this many steps (and always none for the last step: the result follows). Default 1. */
  every?: number;
  /**
   * `decode` (default) runs the VAE decoder on the step's latents: exact, and as costly as decoding the
   * result (cheap for small models, seconds for 512² SD on WebAssembly). `approximate` maps each latent
   * pixel to RGB with a fixed 4×3 matrix (`factors`): free, at latent resolution (1/8 of the size), and
   * only meaningful for the VAE the factors were fitted to.
   */
  mode?: 'decode' | 'approximate';
  /** The latent→RGB matrix for `approximate` (4 rows of R, G, B); default SD 1.x's. */
  factors?: readonly (readonly [number, number, number])[];
}

/** Generation options that can cross to a worker. */
export interface WorkerGenerateOptions
  extends Pick<
    GenerateOptions,
    | 'prompt'
    | 'negativePrompt'
    | 'width'
    | 'height'
    | 'numInferenceSteps'
    | 'guidanceScale'
    | 'guidanceRescale'
    | 'numImagesPerPrompt'
    | 'eta'
    | 'seed'
    | 'strength'
  > {
  /** SDXL models only: the second text encoder's prompt (diffusers' `prompt_2`); default `prompt`. */
  prompt2?: string | string[];
  /** SDXL models only: the second text encoder's negative prompt (`negative_prompt_2`); default `negativePrompt`. */
  negativePrompt2?: string | string[];
  /** An init image for img2img (and inpainting with `maskImage`). */
  image?: RgbaImage;
  /** The inpainting mask (white = repaint). */
  maskImage?: RgbaImage;
  /**
   * A scheduler for this call, by diffusers class name or A1111 name (see `listSchedulerNames()`); it is
   * built from the model's `scheduler_config.json`. Default: the model's.
   */
  scheduler?: string;
  /** Step previews; none when absent. */
  preview?: PreviewOptions;
  /** VAE tiling for this call only; default the load's `vaeTiling`. */
  vaeTiling?: WorkerVaeTiling;
  /**
   * SDXL models only: finish with a refiner, diffusers' base + refiner hand-off (core's
   * `generateWithRefiner`): the loaded model denoises the first `highNoiseFrac` of the schedule and the
   * refiner the rest. Text-to-image only (no `image` / `maskImage`).
   */
  refiner?: WorkerRefinerOptions;
}

/**
 * The refiner of a worker `generate` request. The refiner is loaded on first use and kept for later calls
 * with the same `model` and `loadOptions`; it runs the call's scheduler, built from its own config.
 */
export interface WorkerRefinerOptions {
  /** The refiner's folder URL (absolute; the page's client resolves relative ones), e.g. SDXL refiner 1.0's. */
  model: string;
  /** In (0, 1): the share of the schedule the loaded model denoises before the refiner. Default 0.8. */
  highNoiseFrac?: number;
  /** The refiner's aesthetic score (refiner models only). Default 6. */
  aestheticScore?: number;
  /** The refiner's negative aesthetic score (refiner models only). Default 2.5. */
  negativeAestheticScore?: number;
  /** How to load the refiner (providers, threads, limits, its default `vaeTiling`), as for `load`. */
  loadOptions?: WorkerLoadOptions;
}

/**
 * An x4 upscale in the worker (`StableDiffusionUpscalePipeline`): the options of its `generate()` that can
 * cross to a worker, and which upscaler model to run. The upscaler is loaded on first use and kept for
 * later calls with the same `model` and `loadOptions`; the generation model (`load`) is not touched.
 */
export interface WorkerUpscaleOptions
  extends Pick<
    UpscaleGenerateOptions,
    | 'prompt'
    | 'negativePrompt'
    | 'noiseLevel'
    | 'numInferenceSteps'
    | 'guidanceScale'
    | 'numImagesPerPrompt'
    | 'eta'
    | 'seed'
  > {
  /** The x4 upscaler model's folder URL (absolute; the page's client resolves relative ones). */
  model: string;
  /** The low-resolution image; the result is 4× its size. */
  image: RgbaImage;
  /** How to load the upscaler (providers, threads, limits, its default `vaeTiling`), as for `load`. */
  loadOptions?: WorkerLoadOptions;
  /** VAE tiling for this call only; default `loadOptions.vaeTiling` (off). */
  vaeTiling?: WorkerVaeTiling;
}

/**
 * Layout-to-image in the worker (`StableDiffusionGLIGENPipeline`): boxes with phrases in, an image with
 * those objects in those boxes out. The grounded model is loaded on first use and kept for later calls
 * with the same `model` and `loadOptions`; the generation model (`load`) is not touched.
 */
export interface WorkerLayoutOptions
  extends Pick<
    GligenGenerateOptions,
    | 'prompt'
    | 'negativePrompt'
    | 'width'
    | 'height'
    | 'numInferenceSteps'
    | 'guidanceScale'
    | 'guidanceRescale'
    | 'numImagesPerPrompt'
    | 'eta'
    | 'seed'
    | 'gligenScheduledSamplingBeta'
  > {
  /** The grounded (GLIGEN) model's folder URL (absolute; the page's client resolves relative ones). */
  model: string;
  /**
   * The layout: 1 to 30 objects `{ phrase, box: [x0, y0, x1, y1] }`, coordinates as fractions of the
   * width and height, origin top left (0 ≤ x0 < x1 ≤ 1, 0 ≤ y0 < y1 ≤ 1).
   */
  layout: LayoutObject[];
  /** A scheduler for this call, by diffusers class name or A1111 name; default the grounded model's. */
  scheduler?: string;
  /** Step previews; none when absent. */
  preview?: PreviewOptions;
  /** How to load the grounded model (providers, threads, limits, its default `vaeTiling`), as for `load`. */
  loadOptions?: WorkerLoadOptions;
  /** VAE tiling for this call only; default `loadOptions.vaeTiling` (off). */
  vaeTiling?: WorkerVaeTiling;
}

/** What a load reports back. */
export interface WorkerLoadResult {
  /** The provider each component runs on. */
  readonly providers: Readonly<WebProviderAssignment>;
  /** The wasm threads onnxruntime-web runs with in the worker. */
  readonly numThreads: number;
  /** The model's scheduler (`_class_name` of its config). */
  readonly scheduler: string;
  /**
   * The pipeline class the worker runs the model with, picked from the model as `DiffusionPipeline` does:
   * `StableDiffusionXLPipeline` for an SDXL folder (base, refiner, Turbo), else `StableDiffusionPipeline`.
   */
  readonly pipeline: 'StableDiffusionPipeline' | 'StableDiffusionXLPipeline';
  /** The image size the model was trained at (UNet `sample_size` × VAE downscale), when known. */
  readonly imageSize: number | undefined;
  /** Milliseconds the load took (download, or cache read, and session creation). */
  readonly loadMs: number;
}

/** One finished denoising step, as the worker reports it. */
export interface WorkerStepInfo {
  /** 0-based index of the step just completed. */
  readonly step: number;
  /** Steps in this call. */
  readonly totalSteps: number;
  /** The step's timestep. */
  readonly timestep: number;
  /** Preview images (one per generated image) when previews were asked for and due at this step. */
  readonly previews?: RgbaImage[];
  /** With a `refiner`: whose step it was (`step` / `totalSteps` count each model's own steps). */
  readonly pass?: 'base' | 'refiner';
}

/** What a generation reports back. */
export interface WorkerGenerateResult {
  /** The images. */
  readonly images: RgbaImage[];
  /**
   * The call's resolved settings and each image's prompt and seed, as `generate()` returns them (for
   * `toPngBlob`). With a `refiner`: `generateWithRefiner`'s parameters (the base call's, plus
   * `highNoiseFrac` and `refinerPass`, the refiner call's).
   */
  readonly parameters: ResolvedParameters | RefinerHandOffParameters;
  /** Milliseconds from the request reaching the worker to the images being ready. */
  readonly totalMs: number;
  /** Milliseconds spent making previews (included in `totalMs`). */
  readonly previewMs: number;
}

/** An error, flattened for `postMessage`. */
export interface WorkerError {
  /** The error's name (`AbortError`, or the class name). */
  readonly name: string;
  /** The error's message. */
  readonly message: string;
  /** A LatentkitError's code. */
  readonly code?: string;
  /** A DownloadFailedError's URL. */
  readonly url?: string;
  /** A NonFiniteOutputError's step. */
  readonly step?: number;
  /** The offending value's details (InvalidArgumentError, LimitExceededError, …). */
  readonly details?: ProblemDetails;
}

/** Page → worker. */
export type WorkerRequest =
  | { type: 'load'; id: number; url: string; options: WorkerLoadOptions }
  | { type: 'generate'; id: number; options: WorkerGenerateOptions }
  | { type: 'upscale'; id: number; options: WorkerUpscaleOptions }
  | { type: 'layout'; id: number; options: WorkerLayoutOptions }
  | { type: 'cancel'; id: number }
  | { type: 'dispose'; id: number };

/** Worker → page. */
export type WorkerResponse =
  | { type: 'progress'; id: number; progress: DownloadProgress }
  | { type: 'warning'; id: number; message: string }
  | { type: 'step'; id: number; info: WorkerStepInfo }
  | { type: 'loaded'; id: number; result: WorkerLoadResult }
  | { type: 'result'; id: number; result: WorkerGenerateResult }
  | { type: 'disposed'; id: number }
  | { type: 'error'; id: number; error: WorkerError };
