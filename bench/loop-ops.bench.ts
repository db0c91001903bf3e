/**
 * Times latentkit's own per-step and per-image work outside the models (issue 19 item 6): the noise draw,
 * the classifier-free guidance combine, the float16 conversion of the text embeddings (and the check that
 * lets a generation reuse it), and the decoded image's conversion to RGBA — each at SD sizes, median of
 * 40 runs after 10 warm-up runs. On a busy machine run it several times and compare medians.
 *
 * Run: npx tsx bench/loop-ops.bench.ts
 */
import { loadavg } from 'node:os';
import { applyGuidance, denormalizeImage, TorchGenerator, tensorToRgba } from '@latentkit/core';
import { float32ToFloat16, type SessionFactory } from '@latentkit/onnx';
// internal to @latentkit/onnx (not exported): the UNet's feed of the text embeddings
import { reusedFloatFeed } from '../packages/onnx/src/ort-io.js';

const WARMUP = 10;
const RUNS = 40;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function time(run: () => unknown): number {
  const times: number[] = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const start = performance.now();
    run();
    if (i >= WARMUP) times.push(performance.now() - start);
  }
  return median(times);
}

// Only createTensor is used: it wraps the data as onnxruntime-common tensors do, without a runtime.
const factory = {
  createTensor: (feed: { type: string; data: unknown }, dims: readonly number[]) => ({ ...feed, dims }),
} as unknown as SessionFactory;

const generator = new TorchGenerator(0);
const prediction512 = generator.randn([2, 4, 64, 64]); // one UNet call under guidance at 512²
const prediction1024 = generator.randn([2, 4, 128, 128]); // SDXL at 1024²
const decoded512 = generator.randn([1, 3, 512, 512]).mul(0.6);
const image512 = denormalizeImage(decoded512);
const embeds15 = generator.randn([2, 77, 768]).data; // SD 1.5 under guidance
const embedsXl = generator.randn([2, 77, 2048]).data; // SDXL under guidance
reusedFloatFeed(factory, embeds15, [2, 77, 768], 'float16');
reusedFloatFeed(factory, embedsXl, [2, 77, 2048], 'float16');

const loadBefore = loadavg()[0]!;
const rows: [string, number][] = [
  ['TorchGenerator.randn([2, 4, 128, 128])', time(() => new TorchGenerator(1).randn([2, 4, 128, 128]))],
  ['applyGuidance [2, 4, 64, 64] → [1, 4, 64, 64] (512²)', time(() => applyGuidance(prediction512, 7.5))],
  ['applyGuidance [2, 4, 128, 128] → [1, 4, 128, 128] (1024²)', time(() => applyGuidance(prediction1024, 5))],
  ['denormalizeImage [1, 3, 512, 512]', time(() => denormalizeImage(decoded512))],
  ['tensorToRgba 512²', time(() => tensorToRgba(image512))],
  ['float16 conversion [2, 77, 768]', time(() => float32ToFloat16(embeds15))],
  [
    'reused float16 feed [2, 77, 768] (check only)',
    time(() => reusedFloatFeed(factory, embeds15, [2, 77, 768], 'float16')),
  ],
  ['float16 conversion [2, 77, 2048]', time(() => float32ToFloat16(embedsXl))],
  [
    'reused float16 feed [2, 77, 2048] (check only)',
    time(() => reusedFloatFeed(factory, embedsXl, [2, 77, 2048], 'float16')),
  ],
];
console.log(
  `Median of ${RUNS} after ${WARMUP} warm-up, Node ${process.version}; load average (1 min) ${loadBefore.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after`,
);
const w = Math.max(...rows.map(([name]) => name.length));
console.log(`| ${'operation'.padEnd(w)} | median ms |`);
console.log(`|${'-'.repeat(w + 2)}|----------:|`);
for (const [name, ms] of rows) console.log(`| ${name.padEnd(w)} | ${ms.toFixed(3).padStart(9)} |`);
