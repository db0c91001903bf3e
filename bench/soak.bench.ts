/**
 * Soak and concurrency benchmark (issue 14): one pipeline, many generations.
 *
 *   npm run bench:soak -- [--generations 500] [--warmup 50] [--steps 20] [--concurrency 8]
 *
 * 1. Soak: `--generations` calls, one after another, on one pipeline with the shipped model (seed i for
 *    call i). RSS and V8 heap are sampled every 25 calls; growth is measured from the end of the warm-up
 *    (the first `--warmup` calls, while onnxruntime's arenas and V8's heap settle) to the end.
 * 2. Concurrency: `--concurrency` calls at once on one pipeline, with mixed schedulers, step counts and
 *    sizes, each compared byte for byte with the same call run alone; then wall time of the batch run
 *    concurrently against the same calls run one after another (interleaved, median of 3).
 * Speed and memory are measured here, never in tests.
 */
import { parseArgs } from 'node:util';
import { nodeBackend } from '@latentkit/backend-node';
import { type RgbaImage, StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelDefaults, shapesModelPath } from '@latentkit/model-shapes';
import { createScheduler } from '@latentkit/schedulers';

const HELP = `usage: npm run bench:soak -- [options]

  --generations N   sequential generations of the soak (default 500)
  --warmup N        calls before growth is measured from (default 50)
  --steps N         inference steps per soak call (default 20)
  --concurrency N   concurrent calls in the concurrency check (default 8)
  -h, --help        this text
`;

const { values } = parseArgs({
  options: {
    generations: { type: 'string', default: '500' },
    warmup: { type: 'string', default: '50' },
    steps: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '8' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
function positiveInteger(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) {
    process.stderr.write(`--${name} ${text} is invalid: expected a positive integer.\n\n${HELP}`);
    process.exit(2);
  }
  return n;
}
const generations = positiveInteger('generations', values.generations);
const warmup = Math.min(positiveInteger('warmup', values.warmup), generations - 1);
const steps = positiveInteger('steps', values.steps);
const concurrency = positiveInteger('concurrency', values.concurrency);

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
const prompt = 'a red circle on a blue background';
const guidanceScale = shapesModelDefaults.guidanceScale;

// 1. Soak.
process.stdout.write(`soak: ${generations} generations, DDIM ${steps} steps, guidance ${guidanceScale}\n`);
process.stdout.write('calls  rss MB  heapUsed MB  ms/call (median of the last 25)\n');
const samples: { calls: number; rss: number; heap: number }[] = [];
let window: number[] = [];
for (let i = 1; i <= generations; i++) {
  const t0 = performance.now();
  await pipe.generate({ prompt, numInferenceSteps: steps, guidanceScale, seed: i });
  window.push(performance.now() - t0);
  if (i % 25 === 0 || i === warmup || i === generations) {
    const { rss, heapUsed } = process.memoryUsage();
    samples.push({ calls: i, rss, heap: heapUsed });
    process.stdout.write(
      `${String(i).padStart(5)}  ${mb(rss).padStart(6)}  ${mb(heapUsed).padStart(11)}  ${median(window).toFixed(1)}\n`,
    );
    window = [];
  }
}
const atWarmup = samples.find((s) => s.calls === warmup)!;
const atEnd = samples.at(-1)!;
const growth = (atEnd.rss - atWarmup.rss) / atWarmup.rss;
process.stdout.write(
  `RSS after warm-up (${warmup} calls): ${mb(atWarmup.rss)} MB; after ${generations}: ${mb(atEnd.rss)} MB; ` +
    `growth ${(growth * 100).toFixed(2)} % (target < 5 %)\n\n`,
);

// 2. Concurrency.
const schedulerNames = ['DDIM', 'Euler a', 'DPM++ 2M Karras', 'PLMS', 'UniPC'];
const sizes = [32, 40, 48];
const calls = Array.from({ length: concurrency }, (_, k) => ({
  scheduler: schedulerNames[k % schedulerNames.length]!,
  steps: 5 + (k % 8),
  size: sizes[k % sizes.length]!,
  seed: 100 + k,
}));
type Call = (typeof calls)[number];
const schedulers = new Map(schedulerNames.map((n) => [n, createScheduler(n, pipe.scheduler.config)]));
/** Starts one call on the shared pipeline: its scheduler is swapped in just before (generate() takes it then). */
function start(call: Call): Promise<RgbaImage> {
  pipe.scheduler = schedulers.get(call.scheduler)!;
  return pipe
    .generate({
      prompt,
      numInferenceSteps: call.steps,
      guidanceScale,
      width: call.size,
      height: call.size,
      seed: call.seed,
    })
    .then(({ images }) => images[0]!);
}
const alone: RgbaImage[] = [];
for (const call of calls) alone.push(await start(call));
const together = await Promise.all(calls.map(start));
let identical = 0;
for (let k = 0; k < calls.length; k++) {
  const a = alone[k]!.data;
  const b = together[k]!.data;
  if (a.length === b.length && a.every((v, j) => v === b[j])) identical++;
  else process.stdout.write(`call ${k} (${JSON.stringify(calls[k])}) differs from the same call alone\n`);
}
process.stdout.write(
  `concurrency: ${calls.length} calls at once (${schedulerNames.join(', ')}; 5–12 steps; ${sizes.join('/')} px): ` +
    `${identical}/${calls.length} bit-identical to each call run alone\n`,
);
const sequentialMs: number[] = [];
const concurrentMs: number[] = [];
for (let r = 0; r < 3; r++) {
  let t0 = performance.now();
  for (const call of calls) await start(call);
  sequentialMs.push(performance.now() - t0);
  t0 = performance.now();
  await Promise.all(calls.map(start));
  concurrentMs.push(performance.now() - t0);
}
process.stdout.write(
  `wall time for the ${calls.length} calls (median of 3, interleaved): one after another ` +
    `${median(sequentialMs).toFixed(0)} ms, concurrently ${median(concurrentMs).toFixed(0)} ms ` +
    `(ratio ${(median(concurrentMs) / median(sequentialMs)).toFixed(2)})\n`,
);
await pipe.dispose();
if (growth >= 0.05 || identical !== calls.length) process.exitCode = 1;
