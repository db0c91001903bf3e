import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeBackend } from '@latentkit/backend-node';
import { StableDiffusionPipeline } from '@latentkit/core';
import { a1111Schedulers } from '@latentkit/schedulers';
import { decode } from 'fast-png';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type StaticServer,
  startStaticServer,
} from '../../packages/backend-web/src/test-support/static-server.js';
import {
  chromiumMissing,
  type DemoSettings,
  finishGenerate,
  launchChromium,
  maxDifference,
  openDemo,
  repoRoot,
  shapesModelDir,
  startGenerate,
  waitLoaded,
} from './support/demo-harness.js';

// `npm run build:web` as a user runs it, then examples/web/dist served AS A STATIC SITE — that folder and
// nothing else, as a static host would — in headless Chromium without WebGPU. The demo must load the
// shipped model from inside dist (it once went to the repository's dist/ instead: MODEL_NOT_FOUND),
// start from the model's recommended settings, list each scheduler once by its A1111 name, warn about
// the WebGPU fallback once, write A1111 parameters into its PNG, and keep the image and the Download
// button together after a cancel or an error. The two small pages docs/browser.md copies its code from
// (minimal.html with a worker, no-worker.html without) run too.

const skip = process.env['LATENTKIT_SKIP_BROWSER_TESTS'] === '1';
const dist = join(repoRoot, 'examples', 'web', 'dist');

/** The chunk types of a PNG in order, and its tEXt chunks' text. */
function pngChunks(png: Uint8Array): { types: string[]; text: Record<string, string> } {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const types: string[] = [];
  const text: Record<string, string> = {};
  for (let at = 8; at + 8 <= png.length; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    types.push(type);
    if (type === 'tEXt') {
      const data = png.subarray(at + 8, at + 8 + length);
      const nul = data.indexOf(0);
      text[new TextDecoder('latin1').decode(data.subarray(0, nul))] = new TextDecoder('latin1').decode(
        data.subarray(nul + 1),
      );
    }
    at += 12 + length;
  }
  return { types, text };
}

async function nodeImage(s: Omit<DemoSettings, 'previews'>): Promise<Uint8ClampedArray> {
  const pipe = await StableDiffusionPipeline.fromPretrained(shapesModelDir, { backend: nodeBackend });
  try {
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

async function canvasBytes(page: Page, id: string): Promise<Uint8Array> {
  const bytes = await page.evaluate((canvasId) => {
    const canvas = document.getElementById(canvasId) as HTMLCanvasElement;
    return Array.from(canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data);
  }, id);
  return Uint8Array.from(bytes);
}

describe.skipIf(skip)('the built demo (examples/web/dist) deployed as a static site', () => {
  let server: StaticServer;
  let browser: { context: BrowserContext; close(): Promise<void> };
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const missing = chromiumMissing();
    if (missing) throw new Error(missing);
    const rootDistBefore = existsSync(join(repoRoot, 'dist', 'models'));
    execFileSync('npm', ['run', 'build:web'], { cwd: repoRoot, stdio: 'pipe' });
    // The model goes into the site's own folder, not the repository's dist/.
    expect(existsSync(join(dist, 'models', 'shapes', 'model_index.json'))).toBe(true);
    if (!rootDistBefore) expect(existsSync(join(repoRoot, 'dist', 'models'))).toBe(false);
    server = await startStaticServer({ '/': dist });
    browser = await launchChromium({ webgpu: false });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('loads the shipped model from dist with its recommended settings, generates the pixels of onnxruntime-node, and the PNG carries A1111 parameters before IDAT', async () => {
    const page = await openDemo(browser.context, server.origin, 'provider=wasm&threads=1');
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const loaded = await waitLoaded(page);
    expect(loaded.state, loaded.text).toBe('ready');
    // Every model file came from the static site; nothing it asked for with GET was missing.
    expect(server.requests.filter((r) => r.method === 'GET' && r.status !== 200)).toEqual([]);
    expect(server.requests.some((r) => r.path === '/models/shapes/unet/model.onnx')).toBe(true);

    // The model card's settings (DDIM, 50 steps, guidance 5), one naming for schedulers, each once.
    expect(await page.inputValue('#steps')).toBe('50');
    expect(await page.inputValue('#guidance')).toBe('5');
    expect(await page.inputValue('#scheduler')).toBe('DDIM');
    const names = await page.$$eval('#scheduler option', (options) =>
      options.map((o) => (o as HTMLOptionElement).value),
    );
    expect(names).toEqual(Object.keys(a1111Schedulers));

    const settings = {
      prompt: 'a red circle on a blue background',
      negativePrompt: '',
      steps: 10,
      guidance: 5,
      seed: 42,
    };
    await startGenerate(page, { ...settings, previews: false });
    const out = await finishGenerate(page);
    expect(out.state, out.text).toBe('done');
    expect([out.width, out.height]).toEqual([32, 32]);
    expect(maxDifference(out.rgba, await nodeImage(settings))).toBeLessThanOrEqual(2);

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    expect(download.suggestedFilename()).toBe('latentkit-42.png');
    const bytes = new Uint8Array(await readFile((await download.path())!));
    const { types, text } = pngChunks(bytes);
    expect(types.indexOf('tEXt')).toBeLessThan(types.indexOf('IDAT'));
    expect(text['parameters']).toBe(
      'a red circle on a blue background\nSteps: 10, Sampler: DDIM, CFG scale: 5.0, Seed: 42, Size: 32x32, Model: shapes',
    );
    expect(maxDifference(decode(bytes).data, out.rgba)).toBe(0);

    // A cancel, then an error: the old image and its Download button stay, together.
    await startGenerate(page, { ...settings, steps: 500, seed: 7, previews: true });
    await page.waitForFunction(() => /Step [1-9]/.test(document.getElementById('status')?.textContent ?? ''));
    await page.click('#cancel');
    expect((await finishGenerate(page)).state).toBe('cancelled');
    expect(await page.isHidden('#download')).toBe(false);
    expect(maxDifference(await canvasBytes(page, 'result'), out.rgba)).toBe(0);

    await startGenerate(page, { ...settings, steps: 0, previews: false });
    const failed = await finishGenerate(page);
    expect(failed.state).toBe('error');
    expect(failed.text).toMatch(/^INVALID_ARGUMENT: numInferenceSteps/);
    expect(await page.isHidden('#download')).toBe(false);
    expect(maxDifference(await canvasBytes(page, 'result'), out.rgba)).toBe(0);
    const [again] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    expect(again.suggestedFilename()).toBe('latentkit-42.png');
    await page.close();
    expect(pageErrors).toEqual([]);
  }, 180_000);

  it('without WebGPU, "auto" falls back to WebAssembly with one warning, not one per component', async () => {
    const page = await openDemo(browser.context, server.origin, 'provider=auto&threads=1');
    const loaded = await waitLoaded(page);
    expect(loaded.state, loaded.text).toBe('ready');
    expect(new Set(Object.values(loaded.providers))).toEqual(new Set(['wasm']));
    expect(loaded.text.match(/falling back to "wasm"/g)).toHaveLength(1);
    await page.close();
  }, 120_000);

  it('the pages docs/browser.md copies its code from run: the worker and the main thread give one image', async () => {
    const minimal = await browser.context.newPage();
    const errors: string[] = [];
    minimal.on('pageerror', (e) => errors.push(e.message));
    await minimal.goto(`${server.origin}/minimal.html`);
    await minimal.waitForSelector('#download:not([hidden])', { state: 'attached', timeout: 120_000 });
    const [download] = await Promise.all([minimal.waitForEvent('download'), minimal.click('#download')]);
    const png = new Uint8Array(await readFile((await download.path())!));
    expect(pngChunks(png).text['parameters']).toBe(
      'a red circle on a blue background\nNegative prompt: a green square\nSteps: 20, Sampler: DDIM, CFG scale: 5.0, Seed: 42, Size: 32x32, Model: shapes',
    );
    const viaWorker = await canvasBytes(minimal, 'result');

    const direct = await browser.context.newPage();
    direct.on('pageerror', (e) => errors.push(e.message));
    await direct.goto(`${server.origin}/no-worker.html`);
    await direct.waitForFunction(() => document.body.dataset['state'] === 'done', null, { timeout: 120_000 });
    const onPage = await canvasBytes(direct, 'result');
    expect(errors).toEqual([]);
    expect(maxDifference(onPage, viaWorker)).toBe(0);
    const reference = await nodeImage({
      prompt: 'a red circle on a blue background',
      negativePrompt: 'a green square',
      steps: 20,
      guidance: 5,
      seed: 42,
    });
    expect(maxDifference(viaWorker, reference)).toBeLessThanOrEqual(2);
    await minimal.close();
    await direct.close();
  }, 180_000);
});
