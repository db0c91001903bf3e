import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeBackend } from '@latentkit/backend-node';
import { StableDiffusionUpscalePipeline } from '@latentkit/core';
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
  finishUpscale,
  fixtureModels,
  launchChromium,
  maxDifference,
  openDemo,
  serveDemo,
  startGenerate,
  waitLoaded,
} from './support/demo-harness.js';

// "Upscale ×4" on the demo page (examples/web, built with Vite) in headless Chromium: the shipped shapes
// model generates a 32×32 image, the button upscales it in the worker with an x4 upscaler
// (StableDiffusionUpscalePipeline on onnxruntime-web, WebAssembly), and the page shows a 128×128 image
// with the pixels onnxruntime-node gives for the same image and settings (≤ 2/255), with or without
// tiled VAE decoding, and offers it as a PNG with its parameters.
//
// The upscaler is the tiny random-weight fixture (tests/fixtures/models/sd-x4-upscaler), passed with
// ?upscaler=: it has the x4 upscaler's architecture and keeps this fast; the demo's default is the
// shapes world's trained upscaler at ./models/shapes-upscaler/.

const skip = process.env['LATENTKIT_SKIP_BROWSER_TESTS'] === '1';
const shapes: DemoSettings = {
  prompt: 'a red circle on a blue background',
  negativePrompt: 'a green square',
  steps: 8,
  guidance: 5,
  seed: 42,
  previews: false,
};
const up = { steps: 3, guidance: 5, noiseLevel: 30 };
const query = `provider=wasm&threads=1&upscaler=/models/sd-x4-upscaler/&upscaleSteps=${up.steps}&upscaleGuidance=${up.guidance}&noiseLevel=${up.noiseLevel}&vaeTileSize=64`;

/** onnxruntime-node's x4 upscale of the page's image with the page's settings. */
async function nodeUpscale(rgba: Uint8Array, size: number, tiled: boolean): Promise<Uint8ClampedArray> {
  const pipe = await StableDiffusionUpscalePipeline.fromPretrained(join(fixtureModels, 'sd-x4-upscaler'), {
    backend: nodeBackend,
  });
  try {
    if (tiled) pipe.enableVaeTiling({ tileSampleSize: 64 });
    const { images } = await pipe.generate({
      prompt: shapes.prompt,
      negativePrompt: shapes.negativePrompt,
      image: { width: size, height: size, data: new Uint8ClampedArray(rgba) },
      numInferenceSteps: up.steps,
      guidanceScale: up.guidance,
      noiseLevel: up.noiseLevel,
      seed: shapes.seed,
    });
    return images[0]!.data;
  } finally {
    await pipe.dispose();
  }
}

describe.skipIf(skip)('the demo page: Upscale ×4 in headless Chromium', () => {
  let server: StaticServer;
  let browser: { context: BrowserContext; close(): Promise<void> };

  beforeAll(async () => {
    const missing = chromiumMissing();
    if (missing) throw new Error(missing);
    const dist = join(artifactsDir, 'web-dist-upscale');
    await buildDemo(dist);
    server = await serveDemo(dist);
    browser = await launchChromium({ webgpu: false });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('the 4× image of onnxruntime-node (≤ 2/255), finite; its PNG download; tiled VAE the same way', async () => {
    const page = await openDemo(browser.context, server.origin, query);
    const loaded = await waitLoaded(page);
    expect(loaded.state, loaded.text).toBe('ready');
    expect(await page.isHidden('#upscale')).toBe(true);
    await startGenerate(page, shapes);
    const small = await finishGenerate(page);
    expect(small.state, small.text).toBe('done');
    expect([small.width, small.height]).toEqual([32, 32]);

    await page.click('#upscale');
    const big = await finishUpscale(page);
    expect(big.state, big.text).toBe('done');
    expect([big.width, big.height]).toEqual([128, 128]);
    expect(big.text).toMatch(/^Upscaled to 128×128 in \d+ ms\.$/);
    // Finite: the pipeline refuses NaN (NonFiniteOutputError); a real image is not one flat colour.
    expect(new Set(big.rgba.filter((_, i) => i % 4 === 0)).size).toBeGreaterThan(8);
    const reference = await nodeUpscale(small.rgba, 32, false);
    expect(maxDifference(big.rgba, reference)).toBeLessThanOrEqual(2);
    await page.screenshot({ path: join(artifactsDir, 'browser-demo-upscale.png'), fullPage: true });

    // "Download upscaled PNG": exactly the pixels shown, with the upscale's parameters.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-upscaled')]);
    expect(download.suggestedFilename()).toBe('latentkit-42-x4.png');
    const png = decode(await readFile((await download.path())!));
    expect([png.width, png.height, png.channels]).toEqual([128, 128, 4]);
    expect(maxDifference(png.data, big.rgba)).toBe(0);
    expect(png.text['parameters']).toMatch(/Steps: 3,.*Seed: 42,.*Size: 128x128,.*Model: upscaler/);

    // Tiled VAE (?vaeTileSize=64: the 128² decode runs in 64 px tiles overlapping by a quarter).
    await page.setChecked('#vae-tiling', true);
    await page.click('#upscale');
    await page.waitForFunction(
      () => document.getElementById('upscale-status')?.dataset['state'] === 'running',
    );
    const tiled = await finishUpscale(page);
    expect(tiled.state, tiled.text).toBe('done');
    expect(maxDifference(tiled.rgba, await nodeUpscale(small.rgba, 32, true))).toBeLessThanOrEqual(2);
    await page.close();
  }, 180_000);
});
