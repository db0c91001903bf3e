/**
 * Times one `step` of every registered scheduler on a [2, 4, 128, 128] latent (SD 1.x at 1024², or a
 * CFG batch of two at 1024²): median of 60 timed steps after 10 warm-up steps. Target ≤ 1 ms. Also times
 * `TorchGenerator.randn` of that shape (the noise every stochastic step draws; on its WebAssembly path and
 * on its JavaScript path), and prints the load
 * average: on a busy machine run it several times and compare medians.
 *
 * Run: npx tsx bench/schedulers.bench.ts
 */
import { loadavg } from 'node:os';
import { type Generator, type Tensor, TorchGenerator } from '@latentkit/core';
import { a1111Schedulers, createScheduler, schedulerClasses } from '@latentkit/schedulers';
// internal to @latentkit/core (not exported): switches randn between its WebAssembly and JavaScript paths
import { randnWasmKernel, setRandnWasmEnabled } from '../packages/core/src/random/randn-wasm.js';
// internal to @latentkit/schedulers: switches the WebAssembly step kernels (PNDM, LMS, UniPC, DPM x₀) off
import { setStepWasmEnabled } from '../packages/schedulers/src/shared/step-wasm.js';

const SHAPE = [2, 4, 128, 128] as const;
const WARMUP = 10;
const RUNS = 60;

// Stable Diffusion 1.5's scheduler config, as a model folder would give it.
const SD15 = {
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  clip_sample: false,
};

const generator = new TorchGenerator(0);
const sample = generator.randn(SHAPE);
const modelOutput = generator.randn(SHAPE);

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** A generator that hands out one pre-drawn tensor: isolates the step's own arithmetic from noise drawing. */
const preDrawn = generator.randn(SHAPE);
const cachedNoise: Generator = { randn: () => preDrawn, rand: () => preDrawn };

/**
 * Times `step` for one scheduler: a fresh schedule per batch of steps, stepping through it in order.
 * `noise` is a real TorchGenerator (the step includes drawing 131072 normals where the scheduler is
 * stochastic) or the pre-drawn stand-in.
 */
function timeStep(className: string, noise: Generator): number {
  const steps = 30;
  const scheduler = createScheduler(className, SD15);
  const times: number[] = [];
  let i = 0;
  let x: Tensor = sample;
  while (times.length < RUNS) {
    scheduler.setTimesteps(steps);
    x = sample;
    for (const t of scheduler.timesteps) {
      const input = scheduler.scaleModelInput(x, t);
      void input;
      const start = performance.now();
      const out = scheduler.step(modelOutput, t, x, { generator: noise });
      const ms = performance.now() - start;
      x = out.prevSample;
      if (i++ >= WARMUP) times.push(ms);
      if (times.length >= RUNS) break;
    }
  }
  return median(times);
}

/** Median time of `randn(SHAPE)` on one generator (state carried across calls, as in a denoising loop). */
function timeRandn(): number {
  const g = new TorchGenerator(42);
  const times: number[] = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const start = performance.now();
    g.randn(SHAPE);
    if (i >= WARMUP) times.push(performance.now() - start);
  }
  return median(times);
}

const loadBefore = loadavg()[0]!;
const randnMs = timeRandn();
setRandnWasmEnabled(false);
const randnJsMs = timeRandn();
setRandnWasmEnabled(true);
const randnPath = randnWasmKernel() !== null ? 'WebAssembly' : 'JavaScript (no WebAssembly SIMD here)';
const rows: { className: string; a1111: string; ms: number; mathMs: number; jsMathMs: number }[] = [];
for (const className of Object.keys(schedulerClasses)) {
  const a1111 = Object.entries(a1111Schedulers)
    .filter(([, v]) => v.className === className)
    .map(([name]) => name)
    .join(', ');
  try {
    const ms = timeStep(className, new TorchGenerator(1));
    const mathMs = timeStep(className, cachedNoise);
    setStepWasmEnabled(false);
    const jsMathMs = timeStep(className, cachedNoise);
    setStepWasmEnabled(true);
    rows.push({ className, a1111: a1111 || '—', ms, mathMs, jsMathMs });
  } catch (err) {
    console.error(`${className}: step failed: ${(err as Error).message}`);
    rows.push({ className, a1111: a1111 || '—', ms: Number.NaN, mathMs: Number.NaN, jsMathMs: Number.NaN });
  }
}

const w1 = Math.max(...rows.map((r) => r.className.length), 'class'.length);
const w2 = Math.max(...rows.map((r) => r.a1111.length), 'A1111 name(s)'.length);
console.log(
  `One step on [${SHAPE.join(', ')}] (${SHAPE.reduce((a, b) => a * b, 1)} floats), median of ${RUNS} after ${WARMUP} warm-up, Node ${process.version}`,
);
console.log(
  'median ms: the whole step; step math: the same with noise pre-drawn (stochastic steps draw 131072 normals); JS loops: step math with the WebAssembly step kernels off',
);
console.log(
  `TorchGenerator.randn([${SHAPE.join(', ')}]): ${randnMs.toFixed(3)} ms median (${randnPath}; its JavaScript path ${randnJsMs.toFixed(3)} ms); load average (1 min) ${loadBefore.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after`,
);
console.log(
  `| ${'class'.padEnd(w1)} | ${'A1111 name(s)'.padEnd(w2)} | median ms | step math ms | JS loops ms |`,
);
console.log(`|${'-'.repeat(w1 + 2)}|${'-'.repeat(w2 + 2)}|----------:|-------------:|------------:|`);
for (const r of rows) {
  console.log(
    `| ${r.className.padEnd(w1)} | ${r.a1111.padEnd(w2)} | ${r.ms.toFixed(3).padStart(9)} | ${r.mathMs.toFixed(3).padStart(12)} | ${r.jsMathMs.toFixed(3).padStart(11)} |`,
  );
}
