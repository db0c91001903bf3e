import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type StaticServer,
  startStaticServer,
} from '../../packages/backend-web/src/test-support/static-server.js';
import { chromiumMissing, chromiumPath, repoRoot } from './support/demo-harness.js';
import { makeFeeds, type PlainTensor } from './support/ort-compare.js';

// onnxruntime-web 1.30's WebGPU options for the UNet (docs/performance.md, "Static shapes and GPU options"),
// on the sd1 fixture's UNet in headless Chromium (SwiftShader: software WebGPU, so the times printed are
// not GPU figures): freeDimensionOverrides (static), GPU-buffer inputs and outputs (gpu-io), and
// enableGraphCapture on top (capture). Each mode runs three different inputs in a row; every output must
// match WebAssembly's — with capture, the second and third runs are replays of the captured commands, so a
// replay that ignored the new input contents would fail here.

const skip = process.env['LATENTKIT_SKIP_BROWSER_TESTS'] === '1';
const UNET = 'tests/fixtures/models/sd1/unet/model.onnx';
const OVERRIDES = { batch: 2, channels: 4, height: 8, width: 8, sequence: 77 };
/** WebGPU vs WebAssembly on this UNet (outputs of magnitude ≤ ~3): measured ≤ 2e-6. */
const TOLERANCE = 1e-4;

interface RunResult {
  ms: number;
  outputs: Record<string, PlainTensor & { location: string }>;
}
interface PipelineWindow {
  pipelineReady?: boolean;
  generateWith(url: string, options: object): Promise<{ data: number[]; providers: Record<string, string> }>;
}
interface CaptureWindow {
  ready?: boolean;
  runUnet(url: string, mode: string, overrides: object, feeds: unknown[]): Promise<RunResult[]>;
  adapterInfo(): Promise<{ description?: string; f16: boolean } | null>;
}

const inputs = [1, 2, 3].map((seed) =>
  makeFeeds({
    sample: { dims: [2, 4, 8, 8], seed },
    timestep: { dims: [2], value: 100 * seed },
    encoder_hidden_states: { dims: [2, 77, 32], seed: seed + 10 },
  }),
);

function maxAbs(a: PlainTensor, b: PlainTensor): number {
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i]! - b.data[i]!));
  return Number.isNaN(m) ? Number.POSITIVE_INFINITY : m;
}

describe.skipIf(skip)(
  'onnxruntime-web WebGPU: static shapes, GPU-buffer I/O, graph capture (headless Chromium)',
  () => {
    let server: StaticServer;
    let context: BrowserContext;
    let page: Page;
    let pipelinePage: Page;
    let profile: string;
    let inputsWasm: PlainTensor[] = [];
    const run = (mode: string, feeds = inputs) =>
      page.evaluate(
        ({ url, mode, overrides, feeds }) =>
          (window as unknown as CaptureWindow).runUnet(url, mode, overrides, feeds),
        { url: `/files/${UNET}`, mode, overrides: OVERRIDES, feeds },
      );

    beforeAll(async () => {
      const missing = chromiumMissing();
      if (missing) throw new Error(missing);
      profile = mkdtempSync(join(tmpdir(), 'latentkit-graph-capture-'));
      // latentkit's web backend and pipeline for the second page, from the sources (root tsconfig paths)
      const { build } = await import('esbuild');
      await build({
        entryPoints: [join(repoRoot, 'tests', 'browser', 'support', 'capture-pipeline.ts')],
        bundle: true,
        format: 'esm',
        platform: 'browser',
        target: 'es2022',
        outfile: join(profile, 'bundle', 'capture-pipeline.js'),
        tsconfig: join(repoRoot, 'tsconfig.json'),
        logLevel: 'warning',
      });
      server = await startStaticServer({
        '/ort/': join(repoRoot, 'node_modules', 'onnxruntime-web', 'dist'),
        '/page/': join(repoRoot, 'tests', 'browser', 'support'),
        '/bundle/': join(profile, 'bundle'),
        '/files/': repoRoot,
      });
      context = await chromium.launchPersistentContext(profile, {
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
          '--enable-unsafe-webgpu',
        ],
      });
      page = await context.newPage();
      page.on('pageerror', (e) => console.error(`[graph-capture page] ${e.message}`));
      await page.goto(`${server.origin}/page/graph-capture.html`);
      await page.waitForFunction(() => (window as unknown as CaptureWindow).ready === true);
      const adapter = await page.evaluate(() => (window as unknown as CaptureWindow).adapterInfo());
      expect(adapter, 'navigator.gpu.requestAdapter() gave no adapter').not.toBeNull();
      pipelinePage = await context.newPage();
      pipelinePage.on('pageerror', (e) => console.error(`[capture-pipeline page] ${e.message}`));
      await pipelinePage.goto(`${server.origin}/page/capture-pipeline.html`);
      await pipelinePage.waitForFunction(() => (window as unknown as PipelineWindow).pipelineReady === true);
    }, 60_000);

    afterAll(async () => {
      await context?.close();
      if (profile) await rm(profile, { recursive: true, force: true });
      await server?.close();
    });

    it("every mode gives WebAssembly's outputs for three different inputs in a row (capture: replays)", async () => {
      const wasm = await run('wasm');
      inputsWasm = wasm.map((r) => r.outputs['out_sample']!);
      const times: Record<string, number[]> = {};
      for (const mode of ['webgpu', 'static', 'gpu-io', 'capture']) {
        const got = await run(mode);
        times[mode] = got.map((r) => r.ms);
        for (let i = 0; i < inputs.length; i++) {
          const out = got[i]!.outputs['out_sample']!;
          expect(out.dims, `${mode} run ${i}`).toEqual([2, 4, 8, 8]);
          expect(out.location, `${mode} output location`).toBe(
            mode === 'gpu-io' || mode === 'capture' ? 'gpu-buffer' : 'cpu',
          );
          expect(maxAbs(out, wasm[i]!.outputs['out_sample']!), `${mode} run ${i}`).toBeLessThanOrEqual(
            TOLERANCE,
          );
        }
      }
      // the three inputs give three different outputs (so a stale replay could not pass)
      const o = wasm.map((r) => r.outputs['out_sample']!);
      expect(maxAbs(o[0]!, o[1]!)).toBeGreaterThan(1e-3);
      expect(maxAbs(o[1]!, o[2]!)).toBeGreaterThan(1e-3);
      console.log(
        `sd1 fixture UNet [2,4,8,8], SOFTWARE WebGPU (SwiftShader), ms per run (1st, 2nd, 3rd; the 1st compiles/captures): ${Object.entries(
          times,
        )
          .map(([m, t]) => `${m} ${t.map((x) => x.toFixed(1)).join(', ')}`)
          .join('; ')}`,
      );
    }, 120_000);

    it("latentkit's webBackend with graphCapture: the UNet on WebGPU, captured, gives the uncaptured pixels", async () => {
      const generate = (options: object) =>
        pipelinePage.evaluate(
          ({ url, options }) => (window as unknown as PipelineWindow).generateWith(url, options),
          { url: '/files/tests/fixtures/models/sd1/', options },
        );
      // The UNet on WebGPU; the text encoder and VAE on WebAssembly (the tiny fixtures' 4-group norms meet
      // onnxruntime-web's InstanceNormalization bug on WebGPU: docs/browser.md, "Known issue").
      const split = {
        providers: ['webgpu'],
        componentProviders: { text_encoder: ['wasm'], vae_decoder: ['wasm'] },
      };
      const staticShapes = { width: 64, height: 64 };
      const wasm = await generate({ providers: ['wasm'] });
      const plain = await generate({ ...split, staticShapes });
      const captured = await generate({ ...split, staticShapes, graphCapture: true });
      expect(captured.providers['unet']).toBe('webgpu');
      expect(captured.data.length).toBe(3 * 64 * 64);
      let vsPlain = 0;
      let vsWasm = 0;
      for (let i = 0; i < captured.data.length; i++) {
        vsPlain = Math.max(vsPlain, Math.abs(captured.data[i]! - plain.data[i]!));
        vsWasm = Math.max(vsWasm, Math.abs(captured.data[i]! - wasm.data[i]!));
      }
      console.log(
        `pipeline, sd1 64², 3 steps: captured vs uncaptured WebGPU ${vsPlain}, vs WebAssembly ${vsWasm}`,
      );
      expect(vsPlain).toBeLessThanOrEqual(1e-6);
      expect(vsWasm).toBeLessThanOrEqual(1e-4);
    }, 180_000);

    it('graph capture with CPU feeds (no GPU-buffer inputs) is refused by onnxruntime-web', async () => {
      const outcome = await run('capture-cpu').then(
        (runs) =>
          `ran: max |diff| vs WebAssembly ${runs.map((r, i) => maxAbs(r.outputs['out_sample']!, inputsWasm[i]!)).join(', ')}`,
        (e: unknown) => `refused: ${String((e as Error).message ?? e).slice(0, 200)}`,
      );
      console.log(`capture with CPU feeds: ${outcome}`);
      expect(outcome).toMatch(/^refused/);
    }, 60_000);
  },
);
