/**
 * Runs ONNX models in headless Chromium on onnxruntime-web's WebAssembly and WebGPU execution providers
 * with the same inputs and prints, per output, how far WebGPU is from WebAssembly.
 *
 *   npx tsx tools/webgpu-bisect/compare.ts <spec.json>
 *
 * spec.json: { "models": [{ "file": "<path to .onnx>", "inputs": { "<name>": { "dims": [..], "seed": n } |
 *   { "dims": [..], "value": x } }, "levels"?: ["all", "disabled", …], "batches"?: [1, 2] }] }
 * "batches" replaces dims[0] of every input of rank ≥ 1; paths are resolved against the current folder.
 * Only the deepest folder holding every model file is served (on 127.0.0.1, while it runs).
 * WEBGPU_LAYOUT=NCHW|NHWC sets the WebGPU provider's preferredLayout (onnxruntime-web's default: NHWC).
 * Output: one JSON line per model × level × batch × output (see OutputComparison in
 * tests/browser/support/ort-compare.ts), plus the model, level, batch, output name and the milliseconds.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve, sep } from 'node:path';
import {
  type GpuProvider,
  type InputSpec,
  makeFeeds,
  openOrtComparePage,
} from '../../tests/browser/support/ort-compare.js';

interface ModelSpec {
  file: string;
  inputs: Record<string, InputSpec>;
  levels?: string[];
  batches?: number[];
}

const layout = process.env['WEBGPU_LAYOUT'];
const gpu: GpuProvider =
  layout === 'NCHW' || layout === 'NHWC' ? { name: 'webgpu', preferredLayout: layout } : 'webgpu';

/** The deepest folder that contains every one of `files` (absolute paths). */
function commonFolder(files: readonly string[]): string {
  let parts = dirname(files[0] ?? resolve('.')).split(sep);
  for (const file of files.slice(1)) {
    const other = dirname(file).split(sep);
    let n = 0;
    while (n < parts.length && n < other.length && parts[n] === other[n]) n++;
    parts = parts.slice(0, n);
  }
  return parts.join(sep) || sep;
}

async function main(): Promise<void> {
  const specPath = process.argv[2];
  if (!specPath) throw new Error('usage: compare.ts <spec.json>');
  const spec = JSON.parse(readFileSync(specPath, 'utf8')) as { models: ModelSpec[] };
  // Serve only the deepest folder that holds every model of the spec (e.g. /tmp for models written there).
  const page = await openOrtComparePage(commonFolder(spec.models.map((m) => resolve(m.file))));
  try {
    console.error('adapter', JSON.stringify(await page.adapter()));
    for (const m of spec.models) {
      for (const level of m.levels ?? ['all']) {
        for (const batch of m.batches ?? [undefined]) {
          const t0 = Date.now();
          const result = await page.compare(resolve(m.file), makeFeeds(m.inputs, batch), { gpu, level });
          const ms = Date.now() - t0;
          for (const [output, c] of Object.entries(result)) {
            console.log(JSON.stringify({ model: basename(m.file), level, batch, output, ...c, ms }));
          }
        }
      }
    }
  } finally {
    await page.close();
  }
}

await main();
