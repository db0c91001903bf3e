import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import {
  type StaticServer,
  startStaticServer,
} from '../../../packages/backend-web/src/test-support/static-server.js';
import { chromiumPath, repoRoot } from './demo-harness.js';

/**
 * Runs single ONNX models in headless Chromium on onnxruntime-web's WebAssembly and WebGPU execution
 * providers (ort-compare.html, onnxruntime-web's default bundle as the demo uses it) and compares their
 * outputs. Used by tests/browser/webgpu-instance-norm.test.ts and tools/webgpu-bisect/compare.ts.
 */

/** One input: `dims` and either a constant `value` or values from `seed` (row r of a batch: seed·1000 + r). */
export interface InputSpec {
  dims: number[];
  seed?: number;
  value?: number;
}

/** A tensor as it crosses into and out of the page. */
export interface PlainTensor {
  dims: number[];
  data: number[];
}

/** The WebGPU provider as onnxruntime-web takes it: its name, or with a `preferredLayout`. */
export type GpuProvider = 'webgpu' | { name: 'webgpu'; preferredLayout: 'NCHW' | 'NHWC' };

/** How one output of a WebGPU run compares with the WebAssembly run. */
export interface OutputComparison {
  dims: number[];
  /** Largest |webgpu − wasm|. */
  maxAbs: number;
  /** Largest |wasm|. */
  maxRef: number;
  /** Flat index of `maxAbs`. */
  at: number;
  /** Flat indices where |webgpu − wasm| > 1e-4·max(1, |wasm|) (first 16). */
  bad: number[];
  /** How many such indices. */
  badCount: number;
}

/** Deterministic uniform values in [-1, 1) (mulberry32). */
export function seededUniform(seed: number, n: number): number[] {
  let a = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out.push((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1);
  }
  return out;
}

/** The feeds of `inputs`, with dims[0] replaced by `batch` (when given) for every input of rank ≥ 1. */
export function makeFeeds(inputs: Record<string, InputSpec>, batch?: number): Record<string, PlainTensor> {
  const feeds: Record<string, PlainTensor> = {};
  for (const [name, s] of Object.entries(inputs)) {
    const dims = batch !== undefined && s.dims.length > 0 ? [batch, ...s.dims.slice(1)] : s.dims;
    const n = dims.reduce((a, b) => a * b, 1);
    let data: number[];
    if (s.value !== undefined) data = new Array<number>(n).fill(s.value);
    else {
      const rows = dims.length > 0 ? dims[0]! : 1;
      data = [];
      for (let r = 0; r < rows; r++) data.push(...seededUniform((s.seed ?? 1) * 1000 + r, n / rows));
    }
    feeds[name] = { dims, data };
  }
  return feeds;
}

/** Compares one output of the WebGPU run (`gpu`) with the WebAssembly run (`ref`). */
export function compareOutputs(ref: PlainTensor, gpu: PlainTensor): OutputComparison {
  let maxAbs = 0;
  let maxRef = 0;
  let at = -1;
  const bad: number[] = [];
  for (let i = 0; i < ref.data.length; i++) {
    const d = Math.abs(ref.data[i]! - gpu.data[i]!);
    if (!(d <= maxAbs)) {
      maxAbs = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
      at = i;
    }
    maxRef = Math.max(maxRef, Math.abs(ref.data[i]!));
    if (!(d <= 1e-4 * Math.max(1, Math.abs(ref.data[i]!)))) bad.push(i);
  }
  return { dims: ref.dims, maxAbs, maxRef, at, bad: bad.slice(0, 16), badCount: bad.length };
}

/** What ort-compare.html puts on `window`. */
interface CompareWindow {
  ready?: boolean;
  runModel(
    url: string,
    provider: unknown,
    feeds: unknown,
    level: string,
  ): Promise<Record<string, PlainTensor>>;
  adapterInfo(): Promise<unknown>;
}

/** A Chromium page with onnxruntime-web loaded; model files are served from the folder given to {@link openOrtComparePage}. */
export interface OrtComparePage {
  /** The WebGPU adapter the page got (SwiftShader here). */
  adapter(): Promise<unknown>;
  /** Runs the model at `file` (a path under the served folder) on `provider`; every output. */
  run(
    file: string,
    provider: 'wasm' | GpuProvider,
    feeds: Record<string, PlainTensor>,
    level?: string,
  ): Promise<Record<string, PlainTensor>>;
  /** Runs `file` on WebAssembly and on `gpu`; the comparison per output. */
  compare(
    file: string,
    feeds: Record<string, PlainTensor>,
    options?: { gpu?: GpuProvider; level?: string },
  ): Promise<Record<string, OutputComparison>>;
  close(): Promise<void>;
}

/**
 * Starts a static server (onnxruntime-web's dist, this page, and `modelsRoot` — default the repository —
 * for the model files) and Chromium (WebGPU on: SwiftShader here), and opens ort-compare.html.
 */
export async function openOrtComparePage(modelsRoot: string = repoRoot): Promise<OrtComparePage> {
  const root = resolve(modelsRoot);
  const server: StaticServer = await startStaticServer({
    '/ort/': join(repoRoot, 'node_modules', 'onnxruntime-web', 'dist'),
    '/page/': join(repoRoot, 'tests', 'browser', 'support'),
    '/files/': root,
  });
  const profile = mkdtempSync(join(tmpdir(), 'latentkit-ort-compare-'));
  let context: BrowserContext | undefined;
  try {
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
    const page: Page = await context.newPage();
    page.on('pageerror', (e) => console.error(`[ort-compare page] ${e.message}`));
    await page.goto(`${server.origin}/page/ort-compare.html`);
    await page.waitForFunction(() => (window as unknown as CompareWindow).ready === true);
    const run: OrtComparePage['run'] = (file, provider, feeds, level = 'all') => {
      const rel = relative(root, resolve(file));
      if (rel.startsWith('..')) throw new Error(`${file} is not under the served folder ${root}`);
      return page.evaluate(
        ({ url, provider, feeds, level }) =>
          (window as unknown as CompareWindow).runModel(url, provider, feeds, level),
        { url: `/files/${rel.split('\\').join('/')}`, provider, feeds, level },
      );
    };
    const openContext = context;
    return {
      adapter: () => page.evaluate(() => (window as unknown as CompareWindow).adapterInfo()),
      run,
      async compare(file, feeds, options = {}) {
        const wasm = await run(file, 'wasm', feeds, options.level);
        const gpu = await run(file, options.gpu ?? 'webgpu', feeds, options.level);
        const out: Record<string, OutputComparison> = {};
        for (const name of Object.keys(wasm)) out[name] = compareOutputs(wasm[name]!, gpu[name]!);
        return out;
      },
      async close() {
        await openContext.close();
        await rm(profile, { recursive: true, force: true });
        await server.close();
      },
    };
  } catch (error) {
    await context?.close();
    await rm(profile, { recursive: true, force: true });
    await server.close();
    throw error;
  }
}
