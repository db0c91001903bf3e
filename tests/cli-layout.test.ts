/**
 * `latentkit generate --box …` (layout-to-image, issue 16) end to end: the real CLI as a child process
 * (through tsx, and through scripts/generate.mjs as `npm run generate` runs it) on the shipped shapes layout
 * model (packages/model-shapes/layout) and the grounded fixture tests/fixtures/models/sd-gligen-tiny, real
 * PNG files, compared with StableDiffusionGLIGENPipeline run in
 * this process. Bad flags: tests/cli-layout.bad-input.test.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBackend, parseGenerationParameters, readPng } from '@latentkit/backend-node';
import {
  type RgbaImage,
  StableDiffusionGLIGENPipeline,
  StableDiffusionPipeline,
  TorchGenerator,
} from '@latentkit/core';
import { shapesLayoutDefaults, shapesLayoutModelPath } from '@latentkit/model-shapes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEntry, runGenerate, runNode, tsxLoader } from './support/run-node.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const wrapper = join(root, 'scripts/generate.mjs');
const gligenTiny = join(root, 'tests/fixtures/models/sd-gligen-tiny');

const run = (argv: string[]) => runNode(argv);
const cli = runGenerate;

/** The README command of issue 16, on the fixture, 3 steps. */
const README_BOXES = [
  '--box',
  'a red circle@0.05,0.05,0.45,0.45',
  '--box',
  'a blue square@0.55,0.55,0.95,0.95',
];
const layout = [
  { phrase: 'a red circle', box: [0.05, 0.05, 0.45, 0.45] as [number, number, number, number] },
  { phrase: 'a blue square', box: [0.55, 0.55, 0.95, 0.95] as [number, number, number, number] },
];
const fixtureRun = ['--model', gligenTiny, '--steps', '3', '--seed', '5'];

function samePixels(a: RgbaImage, b: RgbaImage): void {
  expect([a.width, a.height]).toEqual([b.width, b.height]);
  expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(true);
}

let out: string;
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'latentkit-cli-layout-'));
});
afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

describe('latentkit generate --box (the shipped layout model and the grounded fixture)', () => {
  it('the README command with --model sd-gligen-tiny (npm run generate) writes the image StableDiffusionGLIGENPipeline makes, with the layout in its parameters', async () => {
    const file = join(out, 'layout.png');
    const r = await run([wrapper, 'on a white background', ...README_BOXES, ...fixtureRun, '--out', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${file}  (seed 5)\n`);
    expect(r.stderr).toMatch(/2 box\(es\), GLIGEN beta 0\.3/);
    const png = await readPng(file);
    const parsed = parseGenerationParameters(png.text['parameters']!);
    expect(parsed.prompt).toBe('on a white background');
    expect(parsed.settings).toMatchObject({
      Steps: '3',
      Seed: '5',
      Size: '64x64',
      Model: 'sd-gligen-tiny',
      Layout: 'a red circle@0.05,0.05,0.45,0.45; a blue square@0.55,0.55,0.95,0.95',
      'GLIGEN beta': '0.3',
    });

    const pipe = await StableDiffusionGLIGENPipeline.fromPretrained(gligenTiny, { backend: nodeBackend });
    try {
      const { images } = await pipe.generate({
        prompt: 'on a white background',
        numInferenceSteps: 3,
        guidanceScale: 7.5,
        generator: new TorchGenerator(5),
        layout,
        gligenScheduledSamplingBeta: 0.3,
      });
      samePixels(png, images[0]!);
    } finally {
      await pipe.dispose();
    }
  });

  it('the README command without --model: the shipped shapes layout model at its card settings (32×32, Model shapes-layout)', async () => {
    const file = join(out, 'readme-layout.png');
    const r = await run([
      wrapper,
      'on a white background',
      ...README_BOXES,
      '--seed',
      '11',
      '--out',
      file,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as {
      steps: number;
      guidance: number;
      model: string;
      layout: { beta: number };
    };
    expect(summary.steps).toBe(shapesLayoutDefaults.numInferenceSteps);
    expect(summary.guidance).toBe(shapesLayoutDefaults.guidanceScale);
    expect(summary.layout.beta).toBe(shapesLayoutDefaults.gligenScheduledSamplingBeta);
    expect(summary.model).toBe(shapesLayoutModelPath);
    const png = await readPng(file);
    expect(parseGenerationParameters(png.text['parameters']!).settings).toMatchObject({
      Size: '32x32',
      Model: 'shapes-layout',
    });
    const pipe = await StableDiffusionGLIGENPipeline.fromPretrained(shapesLayoutModelPath, {
      backend: nodeBackend,
    });
    try {
      const { images } = await pipe.generate({
        prompt: 'on a white background',
        numInferenceSteps: shapesLayoutDefaults.numInferenceSteps,
        guidanceScale: shapesLayoutDefaults.guidanceScale,
        gligenScheduledSamplingBeta: shapesLayoutDefaults.gligenScheduledSamplingBeta,
        generator: new TorchGenerator(11),
        layout,
      });
      samePixels(png, images[0]!);
    } finally {
      await pipe.dispose();
    }
  });

  it('--gligen-beta 1 grounds every step (another image); --gligen-beta 0 none: the plain text-to-image run', async () => {
    const grounded = join(out, 'beta1.png');
    const never = join(out, 'beta0.png');
    const plain = join(out, 'plain.png');
    const args = ['on a white background', ...fixtureRun];
    const runs = [
      await cli([...args, ...README_BOXES, '--gligen-beta', '1', '--out', grounded, '--json']),
      await cli([...args, ...README_BOXES, '--gligen-beta', '0', '--out', never]),
      await cli([...args, '--out', plain]),
    ];
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(runs[0]!.stdout) as { layout: { boxes: string[]; beta: number } };
    expect(summary.layout).toEqual({
      boxes: ['a red circle@0.05,0.05,0.45,0.45', 'a blue square@0.55,0.55,0.95,0.95'],
      beta: 1,
    });
    const [a, b, c] = await Promise.all([readPng(grounded), readPng(never), readPng(plain)]);
    samePixels(b, c);
    expect(Buffer.from(a.data).equals(Buffer.from(c.data))).toBe(false);
    expect(parseGenerationParameters(c.text['parameters']!).settings['Layout']).toBeUndefined();
    // and the plain run is what StableDiffusionPipeline makes of the grounded folder
    const pipe = await StableDiffusionPipeline.fromPretrained(gligenTiny, { backend: nodeBackend });
    try {
      const { images } = await pipe.generate({
        prompt: 'on a white background',
        numInferenceSteps: 3,
        guidanceScale: 7.5,
        generator: new TorchGenerator(5),
      });
      samePixels(c, images[0]!);
    } finally {
      await pipe.dispose();
    }
  });

  it('latentkit info shows a grounded folder: the GLIGEN pipeline, attention_type "gated" and the gligen_* inputs', async () => {
    const r = await run(['--import', tsxLoader, cliEntry, 'info', gligenTiny]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^pipeline: StableDiffusionGLIGENPipeline$/m);
    expect(r.stdout).toMatch(/cross_attention_dim=32, attention_type="gated"/);
    expect(r.stdout).toMatch(/in {2}gligen_boxes {16}float32 {2}\[batch, 30, 4\]/);
    expect(r.stdout).toMatch(/in {2}gligen_enabled {14}float32 {2}\[\]/);
  });

  it('--box on a model that is not grounded (the sd1 fixture): exit 2, one line naming the folder and the fix', async () => {
    const r = await cli([
      'on a white background',
      ...README_BOXES,
      '--model',
      join(root, 'tests/fixtures/models/sd1'),
      '--steps',
      '1',
      '--out',
      join(out, 'never.png'),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(
      /^latentkit: --box needs a layout-to-image \(GLIGEN\) model, but .*sd1 is not one: its UNet has no gligen_\* inputs\. Fix: leave out --model/,
    );
  });
});
