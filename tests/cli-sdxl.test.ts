/**
 * `latentkit generate` on SDXL folders (issue 18) end to end: the real CLI as a child process on the tiny
 * SDXL fixtures (tests/fixtures/models/sdxl-tiny, sdxl-refiner-tiny, sdxl-turbo-tiny: random weights, the
 * SDXL layout), its PNGs compared byte for byte with StableDiffusionXLPipeline run in this process with the
 * same settings: the base alone, base + refiner (`--refiner DIR --high-noise-frac F` = the base with
 * denoisingEnd F and outputType 'latent', then the refiner with those latents and denoisingStart F, each
 * with a generator from the seed), SDXL-Turbo's settings (`--guidance 0 --steps 1`), and the SDXL flags
 * (prompt 2, micro-conditioning). The PNGs' A1111 parameters are read back with the infotext parser.
 * Bad input: tests/cli-sdxl.bad-input.test.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBackend, parseGenerationParameters, readPng } from '@latentkit/backend-node';
import {
  type RgbaImage,
  type SdxlGenerateOptions,
  StableDiffusionXLPipeline,
  TorchGenerator,
} from '@latentkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEntry, runGenerate, runNode, tsxLoader } from './support/run-node.js';
import { TestHub } from './support/test-hub.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const models = join(root, 'tests/fixtures/models');
const BASE = join(models, 'sdxl-tiny');
const REFINER = join(models, 'sdxl-refiner-tiny');
const TURBO = join(models, 'sdxl-turbo-tiny');

const PROMPT = 'a photo of a cat';
const NEGATIVE = 'a dog';
const SEED = 7;
const STEPS = 5;
const TIMEOUT = 120_000;

interface Summary {
  files: string[];
  pipeline: string;
  guidance: number;
  steps: number;
  scheduler: string;
  width: number;
  height: number;
  refiner?: { model: string; highNoiseFrac: number };
}

/** The largest difference between two images' bytes (they must have one size). */
function maxDiff(a: RgbaImage, b: RgbaImage): number {
  expect([a.width, a.height]).toEqual([b.width, b.height]);
  let max = 0;
  for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs(a.data[i]! - b.data[i]!));
  return max;
}

describe('latentkit generate on SDXL folders', () => {
  let dir: string;
  let base: StableDiffusionXLPipeline;
  let refiner: StableDiffusionXLPipeline;

  /** Runs the CLI with --json; checks it succeeded without warnings and returns its summary and PNG. */
  const cli = async (
    name: string,
    args: string[],
  ): Promise<{ summary: Summary; png: RgbaImage & { text: Record<string, string> } }> => {
    const out = join(dir, `${name}.png`);
    const run = await runGenerate([...args, '--seed', String(SEED), '--json', '-o', out]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    const summary = JSON.parse(run.stdout) as Summary;
    expect(summary.files).toEqual([out]);
    return { summary, png: await readPng(out) };
  };

  /** The base alone in this process, as the CLI runs it. */
  const baseImage = async (options: Omit<SdxlGenerateOptions, 'outputType'> = {}): Promise<RgbaImage> => {
    const { images } = await base.generate({
      prompt: PROMPT,
      negativePrompt: NEGATIVE,
      numInferenceSteps: STEPS,
      guidanceScale: 5,
      generator: new TorchGenerator(SEED),
      ...options,
    });
    return images[0]!;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latentkit-cli-sdxl-'));
    base = await StableDiffusionXLPipeline.fromPretrained(BASE, { backend: nodeBackend });
    refiner = await StableDiffusionXLPipeline.fromPretrained(REFINER, { backend: nodeBackend });
  }, TIMEOUT);
  afterAll(async () => {
    await base?.dispose();
    await refiner?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it(
    'an SDXL folder runs with StableDiffusionXLPipeline (guidance 5 by default): the pixels of the pipeline in this process',
    async () => {
      const { summary, png } = await cli('base', [
        PROMPT,
        '--model',
        BASE,
        '--negative',
        NEGATIVE,
        '--steps',
        String(STEPS),
      ]);
      expect(summary.pipeline).toBe('StableDiffusionXLPipeline');
      expect(summary.guidance).toBe(5);
      expect(maxDiff(png, await baseImage())).toBe(0);
      const parsed = parseGenerationParameters(png.text['parameters']!);
      expect(parsed.prompt).toBe(PROMPT);
      expect(parsed.negativePrompt).toBe(NEGATIVE);
      expect(parsed.settings).toMatchObject({
        Steps: String(STEPS),
        'CFG scale': '5.0',
        Seed: String(SEED),
        Size: `${png.width}x${png.height}`,
        Model: 'sdxl-tiny',
      });
      expect(parsed.settings['Refiner']).toBeUndefined();
    },
    TIMEOUT,
  );

  it(
    '--refiner DIR --high-noise-frac 0.8 = base (denoisingEnd 0.8, latents) then refiner (denoisingStart 0.8) by hand; A1111 refiner parameters',
    async () => {
      const { summary, png } = await cli('refined', [
        PROMPT,
        '--model',
        BASE,
        '--negative',
        NEGATIVE,
        '--steps',
        String(STEPS),
        '--refiner',
        REFINER,
        '--high-noise-frac',
        '0.8',
      ]);
      expect(summary.pipeline).toBe('StableDiffusionXLPipeline');
      expect(summary.refiner).toMatchObject({ model: REFINER, highNoiseFrac: 0.8 });

      let baseSteps = 0;
      let refinerSteps = 0;
      const handOff = await base.generate({
        prompt: PROMPT,
        negativePrompt: NEGATIVE,
        numInferenceSteps: STEPS,
        guidanceScale: 5,
        generator: new TorchGenerator(SEED),
        denoisingEnd: 0.8,
        outputType: 'latent',
        onStep: () => {
          baseSteps++;
        },
      });
      const refined = await refiner.generate({
        prompt: PROMPT,
        negativePrompt: NEGATIVE,
        numInferenceSteps: STEPS,
        guidanceScale: 5,
        generator: new TorchGenerator(SEED),
        image: handOff.images,
        denoisingStart: 0.8,
        onStep: () => {
          refinerSteps++;
        },
      });
      // The schedule is split, not run twice: 4 + 1 of the 5 steps.
      expect([baseSteps, refinerSteps]).toEqual([4, 1]);
      expect(maxDiff(png, refined.images[0]!)).toBe(0);
      // The refiner changed the image: not the base's own full run.
      expect(maxDiff(png, await baseImage())).toBeGreaterThan(0);

      const parsed = parseGenerationParameters(png.text['parameters']!);
      expect(parsed.settings).toMatchObject({
        Steps: String(STEPS),
        Model: 'sdxl-tiny',
        Refiner: 'sdxl-refiner-tiny',
        'Refiner switch at': '0.8',
      });
      expect(parsed.settings['Denoising end']).toBeUndefined();
      expect(png.text['parameters']).toMatch(/, Refiner: sdxl-refiner-tiny, Refiner switch at: 0\.8$/);
    },
    TIMEOUT,
  );

  it(
    "SDXL-Turbo's settings (--guidance 0 --steps 1): Euler a trailing, the pixels of the pipeline in this process",
    async () => {
      const { summary, png } = await cli('turbo', [
        PROMPT,
        '--model',
        TURBO,
        '--guidance',
        '0',
        '--steps',
        '1',
      ]);
      expect(summary.pipeline).toBe('StableDiffusionXLPipeline');
      expect(summary).toMatchObject({ guidance: 0, steps: 1, scheduler: 'Euler a' });
      const turbo = await StableDiffusionXLPipeline.fromPretrained(TURBO, { backend: nodeBackend });
      try {
        const { images } = await turbo.generate({
          prompt: PROMPT,
          negativePrompt: '',
          numInferenceSteps: 1,
          guidanceScale: 0,
          generator: new TorchGenerator(SEED),
        });
        expect(maxDiff(png, images[0]!)).toBe(0);
      } finally {
        await turbo.dispose();
      }
      expect(parseGenerationParameters(png.text['parameters']!).settings).toMatchObject({
        Steps: '1',
        Sampler: 'Euler a',
        'CFG scale': '0.0',
      });
    },
    TIMEOUT,
  );

  it(
    '--prompt-2, --negative-2, --original-size, --target-size, --crop-top-left reach the pipeline (x,y → [top, left]; WxH → [h, w])',
    async () => {
      const { png } = await cli('flags', [
        PROMPT,
        '--model',
        BASE,
        '--negative',
        NEGATIVE,
        '--steps',
        String(STEPS),
        '--prompt-2',
        'an oil painting',
        '--negative-2',
        'blurry, low quality',
        '--original-size',
        '512x768',
        '--target-size',
        '1024x640',
        '--crop-top-left',
        '16,48',
      ]);
      const expected = await baseImage({
        prompt2: 'an oil painting',
        negativePrompt2: 'blurry, low quality',
        originalSize: [768, 512],
        targetSize: [640, 1024],
        cropsCoordsTopLeft: [48, 16],
      });
      expect(maxDiff(png, expected)).toBe(0);
      expect(maxDiff(png, await baseImage())).toBeGreaterThan(0);
      // written into the PNG and read back by the infotext parser
      const { settings } = parseGenerationParameters(png.text['parameters']!);
      expect(settings).toMatchObject({
        'Prompt 2': 'an oil painting',
        'Negative prompt 2': 'blurry, low quality',
        'Original size': '512x768',
        'Target size': '1024x640',
        'Crop top left': '16,48',
      });
    },
    TIMEOUT,
  );

  it(
    '--aesthetic-score and --negative-aesthetic-score go to the refiner and are written',
    async () => {
      const args = [PROMPT, '--model', BASE, '--steps', String(STEPS), '--refiner', REFINER];
      const plain = await cli('aesthetic-default', args);
      const scored = await cli('aesthetic', [
        ...args,
        '--aesthetic-score',
        '9',
        '--negative-aesthetic-score',
        '1',
      ]);
      expect(maxDiff(plain.png, scored.png)).toBeGreaterThan(0);
      const settings = parseGenerationParameters(scored.png.text['parameters']!).settings;
      expect(settings).toMatchObject({
        'Aesthetic score': '9',
        'Negative aesthetic score': '1',
        Refiner: 'sdxl-refiner-tiny',
      });
    },
    TIMEOUT,
  );

  it(
    '--model org/name of an SDXL repo (local test hub): both text encoders downloaded, the pixels of the folder',
    async () => {
      const hub = await TestHub.start([{ id: 'latentkit/sdxl-tiny', branches: { main: { folder: BASE } } }]);
      try {
        const out = join(dir, 'hub.png');
        const run = await runNode(
          [
            '--import',
            tsxLoader,
            cliEntry,
            'generate',
            PROMPT,
            '--model',
            'latentkit/sdxl-tiny',
            '--negative',
            NEGATIVE,
            '--steps',
            String(STEPS),
            '--seed',
            String(SEED),
            '--json',
            '-o',
            out,
          ],
          { env: { HF_ENDPOINT: hub.url, HF_HUB_CACHE: join(dir, 'hf-cache'), HF_TOKEN: '' } },
        );
        expect(run.code, run.stderr).toBe(0);
        expect((JSON.parse(run.stdout) as Summary).pipeline).toBe('StableDiffusionXLPipeline');
        const downloaded = hub.requests.map((r) => r.url);
        expect(downloaded.some((u) => u.includes('text_encoder_2/model.onnx'))).toBe(true);
        expect(downloaded.some((u) => u.includes('tokenizer_2/'))).toBe(true);
        expect(maxDiff(await readPng(out), await baseImage())).toBe(0);
      } finally {
        await hub.close();
      }
    },
    TIMEOUT,
  );
});
