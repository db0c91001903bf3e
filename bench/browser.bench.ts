/**
 * Generation time of one model on Node CPU (onnxruntime-node) and in headless Chromium (the demo page,
 * examples/web, in its Web Worker): WebAssembly on 1 and 2 threads, and WebGPU (on machines without a
 * GPU, Chromium's SwiftShader adapter — software, for checking the WebGPU path, not its speed).
 *
 *   npx tsx bench/browser.bench.ts [--model DIR] [--steps 20] [--guidance 7.5] [--runs 3]
 *                                  [--webgpu-runs 1] [--webgpu-steps N] [--skip-webgpu]
 *
 * Default model: the shipped one (packages/model-shapes/model), else the sd1 test fixture. Each
 * configuration loads the model, generates once to warm up, then times `runs` generations (text encoder +
 * denoising loop + VAE decode; no previews) and prints the median, min and max. Needs Chromium (see
 * docs/browser.md).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { nodeBackend } from '@latentkit/backend-node';
import { StableDiffusionPipeline } from '@latentkit/core';
import { startStaticServer } from '../packages/backend-web/src/test-support/static-server.js';
import {
  artifactsDir,
  buildDemo,
  chromiumMissing,
  finishGenerate,
  fixtureModels,
  launchChromium,
  openDemo,
  shapesModelDir,
  startGenerate,
  waitLoaded,
} from '../tests/browser/support/demo-harness.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    steps: { type: 'string', default: '20' },
    guidance: { type: 'string', default: '7.5' },
    runs: { type: 'string', default: '3' },
    'webgpu-runs': { type: 'string', default: '1' },
    'webgpu-steps': { type: 'string' },
    'skip-webgpu': { type: 'boolean', default: false },
  },
});

const modelDir = resolve(
  values.model ??
    (existsSync(join(shapesModelDir, 'model_index.json')) ? shapesModelDir : join(fixtureModels, 'sd1')),
);
const steps = Number(values.steps);
const guidance = Number(values.guidance);
const runs = Number(values.runs);
const settings = {
  prompt: 'a red circle on a blue background',
  negativePrompt: '',
  guidance,
  seed: 42,
  previews: false,
};

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const median = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return `median ${median.toFixed(0)} ms (min ${s[0]!.toFixed(0)}, max ${s.at(-1)!.toFixed(0)}, n=${s.length})`;
}

console.log(`model ${modelDir}, ${steps} steps, guidance ${guidance}, seed 42, default size and scheduler`);

// Node CPU
{
  const pipe = await StableDiffusionPipeline.fromPretrained(modelDir, { backend: nodeBackend });
  const options = {
    prompt: settings.prompt,
    negativePrompt: settings.negativePrompt,
    numInferenceSteps: steps,
    guidanceScale: guidance,
    seed: 42,
  };
  await pipe.generate(options);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await pipe.generate(options);
    times.push(performance.now() - t0);
  }
  await pipe.dispose();
  console.log(`node cpu (onnxruntime-node):      ${stats(times)}`);
}

const missing = chromiumMissing();
if (missing) {
  console.log(`browser: skipped — ${missing}`);
  process.exit(0);
}
const dist = join(artifactsDir, 'web-dist');
await buildDemo(dist);
const server = await startStaticServer({ '/': dist, '/models/bench/': modelDir });
const browser = await launchChromium();
const configs = [
  { name: 'chromium wasm, 1 thread:         ', query: 'provider=wasm&threads=1', n: runs, steps },
  { name: 'chromium wasm, 2 threads:        ', query: 'provider=wasm&threads=2', n: runs, steps },
  ...(values['skip-webgpu']
    ? []
    : [
        {
          name: 'chromium webgpu:                 ',
          query: 'provider=webgpu',
          n: Number(values['webgpu-runs']),
          steps: Number(values['webgpu-steps'] ?? steps),
        },
      ]),
];
try {
  for (const c of configs) {
    const page = await openDemo(browser.context, server.origin, `model=/models/bench/&${c.query}`);
    const loaded = await waitLoaded(page, 600_000);
    if (loaded.state !== 'ready') throw new Error(`${c.name.trim()} ${loaded.text}`);
    const times: number[] = [];
    for (let i = 0; i <= c.n; i++) {
      await startGenerate(page, { ...settings, steps: c.steps });
      const out = await finishGenerate(page, 3_600_000);
      if (out.state !== 'done') throw new Error(`${c.name.trim()} ${out.text}`);
      if (i > 0 || c.n === 0) times.push(out.ms);
    }
    const on = [...new Set(Object.values(loaded.providers))].join('+');
    console.log(`${c.name}${stats(times)}  [${on}, ${loaded.threads} thread(s), ${c.steps} steps]`);
    await page.close();
  }
} finally {
  await browser.close();
  await server.close();
}
