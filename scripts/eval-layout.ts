/**
 * Layout-to-image evaluation of the shipped grounded shapes model (issue 16 item 5).
 *
 *   npm run eval:layout [-- --model DIR] [--layouts FILE] [--steps N] [--guidance G] [--beta B]
 *                          [--limit N] [--seed S] [--size PX] [--json FILE] [--save-failures DIR]
 *
 * Generates every held-out layout (packages/model-shapes/layout/heldout-layouts.json: 2- and 3-object
 * layouts on pixel-aligned boxes, each with a (colour, shape, background) triple never seen in training)
 * once through StableDiffusionGLIGENPipeline, layout i with seed S + i, and judges each box with the
 * layout judge of @latentkit/model-shapes (judgeLayout: colour and shape right inside the box, nothing
 * but background outside all boxes). Prints per number of objects: objects right, colour right, shape
 * right, images clean outside the boxes, layouts all right, and the issue's targets (≥ 85 % of objects
 * right with 2 objects, ≥ 70 % with 3).
 *
 *   --model DIR        a GLIGEN export (default: the shipped layout model)
 *   --layouts FILE     evaluation layouts (default: the model's heldout-layouts.json, else the shipped one)
 *   --steps / --guidance / --beta
 *                      sampling settings (default: the model's layout.json `recommended`, else
 *                      the shipped layout model's shapesLayoutDefaults)
 *   --limit N          only the first N layouts of each object count
 *   --seed S           layout i is generated with seed S + i (default 0)
 *   --size PX          image side (default: the model's own)
 *   --json FILE        also write the settings, the summary and every layout's verdicts as JSON
 *   --save-failures DIR  write each image with a wrong object or a dirty background as PNG
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { nodeBackend, writePng } from '@latentkit/backend-node';
import { StableDiffusionGLIGENPipeline } from '@latentkit/core';
import { shapesLayoutDefaults, shapesLayoutModelPath, shapesModelPath } from '@latentkit/model-shapes';
import {
  type EvalLayoutSet,
  evaluateLayouts,
  formatLayoutFailures,
  formatLayoutTable,
  formatTally,
  layoutEvaluationSummary,
  objectsByTriple,
  parseEvalLayouts,
  parseShapesWorld,
  selectLayouts,
  targetsMet,
} from '../packages/model-shapes/src/evaluation/index.js';

function fail(message: string): never {
  process.stderr.write(`eval:layout: ${message}\n`);
  process.exit(1);
}

let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      model: { type: 'string' },
      layouts: { type: 'string' },
      steps: { type: 'string' },
      guidance: { type: 'string' },
      beta: { type: 'string' },
      limit: { type: 'string' },
      seed: { type: 'string', default: '0' },
      size: { type: 'string' },
      json: { type: 'string' },
      'save-failures': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}
try {
  parsed = parse();
} catch (e) {
  fail(`${(e as Error).message} (see --help)`);
}
const { values } = parsed;
if (values.help) {
  process.stdout.write(`${readFileSync(new URL(import.meta.url), 'utf8').split('*/')[0]}*/\n`);
  process.exit(0);
}

/** A flag's number, checked: `integer` and `min`/`max` as the option needs. */
function numberFlag(
  name: string,
  text: string,
  check: { integer?: boolean; min: number; max?: number },
): number {
  const value = Number(text);
  const ok =
    text.trim() !== '' &&
    Number.isFinite(value) &&
    (!check.integer || Number.isInteger(value)) &&
    value >= check.min &&
    (check.max === undefined || value <= check.max);
  if (!ok) {
    const range = check.max === undefined ? `≥ ${check.min}` : `in [${check.min}, ${check.max}]`;
    fail(`--${name} ${JSON.stringify(text)}: expected ${check.integer ? 'an integer' : 'a number'} ${range}`);
  }
  return value;
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    fail(`cannot read ${path}: ${(e as Error).message}`);
  }
}

const started = performance.now();
const modelDir = values.model ?? shapesLayoutModelPath;
if (!existsSync(join(modelDir, 'model_index.json'))) {
  fail(
    `${join(modelDir, 'model_index.json')} is missing: ${values.model ? 'pass a GLIGEN export' : 'train and export the layout model first (tools/shapes-layout/)'}.`,
  );
}
const layoutsFile =
  values.layouts ??
  [join(modelDir, 'heldout-layouts.json'), join(shapesLayoutModelPath, 'heldout-layouts.json')].find(
    existsSync,
  );
if (!layoutsFile || !existsSync(layoutsFile)) {
  fail(
    `no evaluation layouts: ${layoutsFile ?? join(shapesLayoutModelPath, 'heldout-layouts.json')} is missing (--layouts FILE)`,
  );
}
let set: EvalLayoutSet;
try {
  set = parseEvalLayouts(readJson(layoutsFile));
} catch (e) {
  fail((e as Error).message);
}
// The judge's colour table: the layouts file's, else the shapes world's (the shipped model's heldout.json).
const colors = set.colors ?? parseShapesWorld(readJson(join(shapesModelPath, 'heldout.json'))).colors;

// Sampling settings: flags, else the model's layout.json `recommended`, else the shipped model's defaults.
const layoutInfo = existsSync(join(modelDir, 'layout.json'))
  ? (readJson(join(modelDir, 'layout.json')) as { recommended?: Record<string, unknown> })
  : {};
const recommended = (key: keyof typeof shapesLayoutDefaults): number => {
  const value = layoutInfo.recommended?.[key];
  return typeof value === 'number' ? value : shapesLayoutDefaults[key];
};
const steps = values.steps
  ? numberFlag('steps', values.steps, { integer: true, min: 1, max: 1000 })
  : recommended('numInferenceSteps');
const guidance = values.guidance
  ? numberFlag('guidance', values.guidance, { min: 0, max: 100 })
  : recommended('guidanceScale');
const beta = values.beta
  ? numberFlag('beta', values.beta, { min: 0, max: 1 })
  : recommended('gligenScheduledSamplingBeta');
const seed = numberFlag('seed', values.seed, { integer: true, min: 0 });
const size = values.size ? numberFlag('size', values.size, { integer: true, min: 8, max: 4096 }) : undefined;
const limit = values.limit ? numberFlag('limit', values.limit, { integer: true, min: 1 }) : undefined;
const indices = selectLayouts(set.layouts, limit);
const layouts = indices.map((i) => set.layouts[i]!);

const pipe = await StableDiffusionGLIGENPipeline.fromPretrained(modelDir, { backend: nodeBackend });
const out = process.stdout;
out.write(`layout model: ${modelDir}\n`);
out.write(
  `layouts: ${layoutsFile} (${layouts.length} of ${set.layouts.length}${limit ? `, --limit ${limit} per object count` : ''})\n`,
);
out.write(
  `settings: ${steps} steps, guidance ${guidance}, beta ${beta}, seed ${seed} + the layout's index in the file\n\n`,
);
if (values['save-failures']) mkdirSync(values['save-failures'], { recursive: true });

let last = 0;
const result = await evaluateLayouts(pipe, {
  layouts,
  indices,
  colors,
  seed,
  numInferenceSteps: steps,
  guidanceScale: guidance,
  gligenScheduledSamplingBeta: beta,
  ...(size === undefined ? {} : { resolution: size }),
  onImage: async (image, c) => {
    if (values['save-failures'] && !c.judged.allRight) {
      const name = `${String(c.index).padStart(3, '0')}-seed${c.seed}-${c.layout.objects.length}obj.png`;
      await writePng(join(values['save-failures'], name), image);
    }
  },
  onProgress: (done, total) => {
    if (process.stderr.isTTY && (done === total || performance.now() - last > 500)) {
      last = performance.now();
      process.stderr.write(`\r  ${done}/${total} layouts`);
      if (done === total) process.stderr.write('\n');
    }
  },
});
await pipe.dispose();

const met = targetsMet(result.cases);
out.write(`${formatLayoutTable(result.cases)}\n\n`);
out.write(`targets (objects right: ≥ 85% with 2 objects, ≥ 70% with 3): ${met ? 'met' : 'NOT met'}\n\n`);
if (set.heldoutTriples) {
  const split = objectsByTriple(result.cases, set.heldoutTriples);
  out.write(
    `objects right by (colour, shape, background) triple: held out of training ${formatTally(split.heldout)}, seen ${formatTally(split.seen)}\n\n`,
  );
}
const failures = result.cases.filter((c) => !c.judged.allRight);
out.write(
  `Layouts not entirely right (${failures.length} of ${result.cases.length}):\n${formatLayoutFailures(result.cases, 25) || '  none'}\n\n`,
);
const seconds = (performance.now() - started) / 1000;
out.write(
  `${result.seconds.toFixed(1)} s for ${result.cases.length} images (${((1000 * result.seconds) / result.cases.length).toFixed(0)} ms each incl. judging); total ${seconds.toFixed(1)} s with model load\n`,
);

if (values.json) {
  const doc = {
    model: modelDir,
    layouts: layoutsFile,
    settings: {
      numInferenceSteps: steps,
      guidanceScale: guidance,
      gligenScheduledSamplingBeta: beta,
      seed,
      size: size ?? null,
      limit: limit ?? null,
    },
    ...layoutEvaluationSummary(result.cases),
    ...(set.heldoutTriples ? { objectsByTriple: objectsByTriple(result.cases, set.heldoutTriples) } : {}),
    seconds: result.seconds,
    totalSeconds: seconds,
  };
  writeFileSync(values.json, `${JSON.stringify(doc, null, 2)}\n`);
}
