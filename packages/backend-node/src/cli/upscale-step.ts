import type { GenerationParameters, RgbaImage, StableDiffusionUpscalePipeline } from '@latentkit/core';
import { decodeLatentsToRgb, extractLoraTags } from '@latentkit/core';
import { writePng } from '../png.js';
import type { StepProgress } from './progress.js';

/** The x4 upscale settings of a `latentkit generate --upscale 4` run. */
export interface UpscaleSettings {
  factor: number;
  steps: number;
  guidance: number;
  noiseLevel: number;
  /** The upscaler's name as written in `Postprocess upscaler`. */
  name: string;
}

/** What one image's upscale needs besides the upscaler and its settings. */
export interface UpscaleStepInput {
  prompt: string;
  negativePrompt: string;
  /** The image just made. */
  image: RgbaImage;
  /** The image's seed: the upscaler starts a fresh generator from it. */
  seed: number | bigint;
  progress: StepProgress;
  /** `--preview FILE` (decoded previews only: `--preview-approx` does not apply to the upscaler's latents). */
  preview: string | undefined;
  previewApprox: boolean;
  signal: AbortSignal;
}

/**
 * Upscales one generated image with the x4 upscaler (its prompt, a generator from its seed) and returns
 * the big image with the upscale written into its parameters as A1111's postprocessing fields.
 */
export async function upscaleStep(
  upscaler: StableDiffusionUpscalePipeline,
  settings: UpscaleSettings,
  input: UpscaleStepInput,
  infotext: GenerationParameters,
): Promise<{ image: RgbaImage; infotext: GenerationParameters }> {
  const { progress, preview, signal } = input;
  const up = await upscaler.generate({
    // <lora:…> tags choose the model's LoRA weights; the upscaler has no LoRA
    prompt: extractLoraTags(input.prompt).prompt,
    negativePrompt: extractLoraTags(input.negativePrompt).prompt,
    image: input.image,
    seed: input.seed,
    numInferenceSteps: settings.steps,
    guidanceScale: settings.guidance,
    noiseLevel: settings.noiseLevel,
    onStep: async ({ step, totalSteps, latents }) => {
      progress.update(step + 1, totalSteps);
      if (preview === undefined || input.previewApprox || signal.aborted) return;
      const [image] = await decodeLatentsToRgb(upscaler.codec, latents);
      await writePng(preview, image!, { text: { Step: `upscale ${step + 1}/${totalSteps}` } });
    },
    signal,
  });
  return {
    image: up.images[0]!,
    infotext: {
      ...infotext,
      extra: {
        ...infotext.extra,
        'Postprocess upscale by': settings.factor,
        'Postprocess upscaler': settings.name,
        'Upscale steps': settings.steps,
        'Upscale guidance': settings.guidance,
        'Upscale noise level': settings.noiseLevel,
      },
    },
  };
}
