/**
 * The `latentkit` CLI end to end, as a child process: the TypeScript entry run through tsx (what
 * `npm run generate` does in a checkout, no build needed). Fixture models: tests/fixtures/models/.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseGenerationParameters, readPng } from '@latentkit/backend-node';
import { judgeShapeImage, parseShapesWorld, shapesModelPath } from '@latentkit/model-shapes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const entry = join(root, 'packages/backend-node/src/cli/main.ts');
const sd1 = join(root, 'tests/fixtures/models/sd1');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], cwd = root): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', tsx, entry, ...args],
      { cwd, env: { ...process.env, TSX_TSCONFIG_PATH: join(root, 'tsconfig.json'), LATENTKIT_DEBUG: '' } },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

/** One line `latentkit: …`, no stack trace. */
function expectOneLineError(run: Run, code: number, pattern: RegExp): void {
  expect(run.code, run.stderr).toBe(code);
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^latentkit: /);
  expect(lines[0]).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

let out: string;
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'latentkit-cli-'));
});
afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

describe('latentkit CLI: bad input', () => {
  it('rejects a non-numeric --steps with exit 2 and one line', async () => {
    expectOneLineError(
      await cli(['generate', 'a cat', '--steps', 'abc']),
      2,
      /--steps.*'abc' is invalid.*integer ≥ 1/,
    );
  });

  it('rejects an unknown option', async () => {
    expectOneLineError(await cli(['generate', 'a cat', '--stepz', '3']), 2, /unknown option '--stepz'/);
  });

  it('rejects an unknown provider, naming it', async () => {
    expectOneLineError(
      await cli(['generate', 'a cat', '--provider', 'cuda,gpu']),
      2,
      /--provider = "gpu" is invalid: expected one of cuda, dml, coreml, webgpu, cpu/,
    );
  });

  it('rejects --mask without --image', async () => {
    expectOneLineError(await cli(['generate', 'a cat', '--mask', 'm.png']), 2, /--mask needs --image/);
  });

  it('rejects an unknown scheduler before loading the model', async () => {
    expectOneLineError(
      await cli(['generate', 'a cat', '--model', sd1, '--scheduler', 'DPM++ 9M']),
      2,
      /Unknown scheduler "DPM\+\+ 9M"\. Did you mean "DPM\+\+ 2M"\? Known names: DPM\+\+ 2M, /,
    );
  });

  it('rejects a missing model folder, naming it', async () => {
    const missing = join(out, 'no-such-model');
    expectOneLineError(
      await cli(['generate', 'a cat', '--model', missing]),
      2,
      new RegExp(`Model folder ${missing} does not exist`),
    );
  });

  it('prints usage and exits 2 without a command', async () => {
    const run = await cli([]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/Usage: latentkit/);
  });
});

// The published bin (packages/backend-node/dist/cli/main.js); CI builds before it tests.
const built = join(root, 'packages/backend-node/dist/cli/main.js');
describe.runIf(existsSync(built))('the built latentkit bin', () => {
  it('runs with its shebang and reports usage errors the same way', async () => {
    const run = await new Promise<Run>((resolve) => {
      execFile(built, ['generate', 'x', '--n', '0'], (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
      );
    });
    expectOneLineError(run, 2, /--n <count>.*'0' is invalid.*integer ≥ 1/);
  });
});

describe('latentkit schedulers', () => {
  it('lists the scheduler names, A1111 names included', async () => {
    const run = await cli(['schedulers']);
    expect(run.code, run.stderr).toBe(0);
    const names = run.stdout.trim().split('\n');
    expect(names).toContain('DPM++ 2M Karras');
    expect(names).toContain('Euler a');
    expect(names).toContain('DDIMScheduler');
    const json = await cli(['schedulers', '--json']);
    expect(JSON.parse(json.stdout)).toEqual(names);
  });
});

describe('latentkit on the sd1 fixture model', () => {
  it('info prints components, input/output names, dtypes and shapes', async () => {
    const run = await cli(['info', sd1, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const info = JSON.parse(run.stdout) as {
      pipeline: string;
      components: { name: string; inputs?: { name: string; type: string; shape: unknown[] }[] }[];
    };
    expect(info.pipeline).toBe('OnnxStableDiffusionPipeline');
    const unet = info.components.find((c) => c.name === 'unet')!;
    expect(unet.inputs?.map((i) => i.name)).toEqual(['sample', 'timestep', 'encoder_hidden_states']);
    expect(unet.inputs?.[0]?.type).toBe('float32');
    expect(unet.inputs?.[0]?.shape).toHaveLength(4);
    expect(info.components.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        'text_encoder',
        'tokenizer',
        'unet',
        'vae_decoder',
        'vae_encoder',
        'scheduler',
      ]),
    );
    const text = await cli(['info', sd1]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^ {2}in {2}sample +float32 +\[/m);
  });

  it('generate writes PNGs with the A1111 parameters chunk and a JSON summary', async () => {
    const target = join(out, 'img.png');
    const run = await cli([
      'generate',
      'a red circle, on blue',
      '--model',
      sd1,
      '--negative',
      'blurry',
      '--steps',
      '3',
      '--guidance',
      '7',
      '--seed',
      '42',
      '--width',
      '32',
      '--height',
      '32',
      '--n',
      '2',
      '--out',
      target,
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as {
      files: string[];
      seeds: string[];
      timings: { totalMs: number };
    };
    expect(summary.files).toEqual([join(out, 'img-1.png'), join(out, 'img-2.png')]);
    expect(summary.seeds).toEqual(['42', '43']);
    expect(summary.timings.totalMs).toBeGreaterThan(0);
    const first = await readPng(summary.files[0]!);
    expect([first.width, first.height]).toEqual([32, 32]);
    const parsed = parseGenerationParameters(first.text['parameters']!);
    expect(parsed.prompt).toBe('a red circle, on blue');
    expect(parsed.negativePrompt).toBe('blurry');
    expect(parsed.settings).toMatchObject({
      Steps: '3',
      'CFG scale': '7.0',
      Seed: '42',
      Size: '32x32',
      Model: 'sd1',
    });
    const second = await readPng(summary.files[1]!);
    expect(parseGenerationParameters(second.text['parameters']!).settings['Seed']).toBe('43');
    // No progress bar when stderr is not a TTY, and nothing left half-written.
    expect(run.stderr).not.toMatch(/step \d+\/\d+/);
    expect((await readdir(out)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('image i of --n equals a single run with seed + i', async () => {
    const single = join(out, 'single.png');
    const run = await cli([
      'generate',
      'a red circle, on blue',
      '--model',
      sd1,
      '--negative',
      'blurry',
      '--steps',
      '3',
      '--guidance',
      '7',
      '--seed',
      '43',
      '--width',
      '32',
      '--height',
      '32',
      '--out',
      single,
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`${single}  (seed 43)`);
    expect((await readPng(single)).data).toEqual((await readPng(join(out, 'img-2.png'))).data);
  });

  it('img2img with --image and --strength, and a --scheduler by A1111 name', async () => {
    const target = join(out, 'img2img.png');
    const run = await cli([
      'generate',
      'a red circle',
      '--model',
      sd1,
      '--image',
      join(out, 'img-1.png'),
      '--strength',
      '0.5',
      '--steps',
      '4',
      '--scheduler',
      'Euler a',
      '--seed',
      '1',
      '--out',
      target,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const png = await readPng(target);
    expect([png.width, png.height]).toEqual([32, 32]);
    expect(parseGenerationParameters(png.text['parameters']!).settings).toMatchObject({
      Sampler: 'Euler a',
      'Denoising strength': '0.5',
    });
  });

  it('falls back from cuda to cpu with a one-line warning', async () => {
    const run = await cli([
      'generate',
      'x',
      '--model',
      sd1,
      '--steps',
      '1',
      '--width',
      '32',
      '--height',
      '32',
      '--provider',
      'cuda,cpu',
      '--seed',
      '1',
      '--out',
      join(out, 'fallback.png'),
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(
      /^latentkit: execution provider "cuda" cannot run text_encoder \(.+\); falling back to "cpu"\.$/m,
    );
    // Text-to-image loads no VAE encoder.
    expect((JSON.parse(run.stdout) as { providers: Record<string, string> }).providers).toEqual({
      text_encoder: 'cpu',
      unet: 'cpu',
      vae_decoder: 'cpu',
    });
  });
});

describe('latentkit with the shipped model', () => {
  it('generates what the prompt says with the default model and its recommended settings', async () => {
    const target = join(out, 'shapes.png');
    const run = await cli(['generate', 'a red circle on a blue background', '--seed', '7', '--out', target]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/32x32, 50 steps, DDIM, seed 7/);
    const png = await readPng(target);
    expect([png.width, png.height]).toEqual([32, 32]);
    // Judged like the adherence evaluator does: a red circle, on blue (the prompt leaves size and
    // position open, so the model may draw it large in the centre or small at a corner).
    const world = parseShapesWorld(JSON.parse(readFileSync(join(shapesModelPath, 'heldout.json'), 'utf8')));
    const judged = judgeShapeImage(png, world.colors);
    expect(
      { color: judged.color, shape: judged.shape, background: judged.background },
      JSON.stringify(judged.measurements),
    ).toEqual({ color: 'red', shape: 'circle', background: 'blue' });
    const settings = parseGenerationParameters(png.text['parameters']!).settings;
    expect(settings['Model']).toBe('shapes');
    expect(settings['CFG scale']).toBe('5.0');
  });
});
