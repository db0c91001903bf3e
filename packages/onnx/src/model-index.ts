import { ModelInvalidError, ModelNotFoundError, NotImplementedError } from '@latentkit/core';
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
// diffusers' x4 upscaler (stabilityai/stable-diffusion-x4-upscaler) and its ONNX class.
const UPSCALER = /^(Onnx)?StableDiffusionUpscalePipeline$/;

/**
 * Reads and checks `model_index.json`: it must exist and name a Stable Diffusion 1.x/2.x–family pipeline or
 * the x4 upscaler (`StableDiffusionUpscalePipeline`), or the GLIGEN text-box pipeline
 * (`StableDiffusionGLIGENPipeline`).
 *
 * @throws {@link @latentkit/core!ModelNotFoundError} when the file is missing; {@link @latentkit/core!NotImplementedError} for SDXL and GLIGEN text-image;
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
  if (/XL/.test(className) || 'text_encoder_2' in components || 'tokenizer_2' in components) {
    throw new NotImplementedError(
      `${source.location} is an SDXL model (${className}); SDXL is not supported yet. Use an SD 1.x or 2.x ONNX export.`,
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
    components,
    raw: index,
  };
}
