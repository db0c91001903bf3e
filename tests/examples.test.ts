/**
 * Runs every example in examples/ against the shipped model, as a user runs it (`npx tsx examples/X.ts`:
 * a child process through tsx, from the repository root, so `@latentkit/*` resolve to the sources through
 * the root tsconfig), and checks what each wrote: the files, their size, and relations between the images
 * that hold only if the example did what it says (custom conditioning changes the image, the remote
 * denoiser reproduces it exactly, img2img keeps more of the source at low strength, inpainting keeps the
 * unmasked part).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type DecodedPng, nodeBackend, readPng } from '@latentkit/backend-node';
import { StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import { createScheduler } from '@latentkit/schedulers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
/** The shipped model makes 32×32 images (latents 8×8, a VAE that downscales 4×; see its MODEL_CARD.md). */
const SIZE = 32;
const TIMEOUT = 180_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runExample(name: string, outDir: string): Promise<Run> {
  // Neither the model nor the output folder may come from the caller's environment.
  const env: NodeJS.ProcessEnv = { ...process.env, TSX_TSCONFIG_PATH: join(root, 'tsconfig.json') };
  delete env['LATENTKIT_MODEL'];
  delete env['LATENTKIT_EXAMPLES_OUT'];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', tsx, join(root, 'examples', `${name}.ts`), outDir],
      { cwd: root, env, timeout: TIMEOUT },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

/** Mean absolute difference of the RGB bytes of two images inside a rectangle (default: all of it). */
function meanDiff(a: DecodedPng, b: DecodedPng, x0 = 0, y0 = 0, x1 = a.width, y1 = a.height): number {
  expect([b.width, b.height]).toEqual([a.width, a.height]);
  let sum = 0;
  let n = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      for (let c = 0; c < 3; c++) {
        const i = (y * a.width + x) * 4 + c;
        sum += Math.abs(a.data[i]! - b.data[i]!);
        n++;
      }
    }
  }
  return sum / n;
}

function maxDiff(a: DecodedPng, b: DecodedPng): number {
  let max = 0;
  for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs(a.data[i]! - b.data[i]!));
  return max;
}

let out: string;
const read = (file: string): Promise<DecodedPng> => readPng(join(out, file));

/** Runs an example and checks that it succeeded and wrote exactly `files`, each `size`×`size` (default SIZE). */
async function expectExample(name: string, files: string[], size = SIZE): Promise<Run> {
  const before = new Set(await readdir(out));
  const run = await runExample(name, out);
  expect(run.code, `${name} failed:\n${run.stderr}`).toBe(0);
  expect(run.stdout).toMatch(new RegExp(`^${name}: `, 'm'));
  const written = (await readdir(out)).filter((f) => !before.has(f)).sort();
  expect(written).toEqual([...files].sort());
  for (const file of files) {
    const png = await read(file);
    expect([png.width, png.height], file).toEqual([size, size]);
  }
  return run;
}

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'latentkit-examples-'));
});
afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

// Not skipped when the model is missing: the examples are documented to run on it, so its absence fails here.
describe('examples/ against the shipped model', () => {
  it('has the shipped model to run on', () => {
    expect(
      existsSync(join(shapesModelPath, 'model_index.json')),
      `the shipped model is missing: ${shapesModelPath} has no model_index.json (built by tools/shapes-model)`,
    ).toBe(true);
  });

  it(
    'basic.ts writes basic.png with its generation parameters',
    async () => {
      await expectExample('basic', ['basic.png']);
      const png = await read('basic.png');
      expect(png.text['parameters']).toMatch(/^a red circle on a blue background\n/);
      expect(png.text['parameters']).toMatch(/Steps: 20, .*CFG scale: 5.0, Seed: 42, Size: 32x32/);
      // Not a flat image: the model drew something.
      const red = Array.from({ length: SIZE * SIZE }, (_, p) => png.data[p * 4]!);
      expect(Math.max(...red) - Math.min(...red)).toBeGreaterThan(50);
    },
    TIMEOUT,
  );

  it(
    'swap-scheduler.ts writes one image per scheduler, and the schedulers differ',
    async () => {
      const names = ['default', 'dpm-solver', 'euler-a', 'dpm-2m-karras'];
      const run = await expectExample(
        'swap-scheduler',
        names.map((n) => `scheduler-${n}.png`),
      );
      expect(run.stdout).toMatch(/DPMSolverMultistepScheduler \(dpm-solver\)/);
      expect(run.stdout).toMatch(/EulerAncestralDiscreteScheduler \(euler-a\)/);
      // Euler a is stochastic and takes other steps than the default: the images cannot be equal.
      const a = await read('scheduler-default.png');
      const b = await read('scheduler-euler-a.png');
      expect(maxDiff(a, b)).toBeGreaterThan(0);
    },
    TIMEOUT,
  );

  it(
    "custom-conditioning.ts: blending changes the image, and 0 % blend is basic's image",
    async () => {
      await expectExample('custom-conditioning', [
        'blend-0.png',
        'blend-50.png',
        'blend-100.png',
        'style.png',
      ]);
      const basic = await read('basic.png');
      const blend0 = await read('blend-0.png');
      const blend50 = await read('blend-50.png');
      const blend100 = await read('blend-100.png');
      // 1 × A + 0 × B is A exactly in float32; the encoder batch differs (it also encodes B), which may move
      // the text encoder's output by an ulp, so allow a rounding step.
      expect(maxDiff(basic, blend0)).toBeLessThanOrEqual(2);
      // "a yellow triangle on a purple background" instead of "a red circle on a blue background"; here
      // (onnxruntime-node 1.30, CPU) the mean differences are about 62, 32 and 63.
      expect(meanDiff(basic, blend100)).toBeGreaterThan(20);
      expect(meanDiff(basic, blend50)).toBeGreaterThan(10);
      expect(meanDiff(basic, await read('style.png'))).toBeGreaterThan(10);
    },
    TIMEOUT,
  );

  it(
    "custom-denoiser.ts: the UNet and VAE over HTTP reproduce basic's image exactly",
    async () => {
      const run = await expectExample('custom-denoiser', ['custom-denoiser.png']);
      expect(run.stdout).toMatch(/\d+ denoiser calls, [\d.]+ ms each/);
      // Float32 values travel losslessly and the same sessions compute them: not one byte may differ.
      expect(maxDiff(await read('basic.png'), await read('custom-denoiser.png'))).toBe(0);
    },
    TIMEOUT,
  );

  it(
    'img2img.ts keeps more of the source at low strength than at high strength',
    async () => {
      await expectExample('img2img', [
        'img2img-source.png',
        'img2img-30.png',
        'img2img-60.png',
        'img2img-90.png',
      ]);
      const source = await read('img2img-source.png');
      // The source is basic's prompt, seed and settings: the same image as basic.
      expect(maxDiff(source, await read('basic.png'))).toBe(0);
      const d30 = meanDiff(source, await read('img2img-30.png'));
      const d90 = meanDiff(source, await read('img2img-90.png'));
      expect(d30).toBeGreaterThan(0);
      expect(d30).toBeLessThan(d90);
    },
    TIMEOUT,
  );

  it(
    'hires-fix.ts writes 64×64 images from the 32×32 pass, with the A1111 hires parameters',
    async () => {
      await expectExample('hires-fix', ['hires-fix-latent.png', 'hires-fix-pixel.png'], 2 * SIZE);
      const latent = await read('hires-fix-latent.png');
      const pixel = await read('hires-fix-pixel.png');
      for (const [png, name] of [
        [latent, 'Latent'],
        [pixel, 'Lanczos'],
      ] as const) {
        expect(png.text['parameters']).toMatch(
          new RegExp(
            `Seed: 42, Size: 32x32, Denoising strength: 0\\.5, Hires upscale: 2, Hires steps: 10, Hires upscaler: ${name}$`,
          ),
        );
        const red = Array.from({ length: 4 * SIZE * SIZE }, (_, p) => png.data[p * 4]!);
        expect(Math.max(...red) - Math.min(...red)).toBeGreaterThan(50);
      }
      // The two upscalers start the hires pass from different images.
      expect(meanDiff(latent, pixel)).toBeGreaterThan(0);
    },
    TIMEOUT,
  );

  it(
    'inpaint.ts repaints the masked quarter and keeps the rest',
    async () => {
      await expectExample('inpaint', ['inpaint-source.png', 'inpaint-mask.png', 'inpaint.png']);
      const source = await read('inpaint-source.png');
      const result = await read('inpaint.png');
      const mask = await read('inpaint-mask.png');
      expect(mask.data[0]).toBe(0); // top left: keep
      expect(mask.data[(SIZE * SIZE - 1) * 4]).toBe(255); // bottom right: repaint
      const half = SIZE / 2;
      // Kept: the top quarter of the image, away from the mask's edge (the VAE decoder sees across it),
      // comes back as the VAE's reconstruction of the source.
      const kept = meanDiff(source, result, 0, 0, SIZE, half / 2);
      // Repainted: the blue circle at the bottom right becomes a red one.
      const repainted = meanDiff(source, result, half, half, SIZE, SIZE);
      // Here about 2.5 (the VAE's reconstruction error) and 45.
      expect(kept).toBeLessThan(6);
      expect(repainted).toBeGreaterThan(kept + 20);
    },
    TIMEOUT,
  );

  it(
    'lora.ts: the shipped pink LoRA and embedding draw pink; <lora:pink:1> = loading at 1; unloading gives the model back exactly',
    async () => {
      const names = ['lora-off', 'lora-on', 'lora-tag', 'lora-unloaded', 'lora-embedding'];
      const run = await expectExample(
        'lora',
        names.map((n) => `${n}.png`),
      );
      expect(run.stdout).toMatch(
        /loaded pink \(kohya format\), changing 12 weights of the text_encoder and 72 weights of the unet/,
      );
      expect(run.stdout).toMatch(/loaded the embedding <pink> \(diffusers format\)/);
      const [off, on, tag, unloaded, embedding] = await Promise.all(names.map((n) => read(`${n}.png`)));
      // the share of pixels near the adapters' pink (adapters.json rgb [250, 120, 190])
      const pink = (png: DecodedPng) => {
        let n = 0;
        for (let p = 0; p < png.width * png.height; p++) {
          const [r, g, b] = [png.data[p * 4]!, png.data[p * 4 + 1]!, png.data[p * 4 + 2]!];
          if (Math.hypot(r - 250, g - 120, b - 190) < 80) n++;
        }
        return n / (png.width * png.height);
      };
      // measured: off 0, on 0.223, embedding 0.194 (a circle covers about a fifth of the image)
      expect(pink(off!)).toBeLessThan(0.01);
      expect(pink(on!)).toBeGreaterThan(0.08);
      expect(pink(embedding!)).toBeGreaterThan(0.08);
      expect(maxDiff(tag!, on!)).toBe(0);
      expect(maxDiff(unloaded!, off!)).toBe(0);
      expect(tag!.text['parameters']).toMatch(/^a pink circle on a white background <lora:pink:1>\n/);
    },
    TIMEOUT,
  );

  it(
    'sdxl-refiner.ts: the base stops at 0.8 of the schedule, the refiner finishes it; A1111 refiner parameters',
    async () => {
      // the tiny SDXL fixtures (tests/fixtures/models/sdxl-tiny, sdxl-refiner-tiny) make 64×64 images
      const run = await expectExample('sdxl-refiner', ['sdxl-base.png', 'sdxl-refined.png'], 64);
      // 10 steps split at 0.8: the base runs 8, the refiner the other 2, on latents 1×4×8×8
      expect(run.stdout).toMatch(/latents 1×4×8×8 handed over; base 8 steps, refiner 2 steps/);
      const refined = await read('sdxl-refined.png');
      expect(refined.text['parameters']).toMatch(
        /^A majestic lion jumping from a big stone at night\n.*Steps: 10, .*CFG scale: 5\.0, Seed: 42, Size: 64x64, Model: base, Aesthetic score: 6, Negative aesthetic score: 2\.5, Refiner: refiner, Refiner switch at: 0\.8$/,
      );
      // The refiner denoised the last part: not the base's own image.
      expect(maxDiff(await read('sdxl-base.png'), refined)).toBeGreaterThan(0);
    },
    TIMEOUT,
  );

  it(
    'layout.ts puts the blue square where its box is, in both layouts',
    async () => {
      await expectExample('layout', ['layout.png', 'layout-swapped.png']);
      const png = await read('layout.png');
      expect(png.text['parameters']).toMatch(/^on a white background\n/);
      // Blueness (B − R) inside the example's two boxes: top left (6–44 %) and bottom right (56–94 %).
      const blueness = (image: DecodedPng, x0: number, y0: number): number => {
        let sum = 0;
        for (let y = y0; y < y0 + 12; y++)
          for (let x = x0; x < x0 + 12; x++) {
            const i = (y * image.width + x) * 4;
            sum += image.data[i + 2]! - image.data[i]!;
          }
        return sum / 144;
      };
      const swapped = await read('layout-swapped.png');
      // The square is in the bottom-right box, then (swapped) in the top-left one. Here about
      // 125 vs 1 and 121 vs −15; a model that ignored the boxes would put it in the same place twice.
      expect(blueness(png, 18, 18)).toBeGreaterThan(blueness(png, 2, 2) + 60);
      expect(blueness(swapped, 2, 2)).toBeGreaterThan(blueness(swapped, 18, 18) + 60);
    },
    TIMEOUT,
  );

  it(
    'responsive.ts: the worker-thread pipeline gives the main-thread image, a timer runs during it, abort stops after 2 steps',
    async () => {
      const run = await expectExample('responsive', ['responsive.png'], 128);
      // The timer ran during the generation (with the sessions on the main thread it would run only
      // between steps, and not at all during the 20 UNet calls' own time).
      const ticks = Number(/timer ran (\d+) times/.exec(run.stdout)?.[1]);
      expect(ticks).toBeGreaterThan(0);
      expect(run.stdout).toMatch(/cancelled after 2 of 20 steps \(cancelled by the user\)/);
      // The same settings with the sessions on the calling thread: the same pixels.
      const pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
      try {
        const { images } = await pipe.generate({
          prompt: 'a red circle on a blue background',
          numInferenceSteps: 20,
          guidanceScale: 5,
          seed: 42,
          width: 128,
          height: 128,
        });
        const png = await read('responsive.png');
        expect(Buffer.from(png.data).equals(Buffer.from(images[0]!.data))).toBe(true);
      } finally {
        await pipe.dispose();
      }
    },
    TIMEOUT,
  );

  it(
    'static-shapes.ts: static-shape image within 1/255 of the dynamic one; another size is a ShapeMismatchError',
    async () => {
      const run = await expectExample('static-shapes', ['static-shapes.png']);
      expect(run.stdout).toMatch(/another size is refused: unet input sample = \[2, 4, 16, 16\] is invalid/);
      const pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
      try {
        const settings = { prompt: 'a red circle on a blue background', guidanceScale: 5, seed: 42 };
        const { images } = await pipe.generate({ ...settings, width: SIZE, height: SIZE });
        expect(
          maxDiff(await read('static-shapes.png'), {
            width: SIZE,
            height: SIZE,
            data: images[0]!.data,
          } as DecodedPng),
        ).toBeLessThanOrEqual(1);
      } finally {
        await pipe.dispose();
      }
    },
    TIMEOUT,
  );

  it(
    "serve.ts: the image the openai client got from the server equals the library's (DPM++ 2M Karras, seed 42)",
    async () => {
      const run = await expectExample('serve', ['serve.png']);
      expect(run.stdout).toMatch(/POST http:\/\/127\.0\.0\.1:\d+\/v1\/images\/generations/);
      const pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
      try {
        pipe.scheduler = createScheduler('DPM++ 2M Karras', pipe.scheduler.config);
        const settings = {
          prompt: 'a red circle on a blue background',
          numInferenceSteps: 20,
          guidanceScale: 5,
        };
        const { images } = await pipe.generate({ ...settings, seed: 42 });
        expect(
          maxDiff(await read('serve.png'), {
            width: SIZE,
            height: SIZE,
            data: images[0]!.data,
          } as DecodedPng),
        ).toBe(0);
      } finally {
        await pipe.dispose();
      }
    },
    TIMEOUT,
  );
});

// The guides promise that their TypeScript is known to run: every ```ts block must be copied verbatim
// from an example above.
describe('docs/ code blocks', () => {
  const guides = [
    'getting-started.md',
    'model-folders.md',
    'prompts.md',
    'img2img-and-inpainting.md',
    'custom-conditioning.md',
    'custom-parts.md',
    'performance.md',
    'errors.md',
    'schedulers.md',
    'upscaling.md',
    'sdxl.md',
    'serving.md',
  ];

  it('every TypeScript block in the guides is copied from an example file', async () => {
    const dir = join(root, 'examples');
    const names = (await readdir(dir)).filter((f) => f.endsWith('.ts'));
    const sources = await Promise.all(names.map((f) => readFile(join(dir, f), 'utf8')));
    let blocks = 0;
    for (const guide of guides) {
      const text = await readFile(join(root, 'docs', guide), 'utf8');
      for (const match of text.matchAll(/```ts\n([\s\S]*?)```/g)) {
        blocks++;
        const code = match[1]!;
        expect(
          sources.some((source) => source.includes(code)),
          `${guide}: this block is not in any examples/*.ts file:\n${code}`,
        ).toBe(true);
      }
    }
    expect(blocks).toBeGreaterThan(10);
  });
});
