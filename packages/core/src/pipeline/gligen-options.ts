import type { LayoutBox, LayoutObject } from '../layout/layout-object.js';
import type { Tensor } from '../tensor.js';
import type { GenerateOptions } from './generate-options.js';

/**
 * Options of {@link StableDiffusionGLIGENPipeline.generate}: {@link StableDiffusionPipeline}'s
 * text-to-image options (no `image`, `maskImage` or `strength`: GLIGEN here is text-to-image only) and
 * the layout, in exactly one of three forms — `layout`, `gligenPhrases` + `gligenBoxes`, or
 * `gligenPhraseEmbeds` + `gligenBoxes`. Names and defaults follow diffusers'
 * `StableDiffusionGLIGENPipeline.__call__` (camelCase): 50 steps, guidance 7.5, beta 0.3.
 */
export interface GligenGenerateOptions extends Omit<GenerateOptions, 'image' | 'maskImage' | 'strength'> {
  /** The objects as data: `{ phrase, box }[]` (1 to 30 objects). Not with the `gligen*` layout options. */
  layout?: LayoutObject[];
  /** What goes in each box, phrase i for box i; encoded with `promptEncoder.encodePooled`. */
  gligenPhrases?: string[];
  /** The boxes `[x0, y0, x1, y1]`, fractions of the width and height, origin top left (0 ≤ x0 < x1 ≤ 1, same for y). */
  gligenBoxes?: LayoutBox[];
  /**
   * The fraction of the denoiser calls that are grounded, in [0, 1]: call i is grounded iff
   * `i < trunc(beta · timesteps.length)` (diffusers' scheduled sampling). Default 0.3.
   */
  gligenScheduledSamplingBeta?: number;
  /** Precomputed pooled phrase embeddings `[n, D]` (row i for box i) instead of `gligenPhrases`. */
  gligenPhraseEmbeds?: Tensor;
}

/** One entry per key of {@link GligenGenerateOptions}: tsc fails here when an option is added but not listed. */
const KEYS: Record<keyof GligenGenerateOptions, true> = {
  prompt: true,
  negativePrompt: true,
  promptEmbeds: true,
  negativePromptEmbeds: true,
  clipSkip: true,
  width: true,
  height: true,
  numInferenceSteps: true,
  guidanceScale: true,
  guidanceRescale: true,
  numImagesPerPrompt: true,
  eta: true,
  seed: true,
  generator: true,
  latents: true,
  onStep: true,
  signal: true,
  outputType: true,
  layout: true,
  gligenPhrases: true,
  gligenBoxes: true,
  gligenScheduledSamplingBeta: true,
  gligenPhraseEmbeds: true,
};

/** The option names the GLIGEN pipeline's `generate()` accepts; any other key is rejected with a "did you mean". */
export const GLIGEN_OPTION_KEYS: readonly (keyof GligenGenerateOptions)[] = Object.freeze(
  Object.keys(KEYS) as (keyof GligenGenerateOptions)[],
);

/** diffusers' defaults of `StableDiffusionGLIGENPipeline.__call__`. */
export const GLIGEN_DEFAULTS = Object.freeze({
  numInferenceSteps: 50,
  guidanceScale: 7.5,
  gligenScheduledSamplingBeta: 0.3,
});
