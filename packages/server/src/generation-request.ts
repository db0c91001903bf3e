/**
 * What travels between the HTTP API and whatever runs the generation (the in-process queue, or a BullMQ
 * worker on another machine): plain JSON, so that it can be stored in Redis as it is. Both APIs (OpenAI's
 * and A1111's) translate their bodies into a {@link GenerationRequest}; {@link runGeneration} is the one
 * code path that turns it into a {@link GenerationResult}.
 */

/** One generation job: what to make, fully resolved (every default filled in, the seeds chosen). */
export interface GenerationRequest {
  /** The model the request asked for (the server checks it names the model it serves). */
  model: string;
  /** The prompt. */
  prompt: string;
  /** The negative prompt ('' for none). */
  negativePrompt: string;
  /** Output width in pixels (the pipeline checks it: a multiple of 8, within its limits). */
  width: number;
  /** Output height in pixels. */
  height: number;
  /** Number of inference steps. */
  steps: number;
  /** Classifier-free guidance scale. */
  guidanceScale: number;
  /**
   * One seed per image. Image i is made with its own generator seeded with `seeds[i]`, so it equals the
   * image a single call with that seed makes (A1111's seed, seed+1, … for a batch).
   */
  seeds: number[];
  /**
   * How many images one `generate()` call makes (A1111's `batch_size`); `seeds.length / batchSize` calls
   * run one after the other (A1111's `n_iter`).
   */
  batchSize: number;
  /** A scheduler by A1111 name (`DPM++ 2M Karras`) or diffusers class name; absent: the model's own. */
  sampler?: string;
  /** CLIP skip (A1111 / diffusers semantics, 1 = last layer). */
  clipSkip?: number;
  /** img2img / inpaint: the source image, a base64 PNG. */
  initImage?: string;
  /** Inpaint: the mask, a base64 PNG (white = repaint). */
  mask?: string;
  /** img2img / inpaint strength in [0, 1]. */
  strength?: number;
  /** DDIM's η (A1111's `eta`); schedulers without η ignore it. Absent: 0. */
  eta?: number;
  /**
   * Decode live previews while the job runs (for A1111's `/sdapi/v1/progress` `current_image`), every
   * `previewEverySteps` of the queue or worker. The A1111 routes set it; OpenAI requests have no progress
   * endpoint, so they skip the cost (one VAE decode each time).
   */
  livePreview?: boolean;
}

/** What a finished job returns. */
export interface GenerationResult {
  /** The images as base64 PNGs, each with its A1111 `parameters` text chunk. */
  images: string[];
  /** The seed of each image. */
  seeds: number[];
  /** Each image's A1111 infotext (`prompt\nNegative prompt: …\nSteps: 20, Sampler: …`). */
  infotexts: string[];
  /** The sampler used, by its A1111 name. */
  sampler: string;
  /** True when an interrupt stopped the job early: the images are decoded from the latents so far. */
  interrupted: boolean;
  /** Seconds the generation took (model work only, not the wait in the queue). */
  seconds: number;
}

/** How far a running job is. */
export interface GenerationProgress {
  /** Steps done so far, over all of the job's batches. */
  step: number;
  /** Steps the job runs in all. */
  totalSteps: number;
  /** The latest preview of the first image of the current batch, a base64 PNG (when previews are on). */
  preview?: string;
}
