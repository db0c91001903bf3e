/**
 * The `latentkit` CLI end to end, as a child process run the way `npx latentkit` runs it: through the
 * bin's launcher, packages/backend-node/bin/latentkit.mjs, which in a checkout runs the TypeScript
 * sources through tsx (no build needed) and in the published package imports dist/cli/main.js (tested
 * below on a dist/ that tsup builds from the real entry). Fixture models: tests/fixtures/models/.
 */
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { copyFile, cp, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBackend, parseGenerationParameters, readPng } from '@latentkit/backend-node';
import {
  hiresFix,
  resizeLanczos,
  StableDiffusionPipeline,
  StableDiffusionUpscalePipeline,
} from '@latentkit/core';
import {
  judgeShapeImage,
  parseShapesWorld,
  shapesModelPath,
  shapesUpscalerDefaults,
  shapesUpscalerPath,
} from '@latentkit/model-shapes';
import { build } from 'tsup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sd1, tinySd1Run } from './support/cli.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const packageDir = join(root, 'packages/backend-node');
/** The `latentkit` bin: what npm links as node_modules/.bin/latentkit and `npx latentkit` runs. */
const launcher = join(packageDir, 'bin/latentkit.mjs');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs an executable file (by its shebang) and collects its exit code and output. */
function exec(file: string, args: string[], cwd = root): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env: { ...process.env, LATENTKIT_DEBUG: '' } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** `latentkit <args>` in the checkout, as `npx latentkit <args>` runs it. */
function cli(args: string[], cwd = root): Promise<Run> {
  return exec(launcher, args, cwd);
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

  it('--cpu-memory low (UNet row by row, no arena) writes the same pixels as the default', async () => {
    const args = (file: string) => [
      'generate',
      'a red circle, on blue',
      '--model',
      sd1,
      '--steps',
      '3',
      '--seed',
      '44',
      '--width',
      '32',
      '--height',
      '32',
      '--out',
      file,
    ];
    const plain = join(out, 'memory-default.png');
    const low = join(out, 'memory-low.png');
    const runs = [await cli(args(plain)), await cli([...args(low), '--cpu-memory', 'low'])];
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    expect((await readPng(low)).data).toEqual((await readPng(plain)).data);
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
      ...tinySd1Run,
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

describe('latentkit hires fix and x4 upscale (issue 15)', () => {
  it('--hires-scale 2 writes the 64×64 image hiresFix makes, with the A1111 hires keys', async () => {
    const target = join(out, 'hires.png');
    const args = ['--seed', '5', '--steps', '8', '--hires-scale', '2', '--hires-steps', '4'];
    const run = await cli([
      'generate',
      'a green square on a yellow background',
      ...args,
      '--hires-strength',
      '0.5',
      '--hires-upscaler',
      'pixel',
      // 64×64 is within one default tile (512 px): tiling on, the image as untiled.
      '--vae-tiling',
      '--out',
      target,
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { width: number; height: number; hires: unknown };
    expect(summary).toMatchObject({
      width: 64,
      height: 64,
      vaeTiling: { tileSampleSize: 512, tileOverlapFactor: 0.25 },
    });
    expect(summary.hires).toEqual({
      scale: 2,
      strength: 0.5,
      steps: 4,
      upscaler: 'pixel',
      firstPassSize: '32x32',
    });
    const png = await readPng(target);
    expect([png.width, png.height]).toEqual([64, 64]);
    expect(parseGenerationParameters(png.text['parameters']!).settings).toMatchObject({
      Steps: '8',
      Seed: '5',
      Size: '32x32',
      'Denoising strength': '0.5',
      'Hires upscale': '2',
      'Hires steps': '4',
      'Hires upscaler': 'Lanczos',
    });
    // The same image as the library call.
    const pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
    try {
      const { images } = await hiresFix(pipe, {
        prompt: 'a green square on a yellow background',
        negativePrompt: '',
        seed: 5,
        numInferenceSteps: 8,
        guidanceScale: 5,
        hiresScale: 2,
        hiresSteps: 4,
        hiresStrength: 0.5,
        hiresUpscaler: 'pixel',
      });
      expect(Buffer.from(png.data).equals(Buffer.from(images[0]!.data))).toBe(true);
    } finally {
      await pipe.dispose();
    }
  });

  it('--upscale 4 without --upscaler-model uses the shipped shapes upscaler and its card settings', async () => {
    const target = join(out, 'big.png');
    const prompt = 'a blue circle on a yellow background';
    const run = await cli([
      'generate',
      prompt,
      '--seed',
      '4',
      '--steps',
      '20',
      '--out',
      target,
      '--upscale',
      '4',
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { width: number; upscale: unknown };
    expect(summary.width).toBe(128);
    expect(summary.upscale).toEqual({
      factor: 4,
      model: shapesUpscalerPath,
      steps: shapesUpscalerDefaults.numInferenceSteps,
      guidance: shapesUpscalerDefaults.guidanceScale,
      noiseLevel: shapesUpscalerDefaults.noiseLevel,
    });
    const png = await readPng(target);
    expect([png.width, png.height]).toEqual([128, 128]);
    expect(parseGenerationParameters(png.text['parameters']!).settings).toMatchObject({
      Size: '32x32',
      Model: 'shapes',
      'Postprocess upscale by': '4',
      'Postprocess upscaler': 'shapes-x4',
    });
    // Still what the prompt asks for, judged as the adherence evaluator judges the model's own images.
    const world = parseShapesWorld(JSON.parse(readFileSync(join(shapesModelPath, 'heldout.json'), 'utf8')));
    const judged = judgeShapeImage(resizeLanczos(png, 32, 32), world.colors);
    expect(
      { color: judged.color, shape: judged.shape, background: judged.background },
      JSON.stringify(judged.measurements),
    ).toEqual({ color: 'blue', shape: 'circle', background: 'yellow' });
  });

  it('--upscale 4 --upscaler-model runs the x4 upscaler on each image (fixture upscaler, 32 → 128 px)', async () => {
    const target = join(out, 'up.png');
    const upscaler = join(root, 'tests/fixtures/models/sd-x4-upscaler');
    const run = await cli([
      'generate',
      'a red circle on a blue background',
      '--seed',
      '3',
      '--steps',
      '6',
      '--upscale',
      '4',
      '--upscaler-model',
      upscaler,
      '--upscale-steps',
      '3',
      '--noise-level',
      '30',
      '--out',
      target,
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { width: number; upscale: unknown };
    expect(summary.width).toBe(128);
    expect(summary.upscale).toEqual({ factor: 4, model: upscaler, steps: 3, guidance: 9, noiseLevel: 30 });
    const png = await readPng(target);
    expect([png.width, png.height]).toEqual([128, 128]);
    expect(parseGenerationParameters(png.text['parameters']!).settings).toMatchObject({
      Size: '32x32',
      'Postprocess upscale by': '4',
      'Postprocess upscaler': 'sd-x4-upscaler',
      'Upscale steps': '3',
      'Upscale noise level': '30',
    });
    // The same image as the two library calls.
    const pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
    const up = await StableDiffusionUpscalePipeline.fromPretrained(upscaler, { backend: nodeBackend });
    try {
      const prompt = 'a red circle on a blue background';
      const small = await pipe.generate({
        prompt,
        negativePrompt: '',
        seed: 3,
        numInferenceSteps: 6,
        guidanceScale: 5,
      });
      const big = await up.generate({
        prompt,
        negativePrompt: '',
        image: small.images[0]!,
        seed: 3,
        numInferenceSteps: 3,
        guidanceScale: 9,
        noiseLevel: 30,
      });
      expect(Buffer.from(png.data).equals(Buffer.from(big.images[0]!.data))).toBe(true);
    } finally {
      await up.dispose();
      await pipe.dispose();
    }
  });
});

describe('the latentkit bin in a checkout (npx latentkit after npm ci, no build)', () => {
  it('is the committed launcher: package.json and the lock file link it, and it is published', () => {
    const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
      files: string[];
    };
    expect(manifest.bin).toEqual({ latentkit: './bin/latentkit.mjs' });
    expect(manifest.files).toEqual(expect.arrayContaining(['bin', 'dist']));
    // `npm ci` links bins from the lock file's copy of the manifest, not from package.json.
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { bin?: Record<string, string> }>;
    };
    expect(lock.packages['packages/backend-node']?.bin).toEqual({ latentkit: 'bin/latentkit.mjs' });
    expect(readFileSync(launcher, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    expect(statSync(launcher).mode & 0o111, 'the launcher must be executable').not.toBe(0);
  });

  it('runs from another folder, writing a relative --out there (npx runs in the current folder)', async () => {
    const run = await cli(
      ['generate', 'a red circle', ...tinySd1Run, '--seed', '5', '--out', 'relative.png'],
      out,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('relative.png  (seed 5)');
    const png = await readPng(join(out, 'relative.png'));
    expect([png.width, png.height]).toEqual([32, 32]);
  });
});

describe('the published latentkit bin: the launcher with a dist/ that tsup builds from the real entry', () => {
  let published: string;
  let bare: string;
  let artifacts: string;

  beforeAll(async () => {
    // Inside packages/backend-node (git-ignored test-artifacts/) so that the built CLI resolves the
    // package's own dependencies (its commander is not the root's) the way an install resolves them.
    await mkdir(join(packageDir, 'test-artifacts'), { recursive: true });
    artifacts = await mkdtemp(join(packageDir, 'test-artifacts', 'cli-bin-'));
    published = join(artifacts, 'published');
    bare = join(artifacts, 'bare');
    for (const dir of [published, bare]) {
      await mkdir(join(dir, 'bin'), { recursive: true });
      await copyFile(launcher, join(dir, 'bin/latentkit.mjs'));
      await copyFile(join(packageDir, 'package.json'), join(dir, 'package.json'));
    }
    // the onnxruntime session worker ships beside dist/ (package.json "files"); the CLI runs its sessions there
    await cp(join(packageDir, 'worker'), join(published, 'worker'), { recursive: true });
    // The package's tsup build of the CLI entry, with the workspace packages (unbuilt in a fresh
    // checkout) bundled from their sources through the root tsconfig's paths; other packages external.
    await build({
      config: false,
      entry: { 'cli/main': join(packageDir, 'src/cli/main.ts') },
      format: ['esm'],
      target: 'es2022',
      platform: 'node',
      outDir: join(published, 'dist'),
      tsconfig: join(root, 'tsconfig.json'),
      dts: false,
      silent: true,
      esbuildOptions(options) {
        options.packages = 'external';
      },
    });
  }, 120_000);
  afterAll(async () => {
    await rm(artifacts, { recursive: true, force: true });
  });

  it('the built entry keeps its shebang, runs by itself and reports usage errors in one line', async () => {
    expectOneLineError(
      await exec(join(published, 'dist/cli/main.js'), ['generate', 'x', '--n', '0']),
      2,
      /--n <count>.*'0' is invalid.*integer ≥ 1/,
    );
  });

  it('the launcher imports dist/cli/main.js when the package has no sources', async () => {
    const bin = join(published, 'bin/latentkit.mjs');
    const schedulers = await exec(bin, ['schedulers', '--json'], out);
    expect(schedulers.code, schedulers.stderr).toBe(0);
    expect(JSON.parse(schedulers.stdout)).toEqual(expect.arrayContaining(['DPM++ 2M Karras', 'Euler a']));
    // The same image as the sources make, bit for bit.
    const args = [
      'generate',
      'a red circle',
      '--model',
      sd1,
      '--steps',
      '2',
      '--width',
      '32',
      '--height',
      '32',
    ];
    const fromDist = await exec(bin, [...args, '--seed', '9', '--out', join(out, 'from-dist.png')], out);
    expect(fromDist.code, fromDist.stderr).toBe(0);
    const fromSources = await cli([...args, '--seed', '9', '--out', join(out, 'from-sources.png')], out);
    expect(fromSources.code, fromSources.stderr).toBe(0);
    const dist = await readPng(join(out, 'from-dist.png'));
    expect([dist.width, dist.height]).toEqual([32, 32]);
    expect(dist.data).toEqual((await readPng(join(out, 'from-sources.png'))).data);
  });

  it('without dist/ and without sources it says how to build, in one line, and exits 1', async () => {
    expectOneLineError(
      await exec(join(bare, 'bin/latentkit.mjs'), ['schedulers'], out),
      1,
      /the CLI is not built \(no .*dist\/cli\/main\.js\).*Fix: run `npm ci && npm run build`.*`npm run latentkit -- <command>`/,
    );
  });
});
