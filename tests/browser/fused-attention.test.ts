import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type StaticServer,
  startStaticServer,
} from '../../packages/backend-web/src/test-support/static-server.js';
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
  repoRoot,
  serveDemo,
  startGenerate,
  waitLoaded,
} from './support/demo-harness.js';

// Optimised graphs in the browser (issue 19, item 3): the fused-attention fixtures
// (tools/fixtures/make_fused_fixtures.py: every UNet attention one com.microsoft::MultiHeadAttention node)
// on onnxruntime-web 1.30 in headless Chromium. (1) Each MultiHeadAttention node is placed on the WebGPU
// provider (onnxruntime's own node-placement log, not a fallback to its CPU kernels) and the UNet's output
// on WebGPU and on WebAssembly equals the plain twin's; the float16 UNet runs on WebAssembly (here WebGPU is
// SwiftShader, which has no shader-f16). (2) The demo page generates with the fused folders on WebGPU and
// WebAssembly and gives onnxruntime-node's pixels for the plain twin.

const skip = process.env['LATENTKIT_SKIP_BROWSER_TESTS'] === '1';
const SD15 = 'sd15-fused-tiny';
const SDXL = 'sdxl-fused-tiny';
/** float32 on both sides (WebGPU, WebAssembly, onnxruntime-node): relative to the output's magnitude (≥ 1). */
const TOL = 1e-4;
/** The float16 UNet against float32 (tests/onnx-fused-fixtures.test.ts measures 1.2e-3 on onnxruntime-node). */
const TOL_FP16 = 5e-3;

interface Feed {
  dims: number[];
  data: number[];
  half?: boolean;
}
interface RunResult {
  out: number[];
  dims: number[];
  /** The MultiHeadAttention node names, per provider in onnxruntime's placement log. */
  placement: Record<string, string[]>;
}

/** The UNet's inputs at batch 2, 8×8 latents: sine waves, timestep 500 (SDXL: text_embeds, time_ids too). */
function unetFeeds(sdxl: boolean, half = false): Record<string, Feed> {
  const wave = (dims: number[], phase: number, scale: number): Feed => {
    const n = dims.reduce((a, b) => a * b, 1);
    return { dims, data: Array.from({ length: n }, (_, i) => Math.sin(0.37 * i + phase) * scale), half };
  };
  const feeds: Record<string, Feed> = {
    sample: wave([2, 4, 8, 8], 0, 1),
    timestep: sdxl ? { dims: [1], data: [500], half } : { dims: [2], data: [500, 500], half },
    encoder_hidden_states: wave([2, 77, sdxl ? 40 : 32], 1, 0.5),
  };
  if (sdxl) {
    feeds['text_embeds'] = wave([2, 20], 4, 0.8);
    feeds['time_ids'] = { dims: [2, 6], data: [64, 64, 0, 0, 64, 64, 1024, 1024, 0, 0, 1024, 1024], half };
  }
  return feeds;
}

/** Runs `/files/<file>` once on `provider` in the page; reads the placement log of session creation. */
async function runInPage(
  page: Page,
  file: string,
  provider: string,
  feeds: Record<string, Feed>,
): Promise<RunResult> {
  const lines: string[] = [];
  const listener = (m: { text(): string }) => {
    const t = m.text();
    if (t.includes('VerifyEachNodeIsAssignedToAnEp')) lines.push(t);
  };
  page.on('console', listener);
  try {
    const result = await page.evaluate(
      async ({ url, provider, feeds }) => {
        // biome-ignore lint/suspicious/noExplicitAny: onnxruntime-web's module, put on window in beforeAll
        const ort = (window as unknown as { ortModule: any }).ortModule;
        const toHalf = (v: number): number => {
          const f = new Float32Array([v]);
          const x = new Uint32Array(f.buffer)[0]!;
          const sign = (x >>> 16) & 0x8000;
          const e = ((x >>> 23) & 0xff) - 112;
          const m = x & 0x7fffff;
          if (e <= 0) return sign; // (no subnormal inputs here)
          const h = sign | (e << 10) | (m >> 13);
          return (m & 0x1000) !== 0 ? h + 1 : h;
        };
        const fromHalf = (h: number): number => {
          const e = (h >> 10) & 0x1f;
          const m = h & 0x3ff;
          const s = h & 0x8000 ? -1 : 1;
          return e === 0 ? s * m * 2 ** -24 : e === 31 ? Number.NaN : s * (1 + m / 1024) * 2 ** (e - 15);
        };
        const session = await ort.InferenceSession.create(url, {
          executionProviders: [provider],
          logSeverityLevel: 0, // the placement log ("Node(s) placed on [...]") is verbose
          logVerbosityLevel: 0,
        });
        try {
          const tensors: Record<string, unknown> = {};
          for (const [name, f] of Object.entries(feeds)) {
            tensors[name] = f.half
              ? new ort.Tensor('float16', Uint16Array.from(f.data.map(toHalf)), f.dims)
              : new ort.Tensor('float32', Float32Array.from(f.data), f.dims);
          }
          const out = (await session.run(tensors))[session.outputNames[0]];
          const data = await out.getData();
          // float16 outputs come as Uint16Array bits, or as a Float16Array where the browser has one
          const values =
            data instanceof Uint16Array ? Array.from(data, fromHalf) : Array.from(data as Float32Array);
          return { out: values, dims: Array.from(out.dims as number[]) };
        } finally {
          await session.release();
        }
      },
      { url: `/files/${file}`, provider, feeds },
    );
    const placement: Record<string, string[]> = {};
    let current = '';
    for (const line of lines) {
      const heading = /placed on \[(\w+)\]/.exec(line);
      if (heading) current = heading[1]!;
      const node = /\s{2}MultiHeadAttention \((.+)\)/.exec(line);
      if (node && current) placement[current] = [...(placement[current] ?? []), node[1]!];
    }
    return { ...result, placement };
  } finally {
    page.off('console', listener);
  }
}

function sineData(n: number, phase: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(0.37 * i + phase));
}

/** softmax(q·kᵀ/√hd)·v per head: q [B, S, N·hd], k and v [B, L, N·hd] → [B, S, N·hd]. */
function referenceAttention(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  b: number,
  s: number,
  l: number,
  heads: number,
  hd: number,
): number[] {
  const d = heads * hd;
  const out = new Float64Array(b * s * d);
  for (let bi = 0; bi < b; bi++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < s; i++) {
        const w: number[] = [];
        for (let j = 0; j < l; j++) {
          let dot = 0;
          for (let c = 0; c < hd; c++)
            dot += q[(bi * s + i) * d + h * hd + c]! * k[(bi * l + j) * d + h * hd + c]!;
          w.push(dot / Math.sqrt(hd));
        }
        const m = Math.max(...w);
        const e = w.map((x) => Math.exp(x - m));
        const sum = e.reduce((a, x) => a + x, 0);
        for (let j = 0; j < l; j++)
          for (let c = 0; c < hd; c++)
            out[(bi * s + i) * d + h * hd + c] += (e[j]! / sum) * v[(bi * l + j) * d + h * hd + c]!;
      }
  return Array.from(out);
}

/** max |a − b| / max(1, max |b|). */
function relative(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  let scale = 1;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return Number.isNaN(worst) ? Number.POSITIVE_INFINITY : worst / scale;
}

describe.skipIf(skip)('fused-attention UNets on onnxruntime-web (headless Chromium)', () => {
  let server: StaticServer;
  let browser: { context: BrowserContext; close(): Promise<void> };
  let page: Page;
  let f16 = false;

  beforeAll(async () => {
    const missing = chromiumMissing();
    if (missing) throw new Error(missing);
    server = await startStaticServer({
      '/ort/': join(repoRoot, 'node_modules', 'onnxruntime-web', 'dist'),
      '/page/': join(repoRoot, 'tests', 'browser', 'support'),
      '/files/': join(repoRoot, 'tests', 'fixtures'),
    });
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.on('pageerror', (e) => console.error(`[page] ${e.message}`));
    await page.goto(`${server.origin}/page/ort-compare.html`);
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    // The page's onnxruntime-web module (the same instance ort-compare.html imported), for runInPage.
    await page.addScriptTag({
      type: 'module',
      content: "import * as ort from '/ort/ort.bundle.min.mjs'; window.ortModule = ort;",
    });
    await page.waitForFunction(() => 'ortModule' in window);
    const adapter = (await page.evaluate(() =>
      (window as unknown as { adapterInfo(): Promise<{ f16: boolean } | null> }).adapterInfo(),
    )) as { f16: boolean } | null;
    // Without an adapter the "webgpu" runs would not be WebGPU at all.
    expect(adapter, 'navigator.gpu.requestAdapter() gave no adapter').not.toBeNull();
    f16 = adapter!.f16;
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it.each([
    [SD15, 'unet/model.plain.onnx', 8],
    [SDXL, '../sdxl-tiny/unet/model.onnx', 22],
  ] as const)(
    '%s: every MultiHeadAttention runs on WebGPU, and WebGPU and WebAssembly give the plain twin’s output',
    async (name, plainFile, nodes) => {
      const sdxl = name === SDXL;
      const feeds = unetFeeds(sdxl);
      const plain = await runInPage(page, join('models', name, plainFile), 'wasm', feeds);
      const gpu = await runInPage(page, `models/${name}/unet/model.onnx`, 'webgpu', feeds);
      const wasm = await runInPage(page, `models/${name}/unet/model.onnx`, 'wasm', feeds);
      expect(Object.keys(gpu.placement)).toEqual(['JsExecutionProvider']); // the WebGPU (JSEP) provider
      expect(gpu.placement['JsExecutionProvider']).toHaveLength(nodes);
      expect(plain.placement).toEqual({}); // the twin has none
      expect(gpu.dims).toEqual([2, 4, 8, 8]);
      expect(Math.max(...plain.out.map(Math.abs))).toBeGreaterThan(0.1);
      expect(relative(wasm.out, plain.out)).toBeLessThanOrEqual(TOL);
      expect(relative(gpu.out, plain.out)).toBeLessThanOrEqual(TOL);
    },
    120_000,
  );

  it(`${SD15}: the float16 UNet on WebAssembly is within float16 tolerance of the plain float32 one (WebGPU too where the adapter has shader-f16)`, async () => {
    const plain = await runInPage(page, `models/${SD15}/unet/model.plain.onnx`, 'wasm', unetFeeds(false));
    const half = await runInPage(page, `models/${SD15}/unet/model.fp16.onnx`, 'wasm', unetFeeds(false, true));
    const d = relative(half.out, plain.out);
    expect(d).toBeLessThanOrEqual(TOL_FP16);
    expect(d).toBeGreaterThan(0); // float16 arithmetic, not float32
    if (f16) {
      const gpu = await runInPage(
        page,
        `models/${SD15}/unet/model.fp16.onnx`,
        'webgpu',
        unetFeeds(false, true),
      );
      expect(relative(gpu.out, plain.out)).toBeLessThanOrEqual(TOL_FP16);
    } else {
      // SwiftShader (this machine): no shader-f16, so onnxruntime-web cannot run float16 on WebGPU here.
      expect(f16).toBe(false);
    }
  }, 120_000);

  // Which input layout of the contrib op runs (tests/fixtures/mha-forms, tools/fixtures/make_fused_fixtures.py):
  // separate Q, K, V — what tools/full-size exports — on both providers. The packed layouts that onnxruntime's
  // transformers optimizer writes by default (packed QKV for self-, packed KV for cross-attention) fail on
  // both in onnxruntime-web 1.30 ("not implemented"); these two assertions flip once a release adds them.
  it.each(['wasm', 'webgpu'])(
    'MultiHeadAttention layouts on %s: separate Q/K/V runs (= the reference), packed QKV / KV do not',
    async (provider) => {
      const q = { dims: [2, 16, 8], data: sineData(2 * 16 * 8, 0) };
      const k = { dims: [2, 7, 8], data: sineData(2 * 7 * 8, 1) };
      const v = { dims: [2, 7, 8], data: sineData(2 * 7 * 8, 2) };
      const out = await runInPage(page, 'mha-forms/separate.onnx', provider, { query: q, key: k, value: v });
      expect(out.dims).toEqual([2, 16, 8]);
      expect(
        relative(out.out, referenceAttention(q.data, k.data, v.data, 2, 16, 7, 2, 4)),
      ).toBeLessThanOrEqual(1e-5);
      const packedQkv = { query: { dims: [2, 16, 2, 3, 4], data: sineData(2 * 16 * 24, 0) } };
      await expect(runInPage(page, 'mha-forms/packed_qkv.onnx', provider, packedQkv)).rejects.toThrow(
        /Packed QKV.*not implemented/,
      );
      const packedKv = { query: q, key: { dims: [2, 7, 2, 2, 4], data: sineData(2 * 7 * 16, 1) } };
      await expect(runInPage(page, 'mha-forms/packed_kv.onnx', provider, packedKv)).rejects.toThrow(
        /Packed KV.*not implemented/,
      );
    },
    60_000,
  );
});

describe.skipIf(skip)('the demo page generates with fused-attention models (headless Chromium)', () => {
  let server: StaticServer;
  let browser: { context: BrowserContext; close(): Promise<void> };

  beforeAll(async () => {
    const missing = chromiumMissing();
    if (missing) throw new Error(missing);
    const dist = join(artifactsDir, 'web-dist-fused');
    await buildDemo(dist);
    server = await serveDemo(dist);
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  // Guidance > 1 (a CFG batch of 2): one-row UNet calls on WebGPU hit onnxruntime-web's InstanceNormalization
  // bug with the tiny fixtures' 4 groups (tests/browser/web-demo-sdxl.test.ts), which has nothing to do with attention.
  const settings: DemoSettings = {
    prompt: 'a red circle',
    negativePrompt: 'a dog',
    steps: 2,
    guidance: 5,
    seed: 5,
    previews: false,
  };

  it.each([
    [SD15, 'webgpu', false],
    [SD15, 'wasm', false],
    [SDXL, 'webgpu', true],
  ] as const)(
    '%s on %s: the pixels onnxruntime-node gives with the plain twin (≤ 2/255)',
    async (name, provider, sdxl) => {
      const page = await openDemo(
        browser.context,
        server.origin,
        `model=/models/${name}/&provider=${provider}${provider === 'wasm' ? '&threads=1' : ''}`,
      );
      const loaded = await waitLoaded(page);
      expect(loaded.state, loaded.text).toBe('ready');
      expect(loaded.providers['unet']).toBe(provider);
      await startGenerate(page, settings);
      const out = await finishGenerate(page);
      expect(out.state, out.text).toBe('done');
      expect([out.width, out.height]).toEqual([64, 64]);
      const reference = sdxl
        ? await nodeDemoImage('sdxl-tiny', settings)
        : await nodeDemoImage(name, settings, { unet: 'unet/model.plain.onnx' });
      expect(maxDifference(out.rgba, reference)).toBeLessThanOrEqual(2);
      await page.close();
    },
    180_000,
  );
});
