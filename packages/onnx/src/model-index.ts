import {
  ModelInvalidError,
  ModelNotFoundError,
  NotImplementedError,
  type SdxlPipelineConfig,
} from '@latentkit/core';
import type { ModelSource } from './model-source.js';
import { parsePythonJson } from './python-json.js';

/** What `model_index.json` says about a model folder. */
export interface ModelIndex {
  /** The pipeline class, e.g. `OnnxStableDiffusionPipeline`. */
  readonly className: string;
  /**
   * `'upscale'` for diffusers' x4 upscaler (`StableDiffusionUpscalePipeline`, `OnnxStableDiffusionUpscalePipeline`:
   * a 7-channel UNet, a low-res scheduler, a decode-only ×4 VAE), else `'text-to-image'` (SD 1.x/2.x, whose
   * folders also serve img2img and inpainting).
   */
  readonly kind: 'text-to-image' | 'upscale';
  /**
   * Whether `_class_name` names diffusers' GLIGEN pipeline (`StableDiffusionGLIGENPipeline`, layout-to-image):
   * then the UNet must be a grounded one (docs/layout-to-image.md, "ONNX convention").
   */
  readonly grounded: boolean;
  /**
   * Present when the folder is SDXL (`StableDiffusionXL(Img2Img|Inpaint)?Pipeline`, with diffusers' `Onnx` or
   * Optimum's `ORT` prefix, or any folder listing `text_encoder_2` / `tokenizer_2`): `requires_aesthetics_score`
   * (default false) and `force_zeros_for_empty_prompt` (default true) of `model_index.json`.
   */
  readonly sdxl: SdxlPipelineConfig | undefined;
  /** Component folder → `[library, class]` (entries set to `[null, null]` are left out). */
  readonly components: Readonly<Record<string, readonly [string, string]>>;
  /** The whole file. */
  readonly raw: Readonly<Record<string, unknown>>;
}

// Pipelines whose components are SD 1.x/2.x-shaped: one CLIP text encoder, a UNet, a KL VAE. The ONNX
// classes of diffusers (Onnx…, the legacy StableDiffusionOnnxPipeline), Optimum (ORT…) and the PyTorch
// class names Optimum copies from the source model.
const SD_FAMILY =
  /^(Onnx|ORT)?(StableDiffusion(Img2Img|Inpaint|InpaintLegacy|GLIGEN)?|LatentConsistencyModel(Img2Img)?)(Onnx)?Pipeline$/;
// diffusers' GLIGEN text-box pipeline (masterful/gligen-1-4-generation-text-box): an SD 1.x folder whose
// UNet takes the grounding inputs.
const GLIGEN = /^(Onnx)?StableDiffusionGLIGENPipeline$/;
// SDXL base, refiner (img2img) and inpainting; Optimum's ORT classes and diffusers' ONNX-style names.
const SDXL = /^(Onnx|ORT)?StableDiffusionXL(Img2Img|Inpaint)?Pipeline$/;
// diffusers' x4 upscaler (stabilityai/stable-diffusion-x4-upscaler) and its ONNX class.
const UPSCALER = /^(Onnx)?StableDiffusionUpscalePipeline$/;

/**
 * Reads and checks `model_index.json`: it must exist and name a Stable Diffusion 1.x/2.x–family pipeline or
 * the x4 upscaler (`StableDiffusionUpscalePipeline`), or the GLIGEN text-box pipeline
 * (`StableDiffusionGLIGENPipeline`).
 *
 * An SDXL folder (see {@link ModelIndex.sdxl}) is read with its pipeline settings.
 *
 * @throws {@link @latentkit/core!ModelNotFoundError} when the file is missing; {@link @latentkit/core!NotImplementedError} for other SDXL pipelines (ControlNet, InstructPix2Pix…) and GLIGEN text-image;
 *   {@link @latentkit/core!ModelInvalidError} for other pipelines or a malformed file.
 */
export async function readModelIndex(source: ModelSource): Promise<ModelIndex> {
  if (!(await source.exists('model_index.json'))) {
    throw new ModelNotFoundError(
      `model_index.json not found in ${source.location}: expected a diffusers ONNX model folder (model_index.json, unet/, vae_decoder/, …).`,
    );
  }
  const raw = parsePythonJson(await source.readText('model_index.json'), 'model_index.json');
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ModelInvalidError(`model_index.json in ${source.location} is not a JSON object.`);
  }
  const index = raw as Record<string, unknown>;
  const className = index['_class_name'];
  if (typeof className !== 'string') {
    throw new ModelInvalidError(`model_index.json in ${source.location} has no "_class_name".`);
  }
  const components: Record<string, readonly [string, string]> = {};
  for (const [key, value] of Object.entries(index)) {
    if (key.startsWith('_') || !Array.isArray(value)) continue;
    const [lib, cls] = value as unknown[];
    if (typeof lib === 'string' && typeof cls === 'string') components[key] = [lib, cls];
  }
  const sdxlComponents = 'text_encoder_2' in components || 'tokenizer_2' in components;
  if (SDXL.test(className) || (sdxlComponents && SD_FAMILY.test(className))) {
    return {
      className,
      kind: 'text-to-image',
      grounded: false,
      sdxl: readSdxlConfig(index, source.location),
      components,
      raw: index,
    };
  }
  if (/XL/.test(className) || sdxlComponents) {
    throw new NotImplementedError(
      `${source.location} is an SDXL-family model of a pipeline latentkit does not run (${className}). Supported: StableDiffusionXLPipeline, StableDiffusionXLImg2ImgPipeline and StableDiffusionXLInpaintPipeline exports (base, refiner, Turbo, inpainting). Fix: export one of those with optimum-cli (docs/model-folders.md, "SDXL").`,
    );
  }
  if (/GLIGENTextImage/.test(className)) {
    throw new NotImplementedError(
      `${source.location} is a GLIGEN text-image model (${className}, grounded on reference images); only text-box grounding is supported (StableDiffusionGLIGENPipeline). Use a text-box GLIGEN export such as masterful/gligen-1-4-generation-text-box.`,
    );
  }
  const upscale = UPSCALER.test(className);
  if (!upscale && !SD_FAMILY.test(className)) {
    throw new ModelInvalidError(
      `model_index.json in ${source.location} names the pipeline ${className}; expected a Stable Diffusion 1.x/2.x pipeline such as OnnxStableDiffusionPipeline or StableDiffusionPipeline, the x4 upscaler's StableDiffusionUpscalePipeline, or StableDiffusionGLIGENPipeline (layout-to-image).`,
    );
  }
  return {
    className,
    kind: upscale ? 'upscale' : 'text-to-image',
    grounded: GLIGEN.test(className),
    sdxl: undefined,
    components,
    raw: index,
  };
}

/** A boolean key of `model_index.json`, `fallback` when absent or null. */
function flag(
  index: Readonly<Record<string, unknown>>,
  key: string,
  fallback: boolean,
  location: string,
): boolean {
  const value = index[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') {
    throw new ModelInvalidError(
      `model_index.json in ${location}: "${key}" is ${JSON.stringify(value)}; expected true or false (default ${fallback}). Fix: correct the file (SDXL base has force_zeros_for_empty_prompt true, the refiner requires_aesthetics_score true).`,
    );
  }
  return value;
}

/** The SDXL pipeline settings of `model_index.json`, with diffusers' defaults. */
function readSdxlConfig(index: Readonly<Record<string, unknown>>, location: string): SdxlPipelineConfig {
  return {
    requiresAestheticsScore: flag(index, 'requires_aesthetics_score', false, location),
    forceZerosForEmptyPrompt: flag(index, 'force_zeros_for_empty_prompt', true, location),
  };
}
