import {
  type GenerateResult,
  type GenerationParameters,
  refinerGenerationParameters,
  type StableDiffusionXLPipeline,
  type StepInfo,
  type Tensor,
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
 * Makes one image with an SDXL model and, with `--refiner`, diffusers' "ensemble of expert denoisers":
 * the base denoises the first `highNoiseFrac` of the schedule (`denoisingEnd`) and hands its latents over
 * (`outputType: 'latent'`); the refiner continues from them (`image` = those latents, `denoisingStart`)
 * with the same prompts, steps, guidance and seed (a fresh generator from it). The parameters are the
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
  const handOff = await base.generate({
    ...common,
    ...input.size,
    ...sdxlBaseOptions(flags),
    generator: new TorchGenerator(input.seed),
    denoisingEnd: refiner.highNoiseFrac,
    outputType: 'latent',
    onStep: (info) => input.onStep(info, 'base'),
  });
  const latents: Tensor = handOff.images;
  const result = await refiner.pipe.generate({
    ...common,
    ...sdxlRefinerOptions(flags),
    image: latents,
    denoisingStart: refiner.highNoiseFrac,
    generator: new TorchGenerator(input.seed),
    onStep: (info) => input.onStep(info, 'refiner'),
  });
  return {
    result,
    infotext: refinerGenerationParameters(
      generationParametersFrom(handOff.parameters, { model: input.model }),
      generationParametersFrom(result.parameters, { model: input.model }),
      { name: refiner.name, switchAt: refiner.highNoiseFrac },
    ),
  };
}
