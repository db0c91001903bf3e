import type { Scheduler } from '../interfaces/scheduler.js';
import type { Generator } from '../random/generator.js';
import type {
  ImageParameters,
  ResolvedLayout,
  ResolvedParameters,
  ResolvedSdxlParameters,
} from './generate-options.js';
import type { CommonOptions } from './validate-options.js';

/** A generator that can say what it was seeded with, as `TorchGenerator.initialSeed()` (torch's `initial_seed()`). */
interface SeededGenerator extends Generator {
  initialSeed(): bigint | number;
}

function isSeeded(g: Generator): g is SeededGenerator {
  return typeof (g as Partial<SeededGenerator>).initialSeed === 'function';
}

/** A seed as a plain number when it is one exactly (seeds up to 2^53), else as a bigint. */
function plainSeed(seed: bigint | number): bigint | number {
  return typeof seed === 'bigint' && seed <= BigInt(Number.MAX_SAFE_INTEGER) && seed >= 0n
    ? Number(seed)
    : seed;
}

/** The scheduler's diffusers class name: `config._class_name`, else the class's own name. */
export function schedulerClassName(scheduler: Scheduler): string {
  const name = scheduler.config['_class_name'];
  return typeof name === 'string' && name !== '' ? name : scheduler.constructor.name;
}

/** What {@link resolveParameters} reads: the shared options, the mode, the output size and the mode's own settings. */
export interface ParametersInput extends CommonOptions {
  mode: ResolvedParameters['mode'];
  width: number;
  height: number;
  /** img2img / inpainting strength. */
  strength?: number;
  /** The x4 upscaler's noise level. */
  noiseLevel?: number;
  /** The layout of a GLIGEN call. */
  layout?: ResolvedLayout;
  /** What an SDXL call resolved. */
  sdxl?: ResolvedSdxlParameters;
}

/**
 * The settings a call resolved, and each image's prompt, negative prompt, seed and batch index:
 * - `seed` (or no seed: the random one chosen, `callSeed`): all images come from one generator seeded
 *   with it, image i at batch index i;
 * - one `generator`: its `initialSeed()` when it has one (a `TorchGenerator`: the seed it was last
 *   seeded with), batch index i;
 * - a list of generators: image i's seed is generator i's `initialSeed()`, batch index 0.
 * Read before any draw, with the scheduler the call was started with.
 */
export function resolveParameters(
  v: ParametersInput,
  scheduler: Scheduler,
  callSeed: number | bigint | undefined,
): ResolvedParameters {
  const images: ImageParameters[] = [];
  for (let i = 0; i < v.totalImages; i++) {
    const promptIndex = Math.floor(i / v.numImagesPerPrompt);
    const image: ImageParameters = { batchIndex: v.generators ? 0 : i };
    const prompt = v.prompts?.[promptIndex];
    if (prompt !== undefined) image.prompt = prompt;
    const negative = v.doClassifierFreeGuidance ? v.negativePrompts?.[promptIndex] : undefined;
    if (negative !== undefined) image.negativePrompt = negative;
    const prompt2 = v.prompts2?.[promptIndex];
    if (prompt2 !== undefined && prompt2 !== prompt) image.prompt2 = prompt2;
    const negative2 = v.doClassifierFreeGuidance ? v.negativePrompts2?.[promptIndex] : undefined;
    if (negative2 !== undefined && negative2 !== negative) image.negativePrompt2 = negative2;
    const generator = v.generators ? v.generators[i]! : v.generator;
    const seed = generator
      ? isSeeded(generator)
        ? plainSeed(generator.initialSeed())
        : undefined
      : callSeed;
    if (seed !== undefined) image.seed = seed;
    images.push(image);
  }
  const parameters: ResolvedParameters = {
    mode: v.mode,
    width: v.width,
    height: v.height,
    numInferenceSteps: v.numInferenceSteps,
    guidanceScale: v.guidanceScale,
    guidanceRescale: v.guidanceRescale,
    eta: v.eta,
    scheduler: schedulerClassName(scheduler),
    schedulerConfig: { ...scheduler.config },
    images,
  };
  if ((v.mode === 'img2img' || v.mode === 'inpaint') && v.strength !== undefined)
    parameters.strength = v.strength;
  if (v.noiseLevel !== undefined) parameters.noiseLevel = v.noiseLevel;
  if (v.clipSkip !== undefined) parameters.clipSkip = v.clipSkip;
  if (v.sdxl !== undefined) parameters.sdxl = v.sdxl;
  if (v.layout !== undefined) {
    const { phrases, boxes, scheduledSamplingBeta } = v.layout;
    parameters.layout = {
      boxes: boxes.map(([x0, y0, x1, y1]): [number, number, number, number] => [x0, y0, x1, y1]),
      scheduledSamplingBeta,
    };
    if (phrases) parameters.layout.phrases = [...phrases];
  }
  return parameters;
}
