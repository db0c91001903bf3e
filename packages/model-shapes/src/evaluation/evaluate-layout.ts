import {
  checkKnownKeys,
  InvalidArgumentError,
  type RgbaImage,
  type StableDiffusionGLIGENPipeline,
} from '@latentkit/core';
import { type EvalLayout, layoutTruth } from './eval-layouts.js';
import { judgeLayout } from './judge-layout.js';
import type { LayoutCase } from './layout-score.js';
import { paletteOf } from './pixel-colors.js';
import type { ShapesWorld } from './shapes-world.js';

/** Options of {@link evaluateLayouts}. */
export interface LayoutEvaluationOptions {
  /** The layouts, e.g. `parseEvalLayouts(heldout-layouts.json).layouts`. */
  readonly layouts: readonly EvalLayout[];
  /** The world's colour table (what the judge classifies colours into). */
  readonly colors: ShapesWorld['colors'];
  /**
   * Each layout's index in its set (e.g. from `selectLayouts`), so a subset keeps the seeds and report
   * numbers of the full run. Default: `0, 1, 2, …`.
   */
  readonly indices?: readonly number[];
  /** The layout of index `i` is generated with seed `seed + i` (a fixed seed per layout). Default 0. */
  readonly seed?: number;
  /** Denoising steps. */
  readonly numInferenceSteps: number;
  /** Classifier-free guidance scale (no guidance at ≤ 1, as diffusers). */
  readonly guidanceScale: number;
  /** The share of grounded denoiser calls (diffusers' `gligen_scheduled_sampling_beta`). */
  readonly gligenScheduledSamplingBeta: number;
  /** Image side in pixels; the model's default size when absent. */
  readonly resolution?: number;
  /** Called after each image with the number done and the total. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Called with each image and its verdicts, e.g. to save failures. */
  readonly onImage?: (image: RgbaImage, result: LayoutCase) => void | Promise<void>;
}

/** What {@link evaluateLayouts} measured. */
export interface LayoutEvaluation {
  /** Every layout's seed and verdicts, in the layouts' order. */
  readonly cases: LayoutCase[];
  /** Wall time in seconds (generation and judging). */
  readonly seconds: number;
}

const OPTION_KEYS = [
  'layouts',
  'indices',
  'colors',
  'seed',
  'numInferenceSteps',
  'guidanceScale',
  'gligenScheduledSamplingBeta',
  'resolution',
  'onProgress',
  'onImage',
] as const;

/**
 * Generates every layout once through a GLIGEN pipeline — the layout's prompt for the whole image, its
 * objects as `layout` (phrase + box), seed `seed + index` — and judges each image with {@link judgeLayout}.
 * Sampling options are checked by the pipeline on the first call; the layouts by the judge's rules first,
 * so a layout the judge cannot score fails before any generation.
 *
 * ```ts
 * const set = parseEvalLayouts(JSON.parse(readFileSync(join(shapesLayoutModelPath, 'heldout-layouts.json'), 'utf8')));
 * const pipe = await StableDiffusionGLIGENPipeline.fromPretrained(shapesLayoutModelPath, { backend: nodeBackend });
 * const { cases } = await evaluateLayouts(pipe, { layouts: set.layouts, colors: set.colors!, numInferenceSteps: 50,
 *   guidanceScale: 5, gligenScheduledSamplingBeta: 1 });
 * console.log(formatLayoutTable(cases));
 * ```
 */
export async function evaluateLayouts(
  pipeline: Pick<StableDiffusionGLIGENPipeline, 'generate'>,
  options: LayoutEvaluationOptions,
): Promise<LayoutEvaluation> {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError({
      name: 'evaluateLayouts() options',
      value: options,
      expected: '{ layouts, colors, numInferenceSteps, guidanceScale, gligenScheduledSamplingBeta, … }',
    });
  }
  checkKnownKeys('evaluateLayouts() options', options, OPTION_KEYS);
  const { layouts, colors, seed = 0, resolution } = options;
  if (!Array.isArray(layouts as unknown) || layouts.length === 0) {
    throw new InvalidArgumentError({
      name: 'layouts',
      value: layouts,
      expected: 'at least one layout',
      fix: 'pass parseEvalLayouts(json).layouts',
    });
  }
  const indices = options.indices ?? layouts.map((_, i) => i);
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new InvalidArgumentError({ name: 'seed', value: seed, expected: 'a non-negative integer' });
  }
  if (
    !Array.isArray(indices as unknown) ||
    indices.length !== layouts.length ||
    !indices.every((i) => Number.isSafeInteger(i) && i >= 0)
  ) {
    throw new InvalidArgumentError({
      name: 'indices',
      value: indices,
      expected: `${layouts.length} non-negative integers, one per layout`,
    });
  }
  // Every layout must be judgeable before hours of generation.
  const { names } = paletteOf(colors);
  layouts.forEach((layout, i) => {
    try {
      layoutTruth(layout, names);
    } catch (e) {
      const details = e instanceof InvalidArgumentError ? e.details : undefined;
      if (!details) throw e;
      throw new InvalidArgumentError({
        ...details,
        name: details.name.replace(/^layout\b/, `layouts[${indices[i]}]`),
      });
    }
  });
  const start = performance.now();
  const cases: LayoutCase[] = [];
  for (const [k, layout] of layouts.entries()) {
    const index = indices[k] as number;
    const { images } = await pipeline.generate({
      prompt: layout.prompt,
      layout: layout.objects.map((o) => ({
        phrase: o.phrase,
        box: [...o.box] as [number, number, number, number],
      })),
      numInferenceSteps: options.numInferenceSteps,
      guidanceScale: options.guidanceScale,
      gligenScheduledSamplingBeta: options.gligenScheduledSamplingBeta,
      seed: seed + index,
      ...(resolution === undefined ? {} : { width: resolution, height: resolution }),
    });
    const image = images[0] as RgbaImage;
    const result: LayoutCase = {
      index,
      layout,
      seed: seed + index,
      judged: judgeLayout(image, layout, { colors }),
    };
    cases.push(result);
    await options.onImage?.(image, result);
    options.onProgress?.(cases.length, layouts.length);
  }
  return { cases, seconds: (performance.now() - start) / 1000 };
}
