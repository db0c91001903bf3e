import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeBackend } from '@latentkit/backend-node';
import { type LayoutObject, type ResolvedLayout, StableDiffusionGLIGENPipeline } from '@latentkit/core';
import { shapesLayoutDefaults, shapesLayoutModelPath } from '@latentkit/model-shapes';
import { decode } from 'fast-png';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StaticServer } from '../../packages/backend-web/src/test-support/static-server.js';
import {
  artifactsDir,
  buildDemo,
  chromiumMissing,
  fixtureModels,
  launchChromium,
  maxDifference,
  openDemo,
  serveDemo,
} from './support/demo-harness.js';

// The demo page's box editor and "Generate layout" (examples/web, built with Vite) in headless Chromium:
// two boxes drawn by dragging the mouse over the layout canvas, a phrase typed for each, and the worker
// runs StableDiffusionGLIGENPipeline (onnxruntime-web, WebAssembly) on them. The page must show an image
// of the model's size with onnxruntime-node's pixels for the same layout (≤ 2/255), and the layout the
// worker ran must be the boxes drawn, as fractions of the canvas, origin top left. A box without a phrase
// comes back from the worker as a typed error in the status line; the editor stops at 30 boxes.
//
// The grounded model is the tiny random-weight fixture (tests/fixtures/models/sd-gligen-tiny, 64×64),
// passed with ?layoutModel=: the convention of the shipped model, and fast; the demo's default is the
// shapes world's grounded model at ./models/shapes-layout/.

const skip = process.env['LATENTKIT_SKIP_BROWSER_TESTS'] === '1';
const settings = {
  prompt: 'on a white background',
  steps: 4,
  guidance: 5,
  beta: 0.5,
  seed: 11,
};
const query = new URLSearchParams({
  provider: 'wasm',
  threads: '1',
  autoload: '0',
  layoutModel: '/models/sd-gligen-tiny/',
  layoutPrompt: settings.prompt,
  layoutSteps: String(settings.steps),
  layoutGuidance: String(settings.guidance),
  layoutBeta: String(settings.beta),
  seed: String(settings.seed),
}).toString();

/** The editor canvas's box on the page, in CSS pixels (scrolled into view first). */
async function editorBox(page: Page): Promise<{ x: number; y: number; width: number; height: number }> {
  const editor = page.locator('#layout-editor');
  await editor.scrollIntoViewIfNeeded();
  const box = await editor.boundingBox();
  if (!box) throw new Error('the layout editor canvas is not visible');
  return box;
}

/**
 * Drags the mouse over the editor from fraction `from` to fraction `to` (whole CSS pixels) and returns the
 * fractions the pointer really went between.
 */
async function drag(
  page: Page,
  from: [number, number],
  to: [number, number],
): Promise<{ from: [number, number]; to: [number, number] }> {
  const r = await editorBox(page);
  const px = (f: [number, number]) => [Math.round(r.x + f[0] * r.width), Math.round(r.y + f[1] * r.height)];
  const [x0, y0] = px(from) as [number, number];
  const [x1, y1] = px(to) as [number, number];
  await page.mouse.move(x0, y0);
  await page.mouse.down();
  await page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, { steps: 2 });
  await page.mouse.move(x1, y1, { steps: 2 });
  await page.mouse.up();
  const frac = (x: number, y: number): [number, number] => [(x - r.x) / r.width, (y - r.y) / r.height];
  return { from: frac(x0, y0), to: frac(x1, y1) };
}

/** The box a drag spans, top-left corner first. */
function spanned(d: { from: [number, number]; to: [number, number] }): number[] {
  return [
    Math.min(d.from[0], d.to[0]),
    Math.min(d.from[1], d.to[1]),
    Math.max(d.from[0], d.to[0]),
    Math.max(d.from[1], d.to[1]),
  ];
}

/** Waits for "Generate layout" to end; returns its status, the layout the worker ran and the image. */
async function finishLayout(page: Page): Promise<{
  state: string;
  text: string;
  layout: ResolvedLayout | null;
  width: number;
  height: number;
  rgba: Uint8Array;
}> {
  await page.waitForFunction(
    () =>
      ['done', 'error', 'cancelled'].includes(
        document.getElementById('layout-status')?.dataset['state'] ?? '',
      ),
    null,
    { timeout: 120_000 },
  );
  const out = await page.evaluate(() => {
    const status = document.getElementById('layout-status')!;
    const canvas = document.getElementById('layout-result') as HTMLCanvasElement;
    return {
      state: status.dataset['state'] ?? '',
      text: status.textContent ?? '',
      layout: JSON.parse(status.dataset['layout'] ?? 'null') as ResolvedLayout | null,
      width: canvas.width,
      height: canvas.height,
      rgba: Array.from(canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data),
    };
  });
  return { ...out, rgba: Uint8Array.from(out.rgba) };
}

/**
 * onnxruntime-node's StableDiffusionGLIGENPipeline on `layout` with the page's settings (default: the
 * fixture with the test's settings).
 */
async function nodeLayout(
  layout: LayoutObject[],
  model = join(fixtureModels, 'sd-gligen-tiny'),
  s = {
    numInferenceSteps: settings.steps,
    guidanceScale: settings.guidance,
    gligenScheduledSamplingBeta: settings.beta,
  },
): Promise<Uint8ClampedArray> {
  const pipe = await StableDiffusionGLIGENPipeline.fromPretrained(model, { backend: nodeBackend });
  try {
    const { images } = await pipe.generate({
      ...s,
      prompt: settings.prompt,
      negativePrompt: '',
      layout,
      seed: settings.seed,
    });
    return images[0]!.data;
  } finally {
    await pipe.dispose();
  }
}

describe.skipIf(skip)('the demo page: box editor and Generate layout in headless Chromium', () => {
  let server: StaticServer;
  let browser: { context: BrowserContext; close(): Promise<void> };

  beforeAll(async () => {
    const missing = chromiumMissing();
    if (missing) throw new Error(missing);
    const dist = join(artifactsDir, 'web-dist-layout');
    await buildDemo(dist);
    server = await serveDemo(dist);
    browser = await launchChromium({ webgpu: false });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("two dragged boxes with phrases → the worker's layout is the boxes drawn, the image onnxruntime-node's", async () => {
    const page = await openDemo(browser.context, server.origin, query);
    await page.waitForSelector('#generate-layout:not([disabled])');

    // Box 1 dragged top-left → bottom-right; box 2 bottom-right → top-left (either corner may come first).
    const first = await drag(page, [0.1, 0.15], [0.45, 0.5]);
    const second = await drag(page, [0.9, 0.95], [0.5, 0.55]);
    // A click (no drag) draws nothing.
    await drag(page, [0.7, 0.2], [0.7, 0.2]);
    const phrases = page.locator('#layout-objects input.phrase');
    expect(await phrases.count()).toBe(2);

    // No phrase for box 2 yet: the worker refuses the layout, and the page says which value and why.
    await phrases.nth(0).fill('a red circle');
    await page.click('#generate-layout');
    const refused = await finishLayout(page);
    expect(refused.state).toBe('error');
    expect(refused.text).toMatch(/^INVALID_ARGUMENT: layout\[1\]\.phrase = "" is invalid: .*Fix: /);

    await phrases.nth(1).fill('a blue square');
    await page.click('#generate-layout');
    const done = await finishLayout(page);
    expect(done.state, done.text).toBe('done');
    expect(done.text).toMatch(/^64×64 from 2 boxes in \d+ ms\.$/);
    expect([done.width, done.height]).toEqual([64, 64]);

    // What the worker's pipeline ran: the phrases typed and the boxes drawn (fractions, rounded to 1/1000).
    const layout = done.layout!;
    expect(layout.phrases).toEqual(['a red circle', 'a blue square']);
    expect(layout.scheduledSamplingBeta).toBe(settings.beta);
    expect(layout.boxes).toHaveLength(2);
    for (const [i, drawn] of [spanned(first), spanned(second)].entries()) {
      layout.boxes[i]!.forEach((v, j) => {
        expect(Math.abs(v - drawn[j]!)).toBeLessThanOrEqual(0.0005 + 1e-9);
      });
    }

    // The pixels: onnxruntime-node's for the same layout and settings, and not one flat colour. (The
    // fixture's random-weight grounding moves 8-bit pixels by at most 1/255, so this checks the page's
    // pipeline, not the layout; the layout the worker ran is the pipeline's record checked above.)
    const objects = layout.boxes.map((box, i) => ({ phrase: layout.phrases![i]!, box }));
    expect(maxDifference(done.rgba, await nodeLayout(objects))).toBeLessThanOrEqual(2);
    expect(new Set(done.rgba.filter((_, i) => i % 4 === 0)).size).toBeGreaterThan(8);
    await page.screenshot({ path: join(artifactsDir, 'browser-demo-layout.png'), fullPage: true });

    // "Download PNG": the pixels shown, with the call's parameters.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-layout')]);
    expect(download.suggestedFilename()).toBe(`latentkit-${settings.seed}-layout.png`);
    const png = decode(await readFile((await download.path())!));
    expect([png.width, png.height, png.channels]).toEqual([64, 64, 4]);
    expect(maxDifference(png.data, done.rgba)).toBe(0);
    expect(png.text['parameters']).toMatch(/Steps: 4,.*Seed: 11,.*Size: 64x64,.*Model: layout/);

    // Delete box 1: box 2 is left, with its phrase.
    await page.locator('#layout-objects .delete-box').nth(0).click();
    expect(await phrases.count()).toBe(1);
    expect(await phrases.nth(0).inputValue()).toBe('a blue square');
    await page.close();
  }, 180_000);

  it("the default: the shipped shapes layout model at its card's settings gives onnxruntime-node's image", async () => {
    // No ?layoutModel: the page runs ./models/shapes-layout/ (packages/model-shapes/layout) with the
    // settings its card recommends (shapesLayoutDefaults).
    const page = await openDemo(
      browser.context,
      server.origin,
      `provider=wasm&threads=1&autoload=0&seed=${settings.seed}`,
    );
    await page.waitForSelector('#generate-layout:not([disabled])');
    expect(await page.inputValue('#layout-steps')).toBe(String(shapesLayoutDefaults.numInferenceSteps));
    expect(await page.inputValue('#layout-guidance')).toBe(String(shapesLayoutDefaults.guidanceScale));
    expect(await page.inputValue('#layout-beta')).toBe(
      String(shapesLayoutDefaults.gligenScheduledSamplingBeta),
    );
    expect(await page.inputValue('#layout-prompt')).toBe(settings.prompt);
    await drag(page, [0.05, 0.05], [0.45, 0.45]);
    await drag(page, [0.55, 0.55], [0.95, 0.95]);
    const phrases = page.locator('#layout-objects input.phrase');
    await phrases.nth(0).fill('a red circle');
    await phrases.nth(1).fill('a blue square');
    await page.click('#generate-layout');
    const done = await finishLayout(page);
    expect(done.state, done.text).toBe('done');
    expect(server.requests.some((r) => r.path === '/models/shapes-layout/unet/model.onnx')).toBe(true);
    const layout = done.layout!;
    expect(layout.scheduledSamplingBeta).toBe(shapesLayoutDefaults.gligenScheduledSamplingBeta);
    const objects = layout.boxes.map((box, i) => ({ phrase: layout.phrases![i]!, box }));
    const reference = await nodeLayout(objects, shapesLayoutModelPath, shapesLayoutDefaults);
    expect(done.rgba.length).toBe(reference.length);
    expect(maxDifference(done.rgba, reference)).toBeLessThanOrEqual(2);
    await page.screenshot({ path: join(artifactsDir, 'browser-demo-layout-shipped.png'), fullPage: true });
    await page.close();
  }, 180_000);

  it("WebGPU (SwiftShader adapter, no fallback allowed): the grounded UNet runs there, onnxruntime-node's image", async () => {
    const gpu = await launchChromium();
    try {
      const page = await openDemo(
        gpu.context,
        server.origin,
        query.replace('provider=wasm', 'provider=webgpu'),
      );
      await page.waitForSelector('#generate-layout:not([disabled])');
      await drag(page, [0.1, 0.1], [0.5, 0.6]);
      await drag(page, [0.55, 0.2], [0.9, 0.9]);
      const phrases = page.locator('#layout-objects input.phrase');
      await phrases.nth(0).fill('a red circle');
      await phrases.nth(1).fill('a blue square');
      await page.click('#generate-layout');
      // provider=webgpu alone: a component that cannot run on WebGPU fails the load instead of falling back.
      const done = await finishLayout(page);
      expect(done.state, done.text).toBe('done');
      const layout = done.layout!;
      const objects = layout.boxes.map((box, i) => ({ phrase: layout.phrases![i]!, box }));
      expect(maxDifference(done.rgba, await nodeLayout(objects))).toBeLessThanOrEqual(2);
      await page.close();
    } finally {
      await gpu.close();
    }
  }, 180_000);

  it('the editor stops at 30 boxes; Clear boxes empties it; no boxes is the worker’s typed error', async () => {
    const page = await openDemo(browser.context, server.origin, query);
    await page.waitForSelector('#generate-layout:not([disabled])');
    for (let i = 0; i < 31; i++) {
      const x = (i % 6) / 6;
      const y = Math.floor(i / 6) / 6;
      await drag(page, [x + 0.01, y + 0.01], [x + 0.15, y + 0.15]);
    }
    expect(await page.locator('#layout-objects li').count()).toBe(30);
    expect(await page.getAttribute('#layout-status', 'data-state')).toBe('refused');
    expect(await page.textContent('#layout-status')).toBe('At most 30 boxes: delete one to draw another.');

    await page.click('#clear-boxes');
    expect(await page.locator('#layout-objects li').count()).toBe(0);
    await page.click('#generate-layout');
    const empty = await finishLayout(page);
    expect(empty.state).toBe('error');
    expect(empty.text).toMatch(/^INVALID_ARGUMENT: layout = \[\] is invalid: expected at least one object/);
    await page.close();
  }, 120_000);
});
