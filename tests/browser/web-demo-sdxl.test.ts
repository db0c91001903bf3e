import { join } from 'node:path';
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
  startGenerate,
  waitLoaded,
} from './support/demo-harness.js';

// SDXL in the browser (issue 18): the demo page loads the tiny SDXL-Turbo and SDXL base fixtures
// (tests/fixtures/models/sdxl-turbo-tiny, sdxl-tiny: two text encoders, text_embeds/time_ids UNets) in its
// worker, runs them with StableDiffusionXLPipeline on WebAssembly, and must give the pixels
// onnxruntime-node gives for the same prompt, seed and settings (≤ 2/255, as the SD 1.x demo test).

const skip = process.env['LATENTKIT_SKIP_BROWSER_TESTS'] === '1';

describe.skipIf(skip)('SDXL on the demo page in headless Chromium', () => {
  let server: StaticServer;
  let browser: { context: BrowserContext; close(): Promise<void> };

  beforeAll(async () => {
    const missing = chromiumMissing();
    if (missing) throw new Error(missing);
    const dist = join(artifactsDir, 'web-dist-sdxl');
    await buildDemo(dist);
    server = await serveDemo(dist);
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('SDXL-Turbo (1 step, guidance 0), WebAssembly: StableDiffusionXLPipeline, the pixels of onnxruntime-node', async () => {
    const page = await openDemo(
      browser.context,
      server.origin,
      'model=/models/sdxl-turbo-tiny/&provider=wasm&threads=1',
    );
    const loaded = await waitLoaded(page);
    expect(loaded.state, loaded.text).toBe('ready');
    expect(loaded.text).toMatch(/^Loaded an SDXL model in/);
    expect(await page.getAttribute('#model-status', 'data-pipeline')).toBe('StableDiffusionXLPipeline');
    // Both text encoders, the UNet and the VAE run in the page.
    expect(Object.keys(loaded.providers)).toEqual(
      expect.arrayContaining(['text_encoder', 'text_encoder_2', 'unet', 'vae_decoder']),
    );
    // The page recommends Turbo's settings for a model named "turbo".
    expect(await page.inputValue('#steps')).toBe('1');
    expect(await page.inputValue('#guidance')).toBe('0');
    const turbo: DemoSettings = {
      prompt: 'a photo of a cat',
      negativePrompt: '',
      steps: 1,
      guidance: 0,
      seed: 1234,
      previews: false,
    };
    await startGenerate(page, turbo);
    const out = await finishGenerate(page);
    expect(out.state, out.text).toBe('done');
    expect([out.width, out.height]).toEqual([64, 64]);
    const reference = await nodeDemoImage('sdxl-turbo-tiny', turbo);
    expect(maxDifference(out.rgba, reference)).toBeLessThanOrEqual(2);
    await page.close();
  }, 120_000);

  it('SDXL base on WebGPU (SwiftShader adapter), guidance 5: every component on webgpu, the same pixels', async () => {
    const page = await openDemo(browser.context, server.origin, 'model=/models/sdxl-tiny/&provider=webgpu');
    const loaded = await waitLoaded(page);
    expect(loaded.state, loaded.text).toBe('ready');
    expect(new Set(Object.values(loaded.providers))).toEqual(new Set(['webgpu']));
    expect(Object.keys(loaded.providers)).toContain('text_encoder_2');
    const settings: DemoSettings = {
      prompt: 'a red circle',
      negativePrompt: 'a dog',
      steps: 2,
      guidance: 5,
      seed: 5,
      previews: false,
    };
    await startGenerate(page, settings);
    const out = await finishGenerate(page);
    expect(out.state, out.text).toBe('done');
    // measured here: max 1
    expect(maxDifference(out.rgba, await nodeDemoImage('sdxl-tiny', settings))).toBeLessThanOrEqual(2);
    await page.close();
  }, 120_000);

  // KNOWN ISSUE (onnxruntime-web 1.30, tiny fixtures only): on onnxruntime-web's WebGPU, an SDXL UNet run
  // with ONE row (guidance ≤ 1: no CFG batch, as Turbo runs) gives pixels up to 31/255 off
  // onnxruntime-node's (mean 2.7; the base at guidance 0: max 15), while two rows match to 1/255. Cause:
  // onnxruntime-web's InstanceNormalizationNHWC kernel (the WebGPU provider's default channels-last
  // InstanceNormalization) has no bounds check in its last shader and overwrites the last spatial position
  // of each channel when the output fills its GPU buffer exactly: diffusers' GroupNorm export runs it on
  // [1, groups, L], and these fixtures' 4 groups give [1, 4, 16] etc., wrong for L = 4, 8, 16, 32. Real SDXL
  // (32 groups) is not affected (tests/browser/webgpu-instance-norm.test.ts, tools/webgpu-bisect/README.md;
  // with preferredLayout 'NCHW' the tiny UNets match too). This test passes while the bug exists and fails
  // once an onnxruntime-web update fixes it — then turn it into a plain ≤ 2 test.
  it.fails('KNOWN ISSUE: SDXL-Turbo on WebGPU (one UNet row) is not within 2/255 of onnxruntime-node', async () => {
    const page = await openDemo(
      browser.context,
      server.origin,
      'model=/models/sdxl-turbo-tiny/&provider=webgpu',
    );
    const loaded = await waitLoaded(page);
    expect(loaded.state, loaded.text).toBe('ready');
    const turbo: DemoSettings = {
      prompt: 'a red circle',
      negativePrompt: '',
      steps: 1,
      guidance: 0,
      seed: 5,
      previews: false,
    };
    await startGenerate(page, turbo);
    const out = await finishGenerate(page);
    await page.close();
    expect(out.state, out.text).toBe('done');
    expect(maxDifference(out.rgba, await nodeDemoImage('sdxl-turbo-tiny', turbo))).toBeLessThanOrEqual(2);
  }, 120_000);

  it('SDXL base (guidance 5, a negative prompt, 3 steps), WebAssembly 2 threads: the pixels of onnxruntime-node', async () => {
    const page = await openDemo(
      browser.context,
      server.origin,
      'model=/models/sdxl-tiny/&provider=wasm&threads=2',
    );
    const loaded = await waitLoaded(page);
    expect(loaded.state, loaded.text).toBe('ready');
    expect(await page.getAttribute('#model-status', 'data-pipeline')).toBe('StableDiffusionXLPipeline');
    const settings: DemoSettings = {
      prompt: 'a photo of a cat',
      negativePrompt: 'a dog',
      steps: 3,
      guidance: 5,
      seed: 99,
      previews: true,
    };
    await startGenerate(page, settings);
    const out = await finishGenerate(page);
    expect(out.state, out.text).toBe('done');
    expect(maxDifference(out.rgba, await nodeDemoImage('sdxl-tiny', settings))).toBeLessThanOrEqual(2);
    await page.close();
  }, 120_000);
});
