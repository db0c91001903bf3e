import {
  type GenerateResult,
  type GenerationParameters,
  generateWithRefiner,
  refinerGenerationParameters,
  type StableDiffusionXLPipeline,
  type StepInfo,
  TorchGenerator,
} from '@latentkit/core';
import { generationParametersFrom } from '../generation-parameters.js';
import { type SdxlFlags, sdxlBaseOptions, sdxlRefinerOptions } from './sdxl-flags.js';

/** The refiner of a `latentkit generate --refiner DIR` run. */
export interface SdxlRefiner {
  /** The refiner's pipeline. */
  pipe: StableDiffusionXLPipeline;
  /** Its name as written after `Refiner:` (the folder's name). */
  name: string;
  /** `--high-noise-frac`: the base denoises up to this share of the schedule, the refiner the rest. */
  highNoiseFrac: number;
}

/** What one SDXL image needs besides the pipelines and the flags. */
export interface SdxlStepInput {
  prompt: string;
  negativePrompt: string;
  steps: number;
  guidance: number;
  /** The image's seed: the base and the refiner each start a generator from it. */
  seed: number | bigint;
  /** `--width` / `--height` when given. */
  size: { width?: number; height?: number };
  /** The model's name, written as `Model:`. */
  model: string;
  /** Called after each step of the base and then of the refiner (`which` says whose). */
  onStep: (info: StepInfo, which: 'base' | 'refiner') => Promise<void>;
  signal: AbortSignal;
}

/**
 * Makes one image with an SDXL model and, with `--refiner`, diffusers' "ensemble of expert denoisers"
 * through core's `generateWithRefiner`: the base denoises the first `highNoiseFrac` of the schedule
 * (`denoisingEnd`) and hands its latents over (`outputType: 'latent'`); the refiner continues from them
 * (`image` = those latents, `denoisingStart`) with the same prompts, steps, guidance and seed (a fresh
 * generator from it). `result.parameters` are the refiner call's. The parameters are the
 * base's, plus A1111's `Refiner: <name>, Refiner switch at: <frac>` and the refiner's aesthetic scores.
 */
export async function sdxlStep(
  base: StableDiffusionXLPipeline,
  refiner: SdxlRefiner | undefined,
  flags: SdxlFlags,
  input: SdxlStepInput,
): Promise<{ result: GenerateResult; infotext: GenerationParameters }> {
  const common = {
    prompt: input.prompt,
    negativePrompt: input.negativePrompt,
    numInferenceSteps: input.steps,
    guidanceScale: input.guidance,
    signal: input.signal,
  };
  if (!refiner) {
    const result = await base.generate({
      ...common,
      ...input.size,
      ...sdxlBaseOptions(flags),
      generator: new TorchGenerator(input.seed),
      onStep: (info) => input.onStep(info, 'base'),
    });
    return { result, infotext: generationParametersFrom(result.parameters, { model: input.model }) };
  }
  // The hand-off is core's generateWithRefiner: each pipeline starts a fresh generator from the seed.
  const { images, parameters } = await generateWithRefiner(base, refiner.pipe, {
    ...common,
    ...input.size,
    // The flags give both the same prompts 2, original size and crop; the scores are the refiner's.
    ...sdxlBaseOptions(flags),
    ...sdxlRefinerOptions(flags),
    seed: input.seed,
    highNoiseFrac: refiner.highNoiseFrac,
    onStep: ({ pass, ...info }) => input.onStep(info, pass),
  });
  return {
    result: { images, parameters: parameters.refinerPass },
    infotext: refinerGenerationParameters(
      generationParametersFrom(parameters, { model: input.model }),
      generationParametersFrom(parameters.refinerPass, { model: input.model }),
      { name: refiner.name, switchAt: refiner.highNoiseFrac },
    ),
  };
}
