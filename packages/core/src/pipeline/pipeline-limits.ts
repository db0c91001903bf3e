import { InvalidArgumentError } from '../errors.js';

/**
 * Upper bounds a pipeline checks before it allocates anything for a `generate()` call. A request over
 * one of them fails at once with a `LimitExceededError` that says which option raises it. Set them with
 * `new StableDiffusionPipeline({ ...parts, limits })`, the `limits` option of `fromPretrained`, or by
 * assigning `pipe.limits` between calls. See docs/performance.md ("Limits").
 */
export interface PipelineLimits {
  /** The largest output width or height in pixels. Default 8192. */
  maxImageSize: number;
  /** The most images one call may make: prompts × `numImagesPerPrompt`. Default 64. */
  maxImagesPerCall: number;
  /**
   * The pixel budget of one call: images × width × height, as a stand-in for activation memory (see
   * {@link ACTIVATION_BYTES_PER_PIXEL}). Default in core: {@link DEFAULT_MAX_PIXELS_PER_CALL}; the Node
   * backend derives it from the machine's memory with {@link maxPixelsForMemory}.
   */
  maxPixelsPerCall: number;
}

/**
 * Estimated peak activation memory per output pixel, in bytes: 16 KiB. The estimate is for SD 1.x-sized
 * models in float32 on onnxruntime's CPU provider, where attention is not fused into a memory-efficient
 * kernel. At 512×512 under classifier-free guidance (a UNet batch of 2) the UNet's first attention layer
 * holds 2 × 8 heads × 4096² float32 scores (1 GiB) and their softmax (another 1 GiB), beside the
 * convolution activations; the VAE decoder's full-resolution blocks hold a few 128-channel 512×512 maps
 * (128 MiB each). That is about 4 GiB per 512×512 image, 16 KiB per pixel. Attention grows with the square
 * of the latent area, so for one large image the estimate is low rather than high; smaller models (the
 * shipped shapes model) need far less. It is a budget, not a measurement: raise it when you know better.
 */
export const ACTIVATION_BYTES_PER_PIXEL = 16 * 1024;

/**
 * The share of the machine's memory the pixel budget may plan for (one half): the rest is for the model's
 * weights (about 4 GB for SD 1.5 in float32), the runtime's arenas and everything else on the machine.
 */
export const MEMORY_SHARE_FOR_ACTIVATIONS = 0.5;

/**
 * Core's default pixel budget, 2²⁰ pixels (four 512×512 images or one 1024×1024 per call): what
 * {@link maxPixelsForMemory} gives for a 32 GiB machine. Core has no way to ask for the machine's memory;
 * `@latentkit/backend-node` replaces it with the figure for the machine it runs on.
 */
export const DEFAULT_MAX_PIXELS_PER_CALL = 1024 * 1024;

/** The limits a pipeline starts with unless told otherwise. */
export const DEFAULT_PIPELINE_LIMITS: Readonly<PipelineLimits> = Object.freeze({
  maxImageSize: 8192,
  maxImagesPerCall: 64,
  maxPixelsPerCall: DEFAULT_MAX_PIXELS_PER_CALL,
});

/**
 * The pixel budget for a machine with `totalMemoryBytes` of memory:
 * `floor(totalMemoryBytes × MEMORY_SHARE_FOR_ACTIVATIONS / ACTIVATION_BYTES_PER_PIXEL)`, at least one
 * 512×512 image. 24 GiB gives 786,432 pixels (three 512×512 images, or 768×1024 once); 64 GiB gives
 * 2,097,152.
 */
export function maxPixelsForMemory(totalMemoryBytes: number): number {
  if (!Number.isFinite(totalMemoryBytes) || totalMemoryBytes <= 0) {
    throw new InvalidArgumentError({
      name: 'totalMemoryBytes',
      value: totalMemoryBytes,
      expected: 'a positive number of bytes',
    });
  }
  const pixels = Math.floor((totalMemoryBytes * MEMORY_SHARE_FOR_ACTIVATIONS) / ACTIVATION_BYTES_PER_PIXEL);
  return Math.max(pixels, 512 * 512);
}

const LIMIT_KEYS = ['maxImageSize', 'maxImagesPerCall', 'maxPixelsPerCall'] as const;

/**
 * Fills in the defaults of a partial {@link PipelineLimits} and checks each value (a positive integer or
 * `Infinity` to switch the limit off).
 *
 * @throws {@link InvalidArgumentError} for an unknown key or a value that is not a positive integer or
 *   `Infinity`.
 */
export function resolvePipelineLimits(limits?: Partial<PipelineLimits>): PipelineLimits {
  if (limits === undefined) return { ...DEFAULT_PIPELINE_LIMITS };
  if (typeof limits !== 'object' || limits === null) {
    throw new InvalidArgumentError({
      name: 'limits',
      value: limits,
      expected: `an object with any of ${LIMIT_KEYS.join(', ')}`,
      fix: 'pass e.g. limits: { maxImagesPerCall: 128 }',
    });
  }
  for (const key of Object.keys(limits)) {
    if (!(LIMIT_KEYS as readonly string[]).includes(key)) {
      throw new InvalidArgumentError({
        name: `limits.${key}`,
        value: (limits as Record<string, unknown>)[key],
        expected: `one of the limits ${LIMIT_KEYS.join(', ')}`,
        fix: 'drop the key, or correct its name',
      });
    }
  }
  const out = { ...DEFAULT_PIPELINE_LIMITS };
  for (const key of LIMIT_KEYS) {
    const value = limits[key];
    if (value === undefined) continue;
    if (
      typeof value !== 'number' ||
      !(Number.isInteger(value) || value === Number.POSITIVE_INFINITY) ||
      value < 1
    ) {
      throw new InvalidArgumentError({
        name: `limits.${key}`,
        value,
        expected: 'an integer ≥ 1, or Infinity for no limit',
        fix: `pass e.g. limits: { ${key}: ${DEFAULT_PIPELINE_LIMITS[key] * 2} }`,
      });
    }
    out[key] = value;
  }
  return out;
}

/**
 * `given` over `base`: the limits of `base` (e.g. a backend's memory-derived ones), replaced by each limit
 * `given` sets (keys whose value is `undefined` are ignored), with the defaults for the rest.
 *
 * @throws {@link InvalidArgumentError} as {@link resolvePipelineLimits}, for either argument.
 */
export function mergePipelineLimits(
  base: Partial<PipelineLimits> | undefined,
  given: Partial<PipelineLimits> | undefined,
): PipelineLimits {
  const out = resolvePipelineLimits(base);
  if (given === undefined) return out;
  resolvePipelineLimits(given);
  for (const key of LIMIT_KEYS) {
    const value = given[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}
