import type { LayoutBox, LayoutObject } from '../layout/layout-object.js';
import type { Tensor } from '../tensor.js';
import type { GenerateOptions } from './generate-options.js';
import { GENERATE_OPTION_KEYS } from './validate-options.js';

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

type LayoutOptionKey = Exclude<keyof GligenGenerateOptions, keyof GenerateOptions>;
type ImageOptionKey = 'image' | 'maskImage' | 'strength';

/** One entry per layout option: tsc fails here when one is added to {@link GligenGenerateOptions} but not listed. */
const LAYOUT_KEYS: Record<LayoutOptionKey, true> = {
  layout: true,
  gligenPhrases: true,
  gligenBoxes: true,
  gligenScheduledSamplingBeta: true,
  gligenPhraseEmbeds: true,
};
const IMAGE_KEYS: readonly string[] = ['image', 'maskImage', 'strength'] satisfies ImageOptionKey[];

/**
 * The option names the GLIGEN pipeline's `generate()` accepts — StableDiffusionPipeline's text-to-image
 * options and the layout's; any other key is rejected with a "did you mean".
 */
export const GLIGEN_OPTION_KEYS: readonly (keyof GligenGenerateOptions)[] = Object.freeze([
  ...(GENERATE_OPTION_KEYS.filter((key) => !IMAGE_KEYS.includes(key)) as (keyof GligenGenerateOptions)[]),
  ...(Object.keys(LAYOUT_KEYS) as LayoutOptionKey[]),
]);

/** diffusers' defaults of `StableDiffusionGLIGENPipeline.__call__`. */
export const GLIGEN_DEFAULTS = Object.freeze({
  numInferenceSteps: 50,
  guidanceScale: 7.5,
  gligenScheduledSamplingBeta: 0.3,
});
