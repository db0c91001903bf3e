/**
 * Prompt-adherence evaluation of the shipped shapes model (issue 6 item 4).
 *
 *   npm run eval:shapes [-- --quick] [--seeds 0,1] [--steps N] [--guidance G] [--scheduler NAME]
 *                          [--sweep-seeds 0] [--batch 48] [--model DIR] [--json FILE]
 *                          [--save-failures DIR]
 *
 * 1. default settings (the model's recommended steps / guidance / scheduler from its heldout.json,
 *    else its scheduler_config.json): every prompt of `makeShapePrompts` (48 held-out + 96 seen)
 *    × seeds 0 and 1;
 * 2. a guidance-scale sweep (1, 3, 5, 7.5) and a scheduler sweep (DDIM, Euler a, DPM++ 2M Karras,
 *    UniPC) at the default steps, over every prompt × the sweep seeds (default: seed 0 only);
 * then the total wall time. `--quick`: 12 held-out + 12 seen prompts, one seed, everywhere.
 *
 * Everything goes through latentkit's public API: StableDiffusionPipeline.fromPretrained with the
 * onnxruntime-node backend, createScheduler to swap schedulers, the evaluator of
 * @latentkit/model-shapes to judge the images.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { nodeBackend, writePng } from '@latentkit/backend-node';
import { StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import { createScheduler } from '@latentkit/schedulers';
import {
  type AdherenceResult,
  evaluateAdherence,
  formatAccuracyTable,
  formatFailures,
  formatPhrasingTable,
  formatSweepTable,
  makeShapePrompts,
  parseShapesWorld,
  recommendedSampling,
  type ShapePrompt,
  type SweepRow,
  takeShapePrompts,
} from '../packages/model-shapes/src/evaluation/index.js';

const GUIDANCE_SWEEP = [1, 3, 5, 7.5];
const SCHEDULER_SWEEP = ['DDIM', 'Euler a', 'DPM++ 2M Karras', 'UniPC'];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    seeds: { type: 'string' },
    'sweep-seeds': { type: 'string' },
    steps: { type: 'string' },
    guidance: { type: 'string' },
    scheduler: { type: 'string' },
    batch: { type: 'string', default: '48' },
    model: { type: 'string', default: shapesModelPath },
    json: { type: 'string' },
    'save-failures': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(`${readFileSync(new URL(import.meta.url), 'utf8').split('*/')[0]}*/\n`);
  process.exit(0);
}

function fail(message: string): never {
  process.stderr.write(`eval:shapes: ${message}\n`);
  process.exit(1);
}

function numberList(text: string, name: string): number[] {
  const list = text.split(',').map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !Number.isFinite(n)))
    fail(`--${name} ${text}: expected numbers like 0,1`);
  return list;
}

const started = performance.now();
const modelDir = values.model;
for (const file of ['model_index.json', 'heldout.json']) {
  if (!existsSync(join(modelDir, file))) {
    fail(
      `${join(modelDir, file)} is missing: train and export the model first (tools/shapes-model/README.md).`,
    );
  }
}
const world = parseShapesWorld(JSON.parse(readFileSync(join(modelDir, 'heldout.json'), 'utf8')));
const pipe = await StableDiffusionPipeline.fromPretrained(modelDir, { backend: nodeBackend });
const modelScheduler = pipe.scheduler;
const modelConfig = { ...modelScheduler.config };

const recommendedDefaults = recommendedSampling(world);
const steps = values.steps ? Number(values.steps) : recommendedDefaults.numInferenceSteps;
const guidance = values.guidance ? Number(values.guidance) : recommendedDefaults.guidanceScale;
const schedulerName = values.scheduler ?? recommendedDefaults.scheduler ?? String(modelConfig._class_name);
if (!Number.isInteger(steps) || steps < 1) fail(`steps ${steps}: expected a positive integer`);
if (!Number.isFinite(guidance)) fail(`guidance ${guidance}: expected a number`);
const batchSize = Number(values.batch);

const allPrompts = makeShapePrompts(world);
const prompts = values.quick ? takeShapePrompts(allPrompts, { seen: 12, heldout: 12 }) : allPrompts;
const seeds = values.seeds ? numberList(values.seeds, 'seeds') : values.quick ? [0] : [0, 1];
const sweepSeeds = values['sweep-seeds'] ? numberList(values['sweep-seeds'], 'sweep-seeds') : [0];

function useScheduler(name: string): void {
  pipe.scheduler = name === modelConfig._class_name ? modelScheduler : createScheduler(name, modelConfig);
}

function describePrompts(list: readonly ShapePrompt[], seedList: readonly number[]): string {
  const held = list.filter((p) => p.split === 'heldout').length;
  const triples = new Set(
    list
      .filter((p) => p.split === 'heldout')
      .map((p) => `${p.expected.color} ${p.expected.shape} ${p.expected.background}`),
  );
  return (
    `${list.length} prompts (${list.length - held} seen, ${held} held-out covering ${triples.size}/${world.heldout.length} held-out triples)` +
    ` × seeds [${seedList.join(', ')}] = ${list.length * seedList.length} images`
  );
}

async function run(
  label: string,
  seedList: readonly number[],
  g: number,
  saveFailures?: string,
): Promise<AdherenceResult> {
  let last = 0;
  let index = 0;
  const result = await evaluateAdherence(pipe, {
    world,
    prompts,
    seeds: seedList,
    numInferenceSteps: steps,
    guidanceScale: g,
    batchSize,
    onImage: async (image, c) => {
      index += 1;
      if (saveFailures && !c.allCorrect) {
        const name = `${String(index).padStart(3, '0')}-seed${c.seed}-${c.prompt.prompt.replace(/[^a-z]+/g, '-')}.png`;
        await writePng(join(saveFailures, name), image);
      }
    },
    onProgress: (done, total) => {
      if (process.stderr.isTTY && (done === total || performance.now() - last > 500)) {
        last = performance.now();
        process.stderr.write(`\r  ${label}: ${done}/${total} images`);
        if (done === total) process.stderr.write('\n');
      }
    },
  });
  return result;
}

const out = process.stdout;
out.write(`shapes model: ${modelDir}\n`);
out.write(
  `world: ${world.resolution}×${world.resolution}, ${Object.keys(world.colors).length} colours, ${world.heldout.length} held-out triples\n`,
);
out.write(`images per setting: ${describePrompts(prompts, seeds)}${values.quick ? ' (--quick)' : ''}\n\n`);

// 1. Default settings.
useScheduler(schedulerName);
if (values['save-failures']) mkdirSync(values['save-failures'], { recursive: true });
const defaults = await run('default', seeds, guidance, values['save-failures']);
out.write(`== Default settings: ${schedulerName}, ${steps} steps, guidance ${guidance} ==\n`);
out.write(`${formatAccuracyTable(defaults)}\n\n`);
out.write(`All-attribute accuracy by phrasing:\n${formatPhrasingTable(defaults)}\n\n`);
const failures = defaults.cases.filter((c) => !c.allCorrect).length;
out.write(
  `Wrong images (${failures} of ${defaults.cases.length}):\n${formatFailures(defaults.cases, 25) || '  none'}\n`,
);
out.write(
  `(${defaults.seconds.toFixed(1)} s, ${((1000 * defaults.seconds) / defaults.cases.length).toFixed(0)} ms per image incl. judging)\n\n`,
);

// 2. Guidance sweep at the default scheduler and steps.
const sweepNote = `${describePrompts(prompts, sweepSeeds)} per setting`;
const guidanceRows: SweepRow[] = [];
for (const g of GUIDANCE_SWEEP) {
  guidanceRows.push({ label: `guidance ${g}`, result: await run(`guidance ${g}`, sweepSeeds, g) });
}
out.write(`== Guidance-scale sweep: ${schedulerName}, ${steps} steps; ${sweepNote} ==\n`);
out.write(`${formatSweepTable(guidanceRows, 'guidance')}\n\n`);

// 3. Scheduler sweep at the default steps and guidance.
const schedulerRows: SweepRow[] = [];
for (const name of SCHEDULER_SWEEP) {
  useScheduler(name);
  schedulerRows.push({ label: name, result: await run(name, sweepSeeds, guidance) });
}
useScheduler(schedulerName);
out.write(`== Scheduler sweep: ${steps} steps, guidance ${guidance}; ${sweepNote} ==\n`);
out.write(`${formatSweepTable(schedulerRows, 'scheduler')}\n\n`);

await pipe.dispose();
const seconds = (performance.now() - started) / 1000;
out.write(`Total wall time: ${seconds.toFixed(1)} s (including model load)\n`);

if (values.json) {
  const summary = (r: AdherenceResult) => ({ splits: r.splits, seconds: r.seconds, images: r.cases.length });
  writeFileSync(
    values.json,
    `${JSON.stringify(
      {
        model: modelDir,
        defaults: { scheduler: schedulerName, steps, guidance, seeds, ...summary(defaults) },
        guidanceSweep: guidanceRows.map((r) => ({ label: r.label, ...summary(r.result) })),
        schedulerSweep: schedulerRows.map((r) => ({ label: r.label, ...summary(r.result) })),
        sweepSeeds,
        totalSeconds: seconds,
      },
      null,
      2,
    )}\n`,
  );
}
