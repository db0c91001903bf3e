/**
 * Event-loop benchmark (issue 19 item 1): how long the calling thread's event loop is blocked during a
 * generation, with onnxruntime on the calling thread (`sessionThread: 'main'`) and in a worker thread
 * (`sessionThread: 'worker'`), and the generation's wall time both ways.
 *
 *   npx tsx bench/event-loop.bench.ts [--model DIR] [--size 256] [--steps 4] [--runs 3] [--threads N]
 *        [--load-each] [--memory balanced|low|arena]
 *
 * Both pipelines are loaded once (with --load-each, for models too big to hold twice: each run loads its
 * pipeline, generates and disposes it, no warm-up); the runs alternate main, worker, main, worker, … so
 * that load on a shared machine hits both alike; the table shows medians (min–max). "Longest stall" is the maximum of
 * `perf_hooks.monitorEventLoopDelay` (1 ms resolution) over one `generate()`: the longest time a timer,
 * an I/O callback, a progress message or an `AbortSignal` listener waited. Speed is measured here, never
 * in tests.
 */
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  CPU_MEMORY_MODES,
  type CpuMemoryMode,
  nodeBackend,
  type SessionThread,
} from '@latentkit/backend-node';
import { StableDiffusionPipeline } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';

const USAGE = `Event-loop benchmark: the longest event-loop stall during a generation, in-thread vs worker.

Usage: npx tsx bench/event-loop.bench.ts [options]

Options:
  --model DIR    diffusers ONNX model folder (default: the shipped shapes model)
  --size PX      width and height (default 256)
  --steps N      denoising steps (default 4)
  --runs N       runs per thread mode, interleaved (default 3)
  --threads N    onnxruntime intra-op threads (default: onnxruntime's)
  --load-each    load the pipeline for each run and dispose it after (one model in memory at a time:
                 for full-size models); no warm-up run
  --memory MODE  cpuMemory: arena (default), balanced or low
  --only T       run only sessionThread T (main or worker)
  --trace        print every stall over 40 ms with when it happened (ms from the start of generate(), and
                 the step that had started), to find what blocks
  -h, --help     print this help
`;

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`--${name} ${JSON.stringify(value)}: expected an integer ≥ 1.\n\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    size: { type: 'string' },
    steps: { type: 'string' },
    runs: { type: 'string' },
    threads: { type: 'string' },
    'load-each': { type: 'boolean' },
    trace: { type: 'boolean' },
    only: { type: 'string' },
    memory: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const model = values.model ?? shapesModelPath;
const size = positiveInt('size', values.size, 256);
const steps = positiveInt('steps', values.steps, 4);
const runs = positiveInt('runs', values.runs, 3);
const threads = values.threads === undefined ? undefined : positiveInt('threads', values.threads, 1);
const loadEach = values['load-each'] === true;
if (values.only !== undefined && values.only !== 'main' && values.only !== 'worker') {
  process.stderr.write(`--only ${JSON.stringify(values.only)}: expected main or worker.\n\n${USAGE}`);
  process.exit(2);
}
const modes: SessionThread[] = values.only ? [values.only as SessionThread] : ['main', 'worker'];
if (values.memory !== undefined && !CPU_MEMORY_MODES.includes(values.memory as CpuMemoryMode)) {
  process.stderr.write(
    `--memory ${JSON.stringify(values.memory)}: expected one of ${CPU_MEMORY_MODES.join(', ')}.\n\n${USAGE}`,
  );
  process.exit(2);
}
const memory = values.memory as CpuMemoryMode | undefined;

interface Sample {
  stallMs: number;
  wallMs: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (xs: number[], digits = 0) =>
  `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;

async function load(sessionThread: SessionThread): Promise<StableDiffusionPipeline> {
  return StableDiffusionPipeline.fromPretrained(model, {
    backend: nodeBackend,
    sessionThread,
    ...(threads !== undefined ? { intraOpNumThreads: threads } : {}),
    ...(memory !== undefined ? { cpuMemory: memory } : {}),
  });
}

async function once(pipe: StableDiffusionPipeline, seed: number): Promise<Sample> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  // a timer keeps the loop turning, so a blocked stretch shows as one long delay
  const t0 = performance.now();
  let last = t0;
  let step = 0;
  const keepAlive = setInterval(() => {
    const now = performance.now();
    if (values.trace && now - last > 40)
      process.stderr.write(
        `  stall ${(now - last).toFixed(1)} ms at ${(last - t0).toFixed(0)}–${(now - t0).toFixed(0)} ms (after step ${step} of ${steps})\n`,
      );
    last = now;
  }, 1);
  histogram.enable();
  await pipe.generate({
    prompt: 'a red circle on a blue background',
    onStep: () => {
      step++;
    },
    seed,
    numInferenceSteps: steps,
    width: size,
    height: size,
  });
  const wallMs = performance.now() - t0;
  histogram.disable();
  clearInterval(keepAlive);
  return { stallMs: histogram.max / 1e6, wallMs };
}

const samples: Record<SessionThread, Sample[]> = { main: [], worker: [] };
if (loadEach) {
  for (let r = 0; r < runs; r++) {
    for (const mode of modes) {
      const pipe = await load(mode);
      samples[mode].push(await once(pipe, r + 1));
      await pipe.dispose();
      process.stderr.write(
        `run ${r + 1}/${runs} ${mode}: stall ${samples[mode].at(-1)!.stallMs.toFixed(1)} ms\n`,
      );
    }
  }
} else {
  const pipes = { main: await load('main'), worker: await load('worker') };
  // one warm-up each (first-call allocations)
  await once(pipes.main, 0);
  await once(pipes.worker, 0);
  for (let r = 0; r < runs; r++) {
    for (const mode of ['main', 'worker'] as const) samples[mode].push(await once(pipes[mode], r + 1));
  }
  await pipes.main.dispose();
  await pipes.worker.dispose();
}

process.stdout.write(
  `model ${model}, ${size}×${size}, ${steps} steps, ${runs} runs each (interleaved${loadEach ? ', loaded per run' : ''}), cpuMemory ${memory ?? 'arena (default)'}, load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}, medians (min–max)\n\n` +
    '| sessionThread | longest event-loop stall (ms) | generation wall time (ms) |\n|---|---|---|\n',
);
for (const mode of modes) {
  const s = samples[mode];
  process.stdout.write(
    `| ${mode} | ${fmt(
      s.map((x) => x.stallMs),
      1,
    )} | ${fmt(s.map((x) => x.wallMs))} |\n`,
  );
}
if (modes.length === 2) {
  const ratio = median(samples.worker.map((x) => x.wallMs)) / median(samples.main.map((x) => x.wallMs));
  process.stdout.write(`\nworker / main wall time: ${ratio.toFixed(3)}\n`);
}
