/**
 * Bad SDXL input to `latentkit generate`, one row each: exit code 2 and one line `latentkit: …` naming the
 * flag, its value, what was expected and the fix; no file written. Flag values are refused before any
 * model is loaded; SDXL flags on models that cannot take them once the model's parts say what it is (its
 * sessions released). runCli in this process: the same code the bin runs.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCliInProcess } from './support/cli.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const models = join(root, 'tests/fixtures/models');
const base = join(models, 'sdxl-tiny');
const refiner = join(models, 'sdxl-refiner-tiny');
const sd1 = join(models, 'sd1');

const cli = runCliInProcess;

// Made when the module loads: the table rows below name the output file.
const dir = mkdtempSync(join(tmpdir(), 'latentkit-cli-sdxl-bad-'));
const target = join(dir, 'never.png');
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const gen = (model: string, ...args: string[]) => [
  'generate',
  'a photo of a cat',
  '--model',
  model,
  '--steps',
  '2',
  '--seed',
  '1',
  '--out',
  target,
  ...args,
];
const commanderError = (flag: string, value: string, expected: string) =>
  new RegExp(
    `option '${flag}[^']*' argument '${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' is invalid\\. ${expected}`,
  );

describe('latentkit generate, SDXL flags: bad values', () => {
  it.each<[string, string[], RegExp]>([
    [
      '--original-size without "x"',
      gen(base, '--original-size', '1024'),
      commanderError('--original-size', '1024', 'expected WIDTHxHEIGHT, two integers in \\[1, 16384\\]'),
    ],
    [
      '--original-size with a zero side',
      gen(base, '--original-size', '0x1024'),
      commanderError('--original-size', '0x1024', 'expected WIDTHxHEIGHT'),
    ],
    [
      '--target-size with a negative side',
      gen(base, '--target-size', '1024x-8'),
      commanderError('--target-size', '1024x-8', 'expected WIDTHxHEIGHT'),
    ],
    [
      '--target-size in a fraction',
      gen(base, '--target-size', '1024.5x1024'),
      commanderError('--target-size', '1024.5x1024', 'expected WIDTHxHEIGHT'),
    ],
    [
      '--crop-top-left with one number',
      gen(base, '--crop-top-left', '64'),
      commanderError('--crop-top-left', '64', 'expected X,Y, two integers in \\[0, 16384\\] pixels'),
    ],
    [
      '--crop-top-left negative',
      gen(base, '--crop-top-left', '-1,0'),
      commanderError('--crop-top-left', '-1,0', 'expected X,Y'),
    ],
    [
      '--aesthetic-score not a number',
      gen(base, '--aesthetic-score', 'high'),
      commanderError('--aesthetic-score', 'high', 'expected a number'),
    ],
    [
      '--high-noise-frac 1.5',
      gen(base, '--refiner', refiner, '--high-noise-frac', '1.5'),
      commanderError('--high-noise-frac', '1.5', 'expected a number in \\[0, 1\\]'),
    ],
    [
      '--high-noise-frac 1 (the refiner would do nothing)',
      gen(base, '--refiner', refiner, '--high-noise-frac', '1'),
      /^latentkit: --high-noise-frac = 1 is invalid: expected a number strictly between 0 and 1.*Fix: use e\.g\. --high-noise-frac 0\.8/,
    ],
    [
      '--high-noise-frac 0 (the base would do nothing)',
      gen(base, '--refiner', refiner, '--high-noise-frac', '0'),
      /^latentkit: --high-noise-frac = 0 is invalid: expected a number strictly between 0 and 1/,
    ],
    [
      '--high-noise-frac without --refiner',
      gen(base, '--high-noise-frac', '0.8'),
      /^latentkit: --high-noise-frac needs --refiner DIR/,
    ],
    [
      '--refiner: no such folder',
      gen(base, '--refiner', join(dir, 'no-refiner')),
      /^latentkit: Refiner model folder .*no-refiner does not exist\. Fix: pass --refiner the folder of an SDXL refiner's ONNX export/,
    ],
    [
      '--refiner with --image',
      gen(base, '--refiner', refiner, '--image', 'x.png'),
      /^latentkit: --refiner cannot take --image: the base \+ refiner hand-off is text-to-image.*Drop --image, or drop --refiner\./,
    ],
    [
      '--refiner with --hires-scale',
      gen(base, '--refiner', refiner, '--hires-scale', '2'),
      /^latentkit: --refiner cannot take --hires-scale/,
    ],
    [
      '--refiner with --box',
      gen(base, '--refiner', refiner, '--box', 'a cat@0,0,0.5,0.5'),
      /^latentkit: --refiner cannot take --box/,
    ],
  ])('%s', async (_, args, message) => {
    const r = await cli(args);
    expect(r.code, r.stderr).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^latentkit: /);
    expect(lines[0]).toMatch(message);
    expect(r.stdout).toBe('');
    expect(existsSync(target)).toBe(false);
  });
});

describe('latentkit generate, SDXL flags on models that cannot take them', () => {
  it.each<[string, string[], RegExp]>([
    [
      '--prompt-2 on an SD 1.x model',
      gen(sd1, '--prompt-2', 'a dog'),
      /^latentkit: --prompt-2 needs an SDXL model, but .*sd1 is not one .*Fix: drop --prompt-2, or pass --model an SDXL export \(docs\/sdxl\.md\)\./,
    ],
    [
      'several SDXL flags on an SD 1.x model: all named',
      gen(sd1, '--negative-2', 'blurry', '--original-size', '512x512', '--crop-top-left', '0,0'),
      /^latentkit: --negative-2, --original-size, --crop-top-left need an SDXL model, but .*sd1 is not one/,
    ],
    [
      '--refiner after an SD 1.x model',
      gen(sd1, '--refiner', refiner),
      /^latentkit: --refiner needs an SDXL model, but .*sd1 is not one/,
    ],
    [
      '--refiner that is not SDXL',
      gen(base, '--refiner', sd1),
      /^latentkit: --refiner sd1 is not an SDXL model .*Fix: pass --refiner an SDXL refiner export/,
    ],
    [
      '--aesthetic-score on a base model without --refiner',
      gen(base, '--aesthetic-score', '7'),
      /^latentkit: --aesthetic-score applies to an SDXL refiner \(model_index\.json "requires_aesthetics_score": true\), but .*sdxl-tiny has no aesthetic score in its time ids\. Fix: drop --aesthetic-score, or add --refiner DIR/,
    ],
    [
      '--negative-aesthetic-score with a base as the "refiner"',
      gen(base, '--refiner', base, '--negative-aesthetic-score', '2'),
      /^latentkit: --negative-aesthetic-score applies to an SDXL refiner .*but the refiner sdxl-tiny has no aesthetic score/,
    ],
    [
      '--target-size on a refiner model',
      gen(refiner, '--target-size', '64x64'),
      /^latentkit: --target-size applies to an SDXL base model, but .*sdxl-refiner-tiny is a refiner/,
    ],
    [
      '--hires-scale on an SDXL model',
      gen(base, '--hires-scale', '2'),
      /^latentkit: --hires-scale is not supported with SDXL models yet .*Fix: generate at the model's own size/,
    ],
  ])(
    '%s',
    async (_, args, message) => {
      const r = await cli(args);
      expect(r.code, r.stderr).toBe(2);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(message);
      expect(r.stdout).toBe('');
      expect(existsSync(target)).toBe(false);
    },
    60_000,
  );
});
