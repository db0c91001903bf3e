import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, repoRoot } from './support/demo-harness.js';
import { makeFeeds, type OrtComparePage, openOrtComparePage } from './support/ort-compare.js';

// The cause of the SDXL one-row WebGPU deviation (web-demo-sdxl.test.ts, the it.fails case; docs/browser.md
// "Known issue"): onnxruntime-web 1.30's channels-last InstanceNormalization kernel (InstanceNormalizationNHWC,
// what its WebGPU provider runs by default) has no bounds check in its last shader. diffusers exports
// GroupNorm as Reshape [N, groups, −1] → InstanceNormalization → Reshape, Mul, Add; the tiny SDXL fixtures
// have 4 groups, so the op sees [1, 4, L]. Graphs from tools/webgpu-bisect/make_minimal.py (fixtures set),
// in tests/fixtures/webgpu-instance-norm; each runs on WebAssembly and on WebGPU in headless Chromium (the
// SwiftShader adapter here) with the same input, and the outputs are compared.

const skip = process.env['LATENTKIT_SKIP_BROWSER_TESTS'] === '1';
const fixtures = join(repoRoot, 'tests', 'fixtures', 'webgpu-instance-norm');
/** WebGPU vs WebAssembly on values of magnitude ≤ 3.5: measured ≤ 2.4e-6 where the kernel is right. */
const TOLERANCE = 1e-5;

/** The real SDXL UNet (320/640/1280 channels) and VAE (128/512) group norms, 32 groups. */
const REAL_GROUP_NORMS: Array<[channels: number, h: number, w: number]> = [
  [320, 1, 1],
  [320, 3, 3],
  [320, 8, 8],
  [640, 5, 5],
  [1280, 3, 3],
  [1280, 7, 9],
  [128, 7, 9],
  [512, 3, 5],
];

describe.skipIf(skip)(
  'InstanceNormalization on onnxruntime-web WebGPU vs WebAssembly (headless Chromium)',
  () => {
    let page: OrtComparePage;

    beforeAll(async () => {
      const missing = chromiumMissing();
      if (missing) throw new Error(missing);
      page = await openOrtComparePage();
      // Without an adapter the "webgpu" runs would not be WebGPU at all.
      expect(await page.adapter(), 'navigator.gpu.requestAdapter() gave no adapter').not.toBeNull();
    }, 60_000);

    afterAll(async () => {
      await page?.close();
    });

    it.each(REAL_GROUP_NORMS.flatMap(([c, h, w]) => [1, 2].map((batch) => [c, h, w, batch] as const)))(
      'SDXL-sized GroupNorm (%i channels, 32 groups, %i×%i), batch %i: WebGPU matches WebAssembly',
      async (c, h, w, batch) => {
        const file = join(fixtures, `groupnorm_c${c}_g32_${h}x${w}.onnx`);
        const { y } = await page.compare(file, makeFeeds({ x: { dims: [batch, c, h, w], seed: 7 } }));
        expect(y!.dims).toEqual([batch, c, h, w]);
        expect(y!.maxRef).toBeGreaterThan(1);
        expect(y!.maxAbs).toBeLessThanOrEqual(TOLERANCE);
      },
      60_000,
    );

    it('32 groups, [1, 32, 4] (output buffer exactly full, last workgroup runs past it): still right', async () => {
      const { y } = await page.compare(
        join(fixtures, 'instnorm_c32_l4.onnx'),
        makeFeeds({ x: { dims: [1, 32, 4], seed: 7 } }),
      );
      expect(y!.maxAbs).toBeLessThanOrEqual(TOLERANCE);
    }, 60_000);

    it("the tiny fixtures' shape [1, 4, 16] at batch 2, and at batch 1 with preferredLayout NCHW: right", async () => {
      const file = join(fixtures, 'instnorm_c4_l16.onnx');
      const two = await page.compare(file, makeFeeds({ x: { dims: [2, 4, 16], seed: 7 } }));
      expect(two['y']!.maxAbs).toBeLessThanOrEqual(TOLERANCE);
      const nchw = await page.compare(file, makeFeeds({ x: { dims: [1, 4, 16], seed: 7 } }), {
        gpu: { name: 'webgpu', preferredLayout: 'NCHW' },
      });
      expect(nchw['y']!.maxAbs).toBeLessThanOrEqual(TOLERANCE);
    }, 60_000);

    // KNOWN onnxruntime-web bug (1.30, JSEP InstanceNormalizationNHWC): measured here 1.35 off on values ≤ 2.5,
    // in exactly the last position of each of the 4 channels (flat indices 15, 31, 47, 63). The test asserts
    // that signature (rather than an it.fails, which an unrelated exception would satisfy too): once an
    // onnxruntime-web update fixes the kernel it fails with no bad index — then assert a match here, and turn
    // the it.fails case of web-demo-sdxl.test.ts into a plain ≤ 2/255 test.
    it('KNOWN BUG: [1, 4, 16] at batch 1 (default NHWC layout) is wrong in the last position of each channel', async () => {
      const { y } = await page.compare(
        join(fixtures, 'instnorm_c4_l16.onnx'),
        makeFeeds({ x: { dims: [1, 4, 16], seed: 7 } }),
      );
      expect(y!.bad, 'fixed upstream? see the comment above').toEqual([15, 31, 47, 63]);
      expect(y!.maxAbs).toBeGreaterThan(0.01);
    }, 60_000);
  },
);
