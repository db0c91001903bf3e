import { existsSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBackend } from '@latentkit/backend-node';
import { DiffusionPipeline, StableDiffusionUpscalePipeline } from '@latentkit/core';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import {
  type StaticServer,
  startStaticServer,
} from '../../../packages/backend-web/src/test-support/static-server.js';

/**
 * Drives the demo page (examples/web) in Debian's headless Chromium: builds it with Vite, serves it with
 * the COOP/COEP headers WebAssembly threads need, and fills in and reads back its form. Shared by the
 * browser tests and bench/browser.bench.ts.
 */

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const artifactsDir = join(repoRoot, 'test-artifacts');
export const fixtureModels = join(repoRoot, 'tests', 'fixtures', 'models');
export const shapesModelDir = join(repoRoot, 'packages', 'model-shapes', 'model');
export const shapesUpscalerDir = join(repoRoot, 'packages', 'model-shapes', 'upscaler');
export const shapesLayoutDir = join(repoRoot, 'packages', 'model-shapes', 'layout');

/** The Chromium binary: `LATENTKIT_CHROMIUM`, else Debian's. */
export const chromiumPath = process.env['LATENTKIT_CHROMIUM'] ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or undefined when they can. */
export function chromiumMissing(): string | undefined {
  if (existsSync(chromiumPath)) return undefined;
  return `Chromium not found at ${chromiumPath}. The browser tests need it: install it with \`apt-get install -y chromium\` (Debian), or point LATENTKIT_CHROMIUM at a Chromium binary. To skip these tests locally, set LATENTKIT_SKIP_BROWSER_TESTS=1.`;
}

/** Builds the demo page into `outDir` (a production build, as users would deploy it). */
export async function buildDemo(outDir: string): Promise<void> {
  const { build } = await import('vite');
  await build({
    configFile: join(repoRoot, 'examples', 'web', 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true },
  });
}

/**
 * Serves the built page at `/`, the shipped model at `/models/shapes/`, the shapes upscaler at
 * `/models/shapes-upscaler/`, the shapes layout model at `/models/shapes-layout/`, the fixtures at
 * `/models/<name>/`.
 */
export function serveDemo(dist: string): Promise<StaticServer> {
  return startStaticServer({
    '/': dist,
    '/models/shapes/': shapesModelDir,
    '/models/shapes-upscaler/': shapesUpscalerDir,
    '/models/shapes-layout/': shapesLayoutDir,
    '/models/': fixtureModels,
  });
}

/**
 * A fresh Chromium profile (empty Cache Storage), with WebGPU on (SwiftShader where there is no GPU), or
 * off with `{ webgpu: false }` (then pages fall back to WebAssembly, as on a browser without WebGPU).
 */
export async function launchChromium(
  options: { webgpu?: boolean } = {},
): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'latentkit-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...(options.webgpu === false ? [] : ['--enable-unsafe-webgpu']),
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** The settings the tests fill in. */
export interface DemoSettings {
  prompt: string;
  negativePrompt: string;
  steps: number;
  guidance: number;
  seed: number;
  /** A scheduler name; default: the model's. */
  scheduler?: string;
  /** Step previews (decoded every step). */
  previews: boolean;
}

/**
 * onnxruntime-node's image for the demo's settings (the model's default size and scheduler), with the
 * pipeline `DiffusionPipeline.fromPretrained` picks for the folder, as the demo does. `model` is a fixture
 * name or an absolute folder; `modelFiles` picks other graph files (e.g. a fused UNet variant).
 */
export async function nodeDemoImage(
  model: string,
  s: DemoSettings,
  modelFiles?: Record<string, string>,
): Promise<Uint8ClampedArray> {
  const dir = isAbsolute(model) ? model : join(fixtureModels, model);
  const pipe = await DiffusionPipeline.fromPretrained(dir, {
    backend: nodeBackend,
    ...(modelFiles ? { modelFiles } : {}),
  });
  try {
    // The demo's text-to-image settings; the x4 upscaler needs an image (its own tests).
    if (pipe instanceof StableDiffusionUpscalePipeline) throw new Error(`${dir} is an upscaler`);
    const { images } = await pipe.generate({
      prompt: s.prompt,
      negativePrompt: s.negativePrompt,
      numInferenceSteps: s.steps,
      guidanceScale: s.guidance,
      seed: s.seed,
    });
    return images[0]!.data;
  } finally {
    await pipe.dispose();
  }
}

/** What the page reports once loaded. */
export interface LoadedState {
  state: string;
  text: string;
  providers: Record<string, string>;
  threads: number;
}

/** Opens the page with a query (`model=…&provider=…&threads=…`) and waits for the model to load. */
export async function openDemo(context: BrowserContext, origin: string, query: string): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`[page] ${error.message}`));
  await page.goto(`${origin}/?${query}`);
  return page;
}

/** Waits until the model panel says `ready` or `error`. */
export async function waitLoaded(page: Page, timeout = 120_000): Promise<LoadedState> {
  await page.waitForFunction(
    () => ['ready', 'error'].includes(document.getElementById('model-status')?.dataset['state'] ?? ''),
    null,
    { timeout },
  );
  return page.evaluate(() => {
    const el = document.getElementById('model-status')!;
    return {
      state: el.dataset['state'] ?? '',
      text: el.textContent ?? '',
      providers: JSON.parse(el.dataset['providers'] ?? '{}') as Record<string, string>,
      threads: Number(el.dataset['threads']),
    };
  });
}

/** Fills in the form and clicks Generate (does not wait). */
export async function startGenerate(page: Page, s: DemoSettings): Promise<void> {
  await page.fill('#prompt', s.prompt);
  await page.fill('#negative-prompt', s.negativePrompt);
  await page.fill('#steps', String(s.steps));
  await page.fill('#guidance', String(s.guidance));
  await page.fill('#seed', String(s.seed));
  if (s.scheduler) await page.selectOption('#scheduler', s.scheduler);
  await page.setChecked('#previews', s.previews);
  await page.click('#generate');
}

/** What {@link finishGenerate} and {@link finishUpscale} read from the page once a run has ended. */
interface Finished {
  state: string;
  text: string;
  width: number;
  height: number;
  rgba: Uint8Array;
  ms: number;
}

/** Waits for the run shown by the status element `statusId` to end; reads it and the canvas `canvasId`. */
async function finishRun(page: Page, statusId: string, canvasId: string, timeout: number): Promise<Finished> {
  await page.waitForFunction(
    (id) => ['done', 'error', 'cancelled'].includes(document.getElementById(id)?.dataset['state'] ?? ''),
    statusId,
    { timeout },
  );
  const out = await page.evaluate(
    ({ statusId, canvasId }) => {
      const status = document.getElementById(statusId)!;
      const canvas = document.getElementById(canvasId) as HTMLCanvasElement;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      return {
        state: status.dataset['state'] ?? '',
        text: status.textContent ?? '',
        width: canvas.width,
        height: canvas.height,
        rgba: Array.from(data),
        ms: Number(status.dataset['ms']),
      };
    },
    { statusId, canvasId },
  );
  return { ...out, rgba: Uint8Array.from(out.rgba) };
}

/** Waits for the generation to end; returns the status, the result canvas's RGBA bytes and the time. */
export async function finishGenerate(page: Page, timeout = 120_000): Promise<Finished> {
  return finishRun(page, 'status', 'result', timeout);
}

/** Waits for "Upscale ×4" to end; returns its status and the upscaled canvas's RGBA bytes. */
export async function finishUpscale(
  page: Page,
  timeout = 120_000,
): Promise<{ state: string; text: string; width: number; height: number; rgba: Uint8Array }> {
  const { ms: _ms, ...finished } = await finishRun(page, 'upscale-status', 'upscaled', timeout);
  return finished;
}

/** Largest absolute difference between two byte arrays of one length. */
export function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}
