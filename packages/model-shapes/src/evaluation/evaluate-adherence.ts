import {
  InvalidArgumentError,
  type RgbaImage,
  type StableDiffusionPipeline,
  TorchGenerator,
} from '@latentkit/core';
import {
  type AdherenceCase,
  type SplitAccuracy,
  scoreJudgement,
  summarizeBySplit,
} from './adherence-score.js';
import { judgeShapeImage } from './judge-image.js';
import type { PromptSplit, ShapePrompt } from './shape-prompts.js';
import type { ShapesWorld } from './shapes-world.js';

/** Options of {@link evaluateAdherence}. */
export interface AdherenceOptions {
  /** The world of the model (its `heldout.json`, parsed by `parseShapesWorld`): colours and size. */
  readonly world: ShapesWorld;
  /** The prompts, e.g. `makeShapePrompts(world)`. */
  readonly prompts: readonly ShapePrompt[];
  /** Every prompt is generated once per seed; image of seed `s` = `generate({ prompt, seed: s })`. */
  readonly seeds: readonly number[];
  /** Denoising steps. */
  readonly numInferenceSteps: number;
  /** Classifier-free guidance scale (no guidance at ≤ 1, as diffusers). */
  readonly guidanceScale: number;
  /**
   * Prompts per `generate` call. Default 48. Batching only saves time: each image keeps its own
   * generator (on onnxruntime-node's CPU provider the bytes equal one-prompt calls).
   */
  readonly batchSize?: number;
  /** Called after each batch with the number of images done and the total. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Called with each image and its case, e.g. to save failures. */
  readonly onImage?: (image: RgbaImage, result: AdherenceCase) => void | Promise<void>;
}

/** What {@link evaluateAdherence} measured. */
export interface AdherenceResult {
  /** Every image's prompt, seed, verdicts and score, in generation order (seed-major). */
  readonly cases: AdherenceCase[];
  /** Accuracy on seen and on held-out triples. */
  readonly splits: Readonly<Record<PromptSplit, SplitAccuracy>>;
  /** Wall time of the whole evaluation in seconds (generation and judging). */
  readonly seconds: number;
}

/**
 * Generates every prompt × seed through the pipeline (its current scheduler — swap it beforehand to
 * evaluate another one), judges each image with {@link judgeShapeImage} and scores the attributes
 * each prompt specifies, separately for seen and held-out triples.
 *
 * ```ts
 * const world = parseShapesWorld(JSON.parse(readFileSync(join(shapesModelPath, 'heldout.json'), 'utf8')));
 * const pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
 * const result = await evaluateAdherence(pipe, {
 *   world, prompts: makeShapePrompts(world), seeds: [0, 1], numInferenceSteps: 20, guidanceScale: 5,
 * });
 * console.log(formatAccuracyTable([{ label: 'default', result }]));
 * ```
 */
export async function evaluateAdherence(
  pipeline: Pick<StableDiffusionPipeline, 'generate'>,
  options: AdherenceOptions,
): Promise<AdherenceResult> {
  const { world, prompts, seeds, numInferenceSteps, guidanceScale, batchSize = 48 } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new InvalidArgumentError({
      name: 'batchSize',
      value: batchSize,
      expected: 'a positive integer',
    });
  }
  if (prompts.length === 0 || seeds.length === 0) {
    throw new InvalidArgumentError({
      name: prompts.length === 0 ? 'prompts' : 'seeds',
      value: [],
      expected: 'at least one',
    });
  }
  const start = performance.now();
  const total = prompts.length * seeds.length;
  const cases: AdherenceCase[] = [];
  for (const seed of seeds) {
    for (let i = 0; i < prompts.length; i += batchSize) {
      const batch = prompts.slice(i, i + batchSize);
      // One generator per image, all seeded alike: each image equals a one-prompt call with `seed`.
      const { images } = await pipeline.generate({
        prompt: batch.map((p) => p.prompt),
        generator: batch.map(() => new TorchGenerator(seed)),
        numInferenceSteps,
        guidanceScale,
        width: world.resolution,
        height: world.resolution,
      });
      for (const [k, image] of images.entries()) {
        const prompt = batch[k] as ShapePrompt;
        const judged = judgeShapeImage(image, world.colors);
        const result: AdherenceCase = {
          prompt,
          seed,
          judged,
          ...scoreJudgement(prompt.expected, judged),
        };
        cases.push(result);
        await options.onImage?.(image, result);
      }
      options.onProgress?.(cases.length, total);
    }
  }
  return {
    cases,
    splits: summarizeBySplit(cases),
    seconds: (performance.now() - start) / 1000,
  };
}
