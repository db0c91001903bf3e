import { InvalidArgumentError } from '../errors.js';
import { checkLayout, type LayoutNames } from '../layout/check-layout.js';
import { checkGroundingSpec, requirePooledEncoder } from '../layout/layout-encoder.js';
import type { CheckedLayout, LayoutInput } from '../layout/layout-input.js';
import type { Tensor } from '../tensor.js';
import type { GenerateOptions, ResolvedLayout } from './generate-options.js';
import { GLIGEN_DEFAULTS, GLIGEN_OPTION_KEYS, type GligenGenerateOptions } from './gligen-options.js';
import {
  isFiniteNumber,
  type ValidatedOptions,
  type ValidationParts,
  validateGenerateOptions,
} from './validate-options.js';

/** {@link GligenGenerateOptions} checked, with defaults applied. */
export interface ValidatedGligenOptions extends ValidatedOptions {
  mode: 'txt2img';
  /** The objects (phrases or none, boxes) and the scheduled-sampling beta, as recorded in `parameters.layout`. */
  layout: ResolvedLayout;
  /** The layout in the form the layout encoder takes (phrases or phrase embeddings, and boxes). */
  layoutInput: LayoutInput;
}

/** The names the GLIGEN options give a layout's values in error messages. */
export const GLIGEN_LAYOUT_NAMES: LayoutNames = Object.freeze({
  objects: 'layout',
  phrases: 'gligenPhrases',
  boxes: 'gligenBoxes',
  phraseEmbeds: 'gligenPhraseEmbeds',
});

/** Options of the image-to-image and inpainting pipelines that GLIGEN here does not take. */
const IMAGE_KEYS = ['image', 'maskImage', 'mask', 'strength', 'gligenInpaintImage'] as const;

/**
 * Checks a GLIGEN call before any work: `image`, `maskImage` and `strength` refused (text-to-image only),
 * then every text-to-image option through {@link validateGenerateOptions} (keys, prompts, guidance, size,
 * generators, limits), then the layout: exactly one of `layout`, `gligenPhrases` + `gligenBoxes`,
 * `gligenPhraseEmbeds` + `gligenBoxes`, checked against the denoiser's grounding spec (see
 * {@link checkLayout}); a prompt encoder with `encodePooled` when phrases are given; beta in [0, 1].
 */
export function validateGligenOptions(
  options: GligenGenerateOptions,
  parts: ValidationParts,
): ValidatedGligenOptions {
  if (typeof options === 'object' && options !== null) {
    for (const key of IMAGE_KEYS) {
      if (key in options) {
        throw new InvalidArgumentError({
          name: key,
          value: (options as Record<string, unknown>)[key],
          expected:
            "no image, mask or strength: StableDiffusionGLIGENPipeline is text-to-image only (diffusers' gligen_inpaint_image is not implemented)",
          fix: 'drop the option; for img2img or inpainting without a layout use StableDiffusionPipeline',
        });
      }
    }
  }
  const base = validateGenerateOptions(options as GenerateOptions, parts, GLIGEN_OPTION_KEYS);
  const spec = checkGroundingSpec(parts.denoiser.grounding);

  const beta = options.gligenScheduledSamplingBeta ?? GLIGEN_DEFAULTS.gligenScheduledSamplingBeta;
  if (!isFiniteNumber(beta) || beta < 0 || beta > 1) {
    throw new InvalidArgumentError({
      name: 'gligenScheduledSamplingBeta',
      value: beta,
      expected: 'a number in [0, 1]: the fraction of the denoiser calls that are grounded',
      fix: "use 0.3 (diffusers' default), 1 to ground every step, or 0 for none",
    });
  }

  const layoutInput = layoutFormOf(options);
  const checked: CheckedLayout = checkLayout(layoutInput, spec, GLIGEN_LAYOUT_NAMES);
  if (checked.phrases) {
    requirePooledEncoder(parts.promptEncoder, Array.isArray(layoutInput) ? 'layout' : 'gligenPhrases');
  }
  const layout: ResolvedLayout = { boxes: checked.boxes, scheduledSamplingBeta: beta };
  if (checked.phrases) layout.phrases = checked.phrases;
  const normalized: LayoutInput = checked.phrases
    ? { phrases: checked.phrases, boxes: checked.boxes }
    : { phraseEmbeds: checked.phraseEmbeds as Tensor, boxes: checked.boxes };
  return { ...base, mode: 'txt2img', layout, layoutInput: normalized };
}

/** The one layout form the call gives: `layout`, or the `gligen*` options; a typed error for none or several. */
function layoutFormOf(options: GligenGenerateOptions): LayoutInput {
  const { layout, gligenPhrases, gligenBoxes, gligenPhraseEmbeds } = options;
  const gligen = gligenPhrases !== undefined || gligenBoxes !== undefined || gligenPhraseEmbeds !== undefined;
  if (layout !== undefined && gligen) {
    throw new InvalidArgumentError({
      name: 'layout',
      value: layout,
      expected: 'either layout or gligenPhrases/gligenBoxes/gligenPhraseEmbeds, not both',
      fix: 'give the objects once: layout: [{ phrase, box }, …], or gligenPhrases with gligenBoxes',
    });
  }
  if (layout !== undefined) return layout;
  if (!gligen) {
    throw new InvalidArgumentError({
      name: 'layout',
      value: undefined,
      expected:
        'the objects to place: layout, gligenPhrases + gligenBoxes, or gligenPhraseEmbeds + gligenBoxes',
      fix: 'pass e.g. layout: [{ phrase: "a red circle", box: [0.05, 0.05, 0.45, 0.45] }]; without a layout use StableDiffusionPipeline',
    });
  }
  if (gligenBoxes === undefined) {
    throw new InvalidArgumentError({
      name: 'gligenBoxes',
      value: undefined,
      expected: `one box [x0, y0, x1, y1] per ${gligenPhrases !== undefined ? 'phrase of gligenPhrases' : 'row of gligenPhraseEmbeds'}`,
      fix: 'pass gligenBoxes, e.g. [[0.05, 0.05, 0.45, 0.45]]',
    });
  }
  if (gligenPhrases !== undefined && gligenPhraseEmbeds !== undefined) {
    throw new InvalidArgumentError({
      name: 'gligenPhraseEmbeds',
      value: gligenPhraseEmbeds,
      expected: 'either gligenPhrases or gligenPhraseEmbeds, not both',
      fix: 'drop gligenPhraseEmbeds to encode gligenPhrases, or drop gligenPhrases',
    });
  }
  if (gligenPhraseEmbeds !== undefined) return { phraseEmbeds: gligenPhraseEmbeds, boxes: gligenBoxes };
  if (gligenPhrases === undefined) {
    throw new InvalidArgumentError({
      name: 'gligenPhrases',
      value: undefined,
      expected: 'one phrase per box of gligenBoxes (or gligenPhraseEmbeds)',
      fix: 'pass gligenPhrases, e.g. ["a red circle"]',
    });
  }
  return { phrases: gligenPhrases, boxes: gligenBoxes };
}
