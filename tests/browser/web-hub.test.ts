import { join } from 'node:path';
import { nodeBackend } from '@latentkit/backend-node';
import { StableDiffusionPipeline } from '@latentkit/core';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StaticServer } from '../../packages/backend-web/src/test-support/static-server.js';
import { TestHub } from '../support/test-hub.js';
import {
  artifactsDir,
  buildDemo,
  chromiumMissing,
  type DemoSettings,
  finishGenerate,
  launchChromium,
  maxDifference,
  openDemo,
  serveDemo,
  shapesModelDir,
  startGenerate,
  waitLoaded,
} from './support/demo-harness.js';

// The demo page in headless Chromium loads the shipped model BY HUB ID from a local hub-like server on
// another origin (tests/support/test-hub.ts): small files from
// `/<org>/<name>/resolve/main/…`, the `.onnx` files (Git LFS there) through a 302 to a CDN on a third
// origin, as huggingface.co serves them. In a browser the redirect is hidden from the page
// (`opaqueredirect`), so each file's SHA-256 comes from the hub's paths-info API before the browser follows
// it; the repository is private, so the token entered on the page must reach the hub and never the CDN.
// Then it generates, and must give onnxruntime-node's pixels for the same settings (≤ 2/255); a reload
// loads from Cache Storage without downloading anything.

const skip = process.env['LATENTKIT_SKIP_BROWSER_TESTS'] === '1';
const REPO = 'latentkit/shapes';
const TOKEN = 'hf_browser_test_token_not_a_secret';
const settings: DemoSettings = {
  prompt: 'a red circle on a blue background',
  negativePrompt: '',
  steps: 6,
  guidance: 5,
  seed: 42,
  previews: false,
};

describe.skipIf(skip)('the demo page loads a model by hub id (a local hub, an LFS CDN, a token)', () => {
  let server: StaticServer;
  let hub: TestHub;
  let browser: { context: BrowserContext; close(): Promise<void> };

  beforeAll(async () => {
    const missing = chromiumMissing();
    if (missing) throw new Error(missing);
    const dist = join(artifactsDir, 'web-dist-hub');
    await buildDemo(dist);
    server = await serveDemo(dist);
    hub = await TestHub.start([{ id: REPO, token: TOKEN, branches: { main: { folder: shapesModelDir } } }]);
    browser = await launchChromium({ webgpu: false });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await hub?.close();
  });

  it(`"${REPO}" with a token: onnxruntime-node's pixels; the token reaches the hub only; a reload downloads nothing`, async () => {
    const query = `model=${REPO}&hubUrl=${encodeURIComponent(hub.url)}&provider=wasm&threads=1&autoload=0`;
    const page = await openDemo(browser.context, server.origin, query);
    await page.fill('#hub-token', TOKEN);
    await page.click('#load');
    const loaded = await waitLoaded(page);
    expect(loaded.state, loaded.text).toBe('ready');
    expect(loaded.text).not.toContain(TOKEN);

    await startGenerate(page, settings);
    const out = await finishGenerate(page);
    expect(out.state, out.text).toBe('done');
    const node = await StableDiffusionPipeline.fromPretrained(shapesModelDir, { backend: nodeBackend });
    const { images } = await node.generate({
      prompt: settings.prompt,
      negativePrompt: settings.negativePrompt,
      numInferenceSteps: settings.steps,
      guidanceScale: settings.guidance,
      seed: settings.seed,
    });
    await node.dispose();
    expect(out.width * out.height * 4).toBe(images[0]!.data.length);
    expect(maxDifference(out.rgba, images[0]!.data)).toBeLessThanOrEqual(2);

    // The hub: every request but the CORS preflights carried the token, under the repository's
    // resolve/main/ or its paths-info API (asked once per .onnx file: the redirect was hidden).
    const asked = hub.hubRequests.filter((r) => r.method !== 'OPTIONS');
    expect(asked.length).toBeGreaterThan(0);
    for (const r of asked) {
      expect(r.authorization, `${r.method} ${r.url}`).toBe(`Bearer ${TOKEN}`);
      expect(
        r.url.startsWith(`/${REPO}/resolve/main/`) || r.url === `/api/models/${REPO}/paths-info/main`,
        r.url,
      ).toBe(true);
    }
    const onnxFetched = hub.cdnRequests.filter((r) => r.method === 'GET');
    const lookups = asked.filter((r) => r.method === 'POST');
    expect(onnxFetched.length).toBeGreaterThanOrEqual(3);
    expect(lookups.length).toBe(onnxFetched.length);
    // The CDN (another origin): never the token.
    expect(hub.cdnRequests.map((r) => r.authorization)).toEqual(hub.cdnRequests.map(() => undefined));

    // Reload: everything from Cache Storage (the cache keys are the resolve/main/ URLs), no GET at all.
    const before = { hub: hub.hubRequests.length, cdn: hub.cdnRequests.length };
    await page.reload();
    await page.fill('#hub-token', TOKEN);
    await page.click('#load');
    const again = await waitLoaded(page);
    expect(again.state, again.text).toBe('ready');
    const reloadAsked = hub.hubRequests.slice(before.hub).filter((r) => r.method !== 'OPTIONS');
    expect(reloadAsked.filter((r) => r.method !== 'HEAD')).toEqual([]);
    expect(hub.cdnRequests.length).toBe(before.cdn);
    expect(await page.textContent('#cached-models')).toContain(`${hub.url}/${REPO}/resolve/main/`);
    await page.close();
  }, 240_000);
});
