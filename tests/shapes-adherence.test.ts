/**
 * CI guard of the shipped shapes model's prompt adherence (issue 6 item 4): 12 seen + 12 held-out
 * prompts of the evaluator's set × seed 0, through the real model on onnxruntime-node at its default
 * settings, judged by the evaluator's image judge. The full evaluation is `npm run eval:shapes`.
 *
 * Seeds are fixed, so on one machine the result is deterministic; onnxruntime's kernels may round
 * differently on other CPUs, which can flip a borderline image, so the thresholds sit below what
 * this subset measures (see MEASURED) — a real drop in quality still fails.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeBackend } from '@latentkit/backend-node';
import { StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import { createScheduler } from '@latentkit/schedulers';
import { describe, expect, it } from 'vitest';
import {
  accuracy,
  evaluateAdherence,
  formatAccuracyTable,
  formatFailures,
  makeShapePrompts,
  parseShapesWorld,
  recommendedSampling,
  summarizeAdherence,
  takeShapePrompts,
} from '../packages/model-shapes/src/evaluation/index.js';

// What this subset measured with the shipped model (second model: UNet step 13,201; DDIM, 50 steps,
// guidance 5; the full evaluation measured 94.8% seen / 69.8% held-out all-attribute), and the
// guards — one or two images below it, so a borderline image that rounds differently on another
// CPU does not fail CI, but a real drop does. Colour and background are what a broken pipeline
// (latents scaling, VAE, CFG order) loses first, so they are guarded over all 24 images too.
const MEASURED = { seen: '12/12', heldout: '9/12', color: '23/24', background: '24/24' };
const MIN_SEEN = 10 / 12;
const MIN_HELDOUT = 7 / 12;
const MIN_COLOR = 0.9;
const MIN_BACKGROUND = 0.95;

const missing = ['model_index.json', 'heldout.json', 'unet/model.onnx'].filter(
  (f) => !existsSync(join(shapesModelPath, f)),
);

describe('shapes model prompt adherence (CI subset)', () => {
  it('finds the shipped model', () => {
    expect(
      missing,
      `the shipped model is incomplete at ${shapesModelPath}: train and export it (tools/shapes-model/README.md)`,
    ).toEqual([]);
  });

  it(`draws what 24 prompts ask for (all attributes: seen ≥ ${Math.round(MIN_SEEN * 100)}% (measured ${MEASURED.seen}), held-out ≥ ${Math.round(MIN_HELDOUT * 100)}% (measured ${MEASURED.heldout}))`, async () => {
    if (missing.length > 0)
      throw new Error(`shapes model missing at ${shapesModelPath}: ${missing.join(', ')}`);
    const world = parseShapesWorld(JSON.parse(readFileSync(join(shapesModelPath, 'heldout.json'), 'utf8')));
    const prompts = takeShapePrompts(makeShapePrompts(world), { seen: 12, heldout: 12 });
    const settings = recommendedSampling(world);
    const pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
    try {
      if (settings.scheduler !== undefined) {
        pipe.scheduler = createScheduler(settings.scheduler, pipe.scheduler.config);
      }
      const result = await evaluateAdherence(pipe, {
        world,
        prompts,
        seeds: [0],
        numInferenceSteps: settings.numInferenceSteps,
        guidanceScale: settings.guidanceScale,
      });
      const report = `${formatAccuracyTable(result)}\n${formatFailures(result.cases)}`;
      expect(result.cases).toHaveLength(24);
      expect(accuracy(result.splits.seen.all), report).toBeGreaterThanOrEqual(MIN_SEEN);
      expect(accuracy(result.splits.heldout.all), report).toBeGreaterThanOrEqual(MIN_HELDOUT);
      const both = summarizeAdherence(result.cases).attributes;
      expect(accuracy(both.color ?? { correct: 0, total: 0 }), report).toBeGreaterThanOrEqual(MIN_COLOR);
      expect(accuracy(both.background ?? { correct: 0, total: 0 }), report).toBeGreaterThanOrEqual(
        MIN_BACKGROUND,
      );
    } finally {
      await pipe.dispose();
    }
  });
});
