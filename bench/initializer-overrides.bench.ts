/**
 * Initializer overrides benchmark (issue 17): what re-creating a component's session with patched weights
 * costs — the mechanism under LoRA and textual inversion (docs/lora-and-embeddings.md, "How weights are
 * patched") — against loading the same component by path.
 *
 *   npx tsx bench/initializer-overrides.bench.ts [--model DIR] [--component unet] [--runs 3]
 *
 * For the component's `model.onnx` in DIR (default: the shipped shapes model) it measures, each `--runs`
 * times: creating the session by path (the plain load), patching every float weight with ≥ 2 dims (as a
 * LoRA touching every layer would, values × 1.0001) with `readPatchedModel` alone, and the whole
 * `setInitializerOverrides` (patch + session + swap). It prints medians and the process's peak resident
 * memory (VmHWM) before and after, so the copy of the model bytes shows. Speed and memory are measured
 * here, never in tests.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FileModelSource, NodeSessionFactory } from '@latentkit/backend-node';
import { shapesModelPath } from '@latentkit/model-shapes';
import {
  type InitializerOverride,
  OnnxTextEncoder,
  readOnnxGraph,
  readOnnxWeights,
  readPatchedModel,
  type SessionRequest,
  UnetDenoiser,
} from '@latentkit/onnx';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: shapesModelPath },
    component: { type: 'string', default: 'unet' },
    runs: { type: 'string', default: '3' },
  },
});
const runs = Number(args.runs);

function peakMiB(): number {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM:'));
  return line ? Number(line.split(/\s+/)[1]) / 1024 : Number.NaN;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

const source = new FileModelSource(args.model!);
const modelPath = `${args.component}/model.onnx`;
const request: SessionRequest = { component: args.component!, modelPath, source };
const bytes = await source.readBytes(modelPath);
const graph = readOnnxGraph(bytes, modelPath);
const names = new Set(
  [...graph.initializers.values()]
    .filter((i) => i.dims.length >= 2 && (i.dataType === 1 || i.dataType === 10))
    .map((i) => i.name),
);
const weights = await readOnnxWeights(source, modelPath, (n) => names.has(n));
const overrides = new Map<string, InitializerOverride>(
  weights.map((w) => [w.name, { dims: w.dims, data: w.data.map((v) => v * 1.0001) }]),
);
const overriddenMiB = weights.reduce((a, w) => a + w.data.length * 4, 0) / 2 ** 20;
console.log(
  `${modelPath} in ${args.model}: ${(bytes.length / 2 ** 20).toFixed(1)} MiB (.onnx), ${weights.length} weights overridden (${overriddenMiB.toFixed(1)} MiB as float32)`,
);

const factory = new NodeSessionFactory();
const byPath: number[] = [];
const patch: number[] = [];
const swap: number[] = [];
const peakBefore = peakMiB();
const first = await factory.create(request);
const component =
  args.component === 'unet'
    ? new UnetDenoiser(first, factory, { request })
    : new OnnxTextEncoder(first, factory, { request });
for (let i = 0; i < runs; i++) {
  byPath.push(await timed(async () => (await factory.create(request)).release()));
  patch.push(await timed(() => readPatchedModel({ ...request, overrides })));
  swap.push(await timed(() => component.setInitializerOverrides(i % 2 ? undefined : overrides)));
}
await component.release();
await factory.releaseAll();
console.log(`create by path:            ${median(byPath).toFixed(0)} ms`);
console.log(`readPatchedModel (patch):  ${median(patch).toFixed(0)} ms`);
console.log(
  `setInitializerOverrides:   ${median(swap).toFixed(0)} ms (patch + session + swap; every other run back to the file)`,
);
console.log(`peak RSS: ${peakBefore.toFixed(0)} MiB before, ${peakMiB().toFixed(0)} MiB after`);
