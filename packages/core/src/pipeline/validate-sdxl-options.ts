import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import type { SdxlPipelineConfig } from '../interfaces/backend.js';
import type { Conditioning } from '../interfaces/conditioning.js';
import type { GenerateOptions, ResolvedSdxlParameters } from './generate-options.js';
import { SDXL_DEFAULTS, SDXL_OPTION_KEYS, type SdxlGenerateOptions, type SizePair } from './sdxl-options.js';
import { type MicroConditioning, resolveMicroConditioning } from './sdxl-time-ids.js';
import {
  isFiniteNumber,
  type ValidatedOptions,
  type ValidationParts,
  validateGenerateOptions,
} from './validate-options.js';

/** {@link SdxlGenerateOptions} checked, with diffusers' SDXL defaults applied. */
export interface ValidatedSdxlOptions extends ValidatedOptions {
  /** The micro-conditioning with its defaults (the output size, `[0, 0]`, 6 and 2.5). */
  micro: MicroConditioning;
  /** `denoisingEnd`, when given. */
  denoisingEnd?: number;
  /** `denoisingStart`, when given (img2img / inpainting). */
  denoisingStart?: number;
  /** The resolved SDXL parameters (set by the pipeline once the time ids are made). */
  sdxl?: ResolvedSdxlParameters;
}

const SIZE_PAIRS = ['originalSize', 'targetSize', 'negativeOriginalSize', 'negativeTargetSize'] as const;
const CROP_PAIRS = ['cropsCoordsTopLeft', 'negativeCropsCoordsTopLeft'] as const;

function checkPair(name: string, value: unknown, min: number, what: string, example: string): SizePair {
  if (
    !Array.isArray(value) ||
    value.length !== 2 ||
    !value.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= min)
  ) {
    throw new InvalidArgumentError({
      name,
      value,
      expected: `${what}: an array of two integers ≥ ${min}`,
      fix: `pass e.g. ${name}: ${example}`,
    });
  }
  return [value[0], value[1]];
}

function checkFraction(name: string, value: unknown, fix: string): number {
  if (!isFiniteNumber(value) || value <= 0 || value >= 1) {
    throw new InvalidArgumentError({
      name,
      value,
      expected: 'a number strictly between 0 and 1 (a fraction of the schedule)',
      fix,
    });
  }
  return value;
}

/** A second-encoder prompt option as one text per prompt (a string for all), or an error naming the count. */
function promptList2(name: string, value: unknown, count: number): string[] {
  if (typeof value === 'string') return Array.from({ length: count }, () => value);
  if (!Array.isArray(value) || !value.every((p) => typeof p === 'string')) {
    throw new InvalidArgumentError({
      name,
      value,
      expected: 'a string or an array of strings',
      fix: `pass ${name}: "…" (one text for every prompt) or one string per prompt`,
    });
  }
  if (value.length !== count) {
    throw new InvalidArgumentError({
      name: `${name} length`,
      value: value.length,
      expected: `${count}, the number of prompts`,
      fix: `pass one ${name} per prompt, or a single string for all`,
    });
  }
  return [...value];
}

/** SDXL conditioning given as embeddings must carry the pooled `textEmbeds` and no `timeIds`. */
function checkSdxlEmbeds(name: string, c: Conditioning, textEmbedsDim: number | undefined): void {
  if (c.textEmbeds === undefined) {
    throw new InvalidArgumentError({
      name: `${name}.textEmbeds`,
      value: undefined,
      expected: 'the pooled text embeddings [B, P] (text_encoder_2 projected output, 1280 wide for SDXL)',
      fix: `pass ${name}: { encoderHiddenStates, textEmbeds } as an SDXL prompt encoder returns them (diffusers' pooled_prompt_embeds)`,
    });
  }
  if (c.timeIds !== undefined) {
    throw new InvalidArgumentError({
      name: `${name}.timeIds`,
      value: c.timeIds.shape,
      expected:
        'no timeIds: the pipeline makes them from originalSize, cropsCoordsTopLeft, targetSize (and the aesthetic scores)',
      fix: `drop ${name}.timeIds and pass the micro-conditioning options instead`,
    });
  }
  const width = c.textEmbeds.shape[1];
  if (textEmbedsDim !== undefined && width !== textEmbedsDim) {
    throw new ShapeMismatchError({
      name: `${name}.textEmbeds width`,
      value: width,
      expected: `${textEmbedsDim}, the denoiser's text_embeds width (denoiser.microConditioning.textEmbedsDim)`,
      fix: 'use pooled embeddings from the text encoder of this model (text_encoder_2)',
    });
  }
}

/**
 * Checks every option of an SDXL `generate` call before any work: StableDiffusionPipeline's checks with
 * SDXL's defaults (guidance 5, img2img strength 0.3, inpainting strength 0.9999, `image` also as latents),
 * then SDXL's own: `[h, w]` pairs of positive integers, crops ≥ 0, finite aesthetic scores used only by the
 * refiner's img2img / inpainting, target sizes not used by the refiner, `denoisingEnd` / `denoisingStart` in
 * (0, 1) with start < end and start only with an image, `prompt2` / `negativePrompt2` counts, pooled
 * `textEmbeds` on embeddings, and the denoiser's time-id count against `requiresAestheticsScore`.
 */
export function validateSdxlOptions(
  options: SdxlGenerateOptions,
  parts: ValidationParts,
  config: SdxlPipelineConfig,
): ValidatedSdxlOptions {
  const v = validateGenerateOptions(options as GenerateOptions, parts, {
    keys: SDXL_OPTION_KEYS,
    defaultGuidance: SDXL_DEFAULTS.guidanceScale,
    img2imgStrength: SDXL_DEFAULTS.img2imgStrength,
    inpaintStrength: SDXL_DEFAULTS.inpaintStrength,
    latentImage: true,
    zeroNegative: config.forceZerosForEmptyPrompt,
  });
  const refiner = config.requiresAestheticsScore;
  const { denoiser, codec } = parts;

  // --- the model and the config ---
  const expectedIds = refiner ? 5 : 6;
  const modelIds = denoiser.microConditioning?.timeIdCount;
  if (modelIds !== undefined && modelIds !== expectedIds) {
    throw new InvalidArgumentError({
      name: 'requiresAestheticsScore',
      value: refiner,
      expected: `${modelIds === 5 ? 'true' : 'false'}: the denoiser takes ${modelIds} time ids (${modelIds === 5 ? 'a refiner: original size, crop, aesthetic score' : 'a base model: original size, crop, target size'}), the pipeline config makes ${expectedIds}`,
      fix: `construct the pipeline with { requiresAestheticsScore: ${modelIds === 5} } (model_index.json requires_aesthetics_score), or use the ${modelIds === 5 ? 'refiner' : 'base'} model's config`,
    });
  }
  if (refiner && v.mode === 'txt2img') {
    throw new InvalidArgumentError({
      name: 'image',
      value: undefined,
      expected:
        "an image (or the base model's latents): a refiner (requiresAestheticsScore) runs img2img and inpainting only, as diffusers' StableDiffusionXLImg2ImgPipeline",
      fix: "pass image: the base pipeline's outputType: 'latent' result with denoisingStart, or a picture with strength",
    });
  }
  if (v.imageLatents && v.mode === 'inpaint' && denoiser.inChannels !== codec.latentChannels) {
    throw new InvalidArgumentError({
      name: 'image',
      value: v.imageLatents.shape,
      expected: `a picture [B, 3, H, W] for a ${denoiser.inChannels}-channel inpainting UNet (it needs the masked image's latents, and latents cannot be masked)`,
      fix: "decode the latents first (outputType: 'tensor'), or inpaint with a 4-channel UNet",
    });
  }

  // --- micro-conditioning ---
  for (const key of SIZE_PAIRS) {
    if (options[key] !== undefined)
      checkPair(key, options[key], 1, '[height, width] in pixels', '[1024, 1024]');
  }
  for (const key of CROP_PAIRS) {
    if (options[key] !== undefined) checkPair(key, options[key], 0, '[top, left] in pixels', '[0, 0]');
  }
  const aestheticUsed = refiner && v.mode !== 'txt2img';
  for (const key of ['aestheticScore', 'negativeAestheticScore'] as const) {
    const value = options[key];
    if (value === undefined) continue;
    if (!isFiniteNumber(value)) {
      throw new InvalidArgumentError({
        name: key,
        value,
        expected: 'a finite number (the LAION aesthetic score, about 1–10)',
        fix: `use e.g. ${key === 'aestheticScore' ? 6 : 2.5} (the default)`,
      });
    }
    if (!aestheticUsed) {
      throw new InvalidArgumentError({
        name: key,
        value,
        expected:
          "no aesthetic score: only a refiner's (requiresAestheticsScore) img2img / inpainting time ids hold it; this model's hold the target size",
        fix: `drop ${key}, or construct the pipeline with the refiner's config { requiresAestheticsScore: true }`,
      });
    }
  }
  if (aestheticUsed) {
    for (const key of ['targetSize', 'negativeTargetSize'] as const) {
      if (options[key] !== undefined) {
        throw new InvalidArgumentError({
          name: key,
          value: options[key],
          expected:
            "no target size: a refiner's (requiresAestheticsScore) time ids hold the aesthetic score instead",
          fix: `drop ${key} (use aestheticScore / negativeAestheticScore), or use a base model's config`,
        });
      }
    }
  }

  // --- schedule fractions ---
  let denoisingEnd: number | undefined;
  let denoisingStart: number | undefined;
  if (options.denoisingEnd !== undefined) {
    denoisingEnd = checkFraction(
      'denoisingEnd',
      options.denoisingEnd,
      "use e.g. 0.8 for the base of a base + refiner pair (with outputType: 'latent'), or drop it to run the whole schedule",
    );
  }
  if (options.denoisingStart !== undefined) {
    denoisingStart = checkFraction(
      'denoisingStart',
      options.denoisingStart,
      "use the base's denoisingEnd (e.g. 0.8), or drop it to start from strength",
    );
    if (v.mode === 'txt2img') {
      throw new InvalidArgumentError({
        name: 'denoisingStart',
        value: denoisingStart,
        expected:
          "an image to continue from (denoisingStart applies to img2img and inpainting: the refiner's hand-off)",
        fix: "pass image: the base pipeline's outputType: 'latent' result, or drop denoisingStart",
      });
    }
    if (options.latents !== undefined) {
      throw new InvalidArgumentError({
        name: 'latents',
        value: options.latents,
        expected: 'no latents with denoisingStart (it continues from image; no initial noise is used)',
        fix: 'pass the latents to continue from as image, and drop latents',
      });
    }
  }
  if (denoisingStart !== undefined && denoisingEnd !== undefined && denoisingStart >= denoisingEnd) {
    throw new InvalidArgumentError({
      name: 'denoisingStart',
      value: denoisingStart,
      expected: `less than denoisingEnd ${denoisingEnd} (the run would have no step)`,
      fix: 'lower denoisingStart or raise denoisingEnd',
    });
  }

  // --- prompts of the second encoder, embeddings ---
  if (options.prompt2 !== undefined) {
    if (!v.prompts) {
      throw new InvalidArgumentError({
        name: 'prompt2',
        value: options.prompt2,
        expected: 'prompt2 together with prompt (not with promptEmbeds, which already hold both encoders)',
        fix: 'pass prompt and prompt2, or only promptEmbeds',
      });
    }
    // diffusers: prompt_2 or prompt — an empty string falls back to the prompt.
    if (options.prompt2 !== '') v.prompts2 = promptList2('prompt2', options.prompt2, v.batchSize);
  }
  if (options.negativePrompt2 !== undefined) {
    if (options.negativePromptEmbeds !== undefined) {
      throw new InvalidArgumentError({
        name: 'negativePrompt2',
        value: options.negativePrompt2,
        expected: 'either negativePrompt2 or negativePromptEmbeds, not both',
        fix: 'drop one of them',
      });
    }
    const list = promptList2('negativePrompt2', options.negativePrompt2, v.batchSize);
    // Without negativePrompt under force_zeros_for_empty_prompt diffusers ignores negative_prompt_2 (zeros).
    if (v.negativePrompts && options.negativePrompt2 !== '') v.negativePrompts2 = list;
  }
  if (v.prompts2 && v.negativePrompts && !v.negativePrompts2) v.negativePrompts2 = [...v.negativePrompts];
  if (v.negativePrompts2 && !v.prompts2 && v.prompts) v.prompts2 = [...v.prompts];
  const textEmbedsDim = denoiser.microConditioning?.textEmbedsDim;
  if (options.promptEmbeds) checkSdxlEmbeds('promptEmbeds', options.promptEmbeds, textEmbedsDim);
  if (options.negativePromptEmbeds)
    checkSdxlEmbeds('negativePromptEmbeds', options.negativePromptEmbeds, textEmbedsDim);
  // diffusers' SDXL encode_prompt ignores clip_skip for the negative prompts.
  v.negativesIgnoreClipSkip = true;

  const out: ValidatedSdxlOptions = {
    ...v,
    micro: resolveMicroConditioning(options, v.height, v.width),
  };
  if (denoisingEnd !== undefined) out.denoisingEnd = denoisingEnd;
  if (denoisingStart !== undefined) out.denoisingStart = denoisingStart;
  return out;
}
