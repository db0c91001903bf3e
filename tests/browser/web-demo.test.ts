import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decode } from 'fast-png';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StaticServer } from '../../packages/backend-web/src/test-support/static-server.js';
import {
  artifactsDir,
  buildDemo,
  chromiumMissing,
  type DemoSettings,
  finishGenerate,
  launchChromium,
  maxDifference,
  nodeDemoImage,
  openDemo,
  serveDemo,
  shapesModelDir,
  startGenerate,
  waitLoaded,
} from './support/demo-harness.js';

// The demo page (examples/web), built with Vite and served with COOP/COEP, in headless Chromium: it must
// give the pixels onnxruntime-node gives for the same prompt, seed and settings (≤ 2/255) on WebAssembly
// (1 and 2 threads) and on WebGPU (SwiftShader here: software, about 80× slower than WebAssembly, so few
// steps), cancel, and load a second time from Cache Storage with no download (only HEADs for the optional
// files that were missing: a 404 is not remembered).
//
// The tiny sd1 fixture (tests/fixtures/models/sd1, 64×64) keeps this under a minute; the shipped model is
// timed by bench/browser.bench.ts.

const skip = process.env['LATENTKIT_SKIP_BROWSER_TESTS'] === '1';
const MODEL = 'sd1';
const settings: DemoSettings = {
  prompt: 'a photo of a cat',
  negativePrompt: 'a dog',
  steps: 4,
  guidance: 5,
  seed: 1234,
  previews: false,
};

describe.skipIf(skip)('the demo page in headless Chromium', () => {
  let server: StaticServer;
  let browser: { context: BrowserContext; close(): Promise<void> };
  let reference: Uint8ClampedArray;
  const modelRequests = (model: string) =>
    server.requests.filter((r) => r.path.startsWith(`/models/${model}/`));

  beforeAll(async () => {
    const missing = chromiumMissing();
    if (missing) throw new Error(missing);
    const dist = join(artifactsDir, 'web-dist');
    await buildDemo(dist);
    server = await serveDemo(dist);
    browser = await launchChromium();
    reference = await nodeDemoImage(MODEL, settings);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('WebAssembly, 1 thread: the pixels of onnxruntime-node; a second load comes from the cache', async () => {
    const query = `model=/models/${MODEL}/&provider=wasm&threads=1`;
    const page = await openDemo(browser.context, server.origin, query);
    const loaded = await waitLoaded(page);
    expect(loaded.state, loaded.text).toBe('ready');
    expect(loaded.threads).toBe(1);
    expect(new Set(Object.values(loaded.providers))).toEqual(new Set(['wasm']));
    const firstLoad = modelRequests(MODEL).length;
    expect(firstLoad).toBeGreaterThan(0);

    await startGenerate(page, { ...settings, previews: true });
    const out = await finishGenerate(page);
    expect(out.state, out.text).toBe('done');
    expect([out.width, out.height]).toEqual([64, 64]);
    expect(maxDifference(out.rgba, reference)).toBeLessThanOrEqual(2);
    mkdirSync(artifactsDir, { recursive: true });
    await page.screenshot({ path: join(artifactsDir, 'browser-demo.png'), fullPage: true });

    // The download button saves a PNG (toPngBlob) with exactly the pixels shown.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const png = decode(await readFile((await download.path())!));
    expect([png.width, png.height, png.channels]).toEqual([64, 64, 4]);
    expect(maxDifference(png.data, out.rgba)).toBe(0);

    // Reload: every model file is in Cache Storage, nothing is downloaded again. Optional files that were
    // missing are asked again with HEAD (a 404 is not remembered: the file may have appeared since).
    const missingBefore = modelRequests(MODEL)
      .slice(0, firstLoad)
      .filter((r) => r.status === 404)
      .map((r) => r.path);
    await page.reload();
    const again = await waitLoaded(page);
    expect(again.state, again.text).toBe('ready');
    const reloadRequests = modelRequests(MODEL).slice(firstLoad);
    expect(reloadRequests.filter((r) => r.method !== 'HEAD')).toEqual([]);
    expect(reloadRequests.every((r) => r.status === 404)).toBe(true);
    expect(new Set(reloadRequests.map((r) => r.path))).toEqual(new Set(missingBefore));
    expect(await page.textContent('#cached-models')).toContain(`/models/${MODEL}/`);
    await startGenerate(page, settings);
    const cached = await finishGenerate(page);
    expect(maxDifference(cached.rgba, reference)).toBeLessThanOrEqual(2);
    await page.close();
  }, 120_000);

  it('WebAssembly, 2 threads (the page is cross-origin isolated): the same pixels', async () => {
    const page = await openDemo(
      browser.context,
      server.origin,
      `model=/models/${MODEL}/&provider=wasm&threads=2`,
    );
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    const loaded = await waitLoaded(page);
    expect(loaded.state, loaded.text).toBe('ready');
    expect(loaded.threads).toBe(2);
    await startGenerate(page, settings);
    const out = await finishGenerate(page);
    expect(out.state, out.text).toBe('done');
    expect(maxDifference(out.rgba, reference)).toBeLessThanOrEqual(2);
    await page.close();
  }, 120_000);

  it('WebGPU (SwiftShader adapter): every component on webgpu, the same pixels', async () => {
    const page = await openDemo(browser.context, server.origin, `model=/models/${MODEL}/&provider=webgpu`);
    const loaded = await waitLoaded(page);
    expect(loaded.state, loaded.text).toBe('ready');
    expect(loaded.providers).toEqual({
      unet: 'webgpu',
      vae_decoder: 'webgpu',
      text_encoder: 'webgpu',
      vae_encoder: 'webgpu',
    });
    await startGenerate(page, { ...settings, steps: 2 });
    const out = await finishGenerate(page);
    expect(out.state, out.text).toBe('done');
    const reference2 = await nodeDemoImage(MODEL, { ...settings, steps: 2 });
    expect(maxDifference(out.rgba, reference2)).toBeLessThanOrEqual(2);
    await page.close();
  }, 120_000);

  it('float16 on an adapter without shader-f16: WebGPU refuses with the reason, auto falls back to WebAssembly', async () => {
    const only = await openDemo(browser.context, server.origin, 'model=/models/sd1-fp16/&provider=webgpu');
    const refused = await waitLoaded(only);
    expect(refused.state).toBe('error');
    expect(refused.text).toMatch(/BACKEND_UNAVAILABLE: .*shader-f16/);
    await only.close();

    const auto = await openDemo(
      browser.context,
      server.origin,
      'model=/models/sd1-fp16/&provider=auto&threads=1',
    );
    const loaded = await waitLoaded(auto);
    expect(loaded.state, loaded.text).toBe('ready');
    expect(new Set(Object.values(loaded.providers))).toEqual(new Set(['wasm']));
    expect(loaded.text).toMatch(/"webgpu" cannot run \w+ .*shader-f16.*falling back to "wasm"/);
    expect(loaded.text.match(/falling back/g)).toHaveLength(1);
    await startGenerate(auto, settings);
    const out = await finishGenerate(auto);
    expect(out.state, out.text).toBe('done');
    expect(maxDifference(out.rgba, await nodeDemoImage('sd1-fp16', settings))).toBeLessThanOrEqual(2);
    await auto.close();
  }, 120_000);

  it('the shipped model, loaded by default: the pixels of onnxruntime-node', async () => {
    const page = await openDemo(browser.context, server.origin, 'provider=wasm&threads=1');
    const loaded = await waitLoaded(page);
    expect(loaded.state, loaded.text).toBe('ready');
    const shapes: DemoSettings = {
      prompt: 'a red circle on a blue background',
      negativePrompt: '',
      steps: 10,
      guidance: 7.5,
      seed: 42,
      previews: false,
    };
    await startGenerate(page, shapes);
    const out = await finishGenerate(page);
    expect(out.state, out.text).toBe('done');
    const reference = await nodeDemoImage(shapesModelDir, shapes);
    // The page picks the model's own size (UNet sample_size × VAE downscale), as diffusers does.
    expect(out.width * out.height * 4).toBe(reference.length);
    expect(maxDifference(out.rgba, reference)).toBeLessThanOrEqual(2);
    await page.screenshot({ path: join(artifactsDir, 'browser-demo-shapes.png'), fullPage: true });
    await page.close();
  }, 120_000);

  it('Cancel stops a running generation; the next one runs', async () => {
    const page = await openDemo(
      browser.context,
      server.origin,
      `model=/models/${MODEL}/&provider=wasm&threads=1`,
    );
    expect((await waitLoaded(page)).state).toBe('ready');
    await startGenerate(page, { ...settings, steps: 500, previews: true });
    await page.waitForFunction(() => /Step [1-9]/.test(document.getElementById('status')?.textContent ?? ''));
    await page.click('#cancel');
    const cancelled = await finishGenerate(page);
    expect(cancelled.state, cancelled.text).toBe('cancelled');
    await startGenerate(page, settings);
    const out = await finishGenerate(page);
    expect(out.state, out.text).toBe('done');
    expect(maxDifference(out.rgba, reference)).toBeLessThanOrEqual(2);
    await page.close();
  }, 120_000);
});
