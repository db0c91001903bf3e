/**
 * Pipeline benchmark (issue 4 item 5): where the time of one generation goes.
 *
 *   npm run bench -- --model DIR [--size 512] [--steps 20] [--runs 3] [--guidance 7.5] [--provider cpu]
 *                    [--threads N] [--memory balanced|low|arena] [--components LIST]
 *
 * Each run loads the model, generates one image and releases it; the table shows medians (and min/max)
 * over the runs. Every `session.run` is timed through a wrapping SessionFactory, so
 * overhead = wall − Σ session.run is what latentkit itself costs (tokenizer, tensor ops, scheduler, image
 * conversion) as a share of the generation's wall time. Peak RSS is the process's maxRSS at the end,
 * shown beside the bytes of the ONNX files loaded (weights included). An SDXL folder (model_index.json
 * naming an SDXL pipeline, or text_encoder_2/) runs with StableDiffusionXLPipeline (guidance 5 unless
 * --guidance says otherwise: diffusers' default), its two text encoders timed together.
 * Speed is measured here, never in tests.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CPU_MEMORY_MODES,
  type CpuMemoryMode,
  type ExecutionProviderName,
  FileModelSource,
  NodeSessionFactory,
  parseExecutionProviders,
} from '@latentkit/backend-node';
import {
  type LoadedPipelineParts,
  type PipelineBase,
  SDXL_DEFAULTS,
  StableDiffusionPipeline,
  StableDiffusionXLPipeline,
} from '@latentkit/core';
import {
  loadOnnxPipeline,
  type OnnxComponentName,
  type OrtFeedData,
  type SessionFactory,
  type SessionRequest,
} from '@latentkit/onnx';
import type { InferenceSession } from 'onnxruntime-node';

const USAGE = `Pipeline benchmark: where the time of one generation goes (medians over the runs).

Usage: npm run bench -- --model DIR [options]

Options:
  --model DIR        diffusers ONNX model folder to benchmark (required)
  --size PX          width and height in pixels (default 512)
  --steps N          denoising steps (default 20)
  --runs N           runs, each loads the model, generates one image and releases it (default 3; fewer
                     only for models too big to load three times: the table then has no spread)
  --guidance G       classifier-free guidance scale (default 7.5; 5 for SDXL, as diffusers)
  --provider LIST    execution providers in order of preference, e.g. cuda,cpu (default cpu)
  --threads N        onnxruntime intra-op threads (default: onnxruntime's)
  --memory MODE      the CPU provider's memory use (cpuMemory): arena (default,
                     onnxruntime's defaults), balanced or low; docs/performance.md "Memory"
  --components LIST  components to load, e.g. text_encoder,unet,vae_decoder (txt2img without the VAE
                     encoder, as the CLI loads); default: every component the folder has
  --prompt TEXT      the prompt (default "a red circle on a blue background")
  -h, --help         print this help

Example: npm run bench -- --model packages/model-shapes/model --size 32 --steps 50
         npm run bench -- --model /tmp/sdxl-random --size 1024 --steps 2 --runs 1
`;

function usageError(message: string): never {
  process.stderr.write(`bench: ${message}\n\n${USAGE}`);
  process.exit(2);
}

let values: {
  model?: string;
  size: string;
  steps: string;
  runs: string;
  guidance?: string;
  provider: string;
  threads?: string;
  memory?: string;
  components?: string;
  prompt: string;
  help?: boolean;
};
try {
  ({ values } = parseArgs({
    options: {
      model: { type: 'string' },
      size: { type: 'string', default: '512' },
      steps: { type: 'string', default: '20' },
      runs: { type: 'string', default: '3' },
      guidance: { type: 'string' },
      provider: { type: 'string', default: 'cpu' },
      threads: { type: 'string' },
      memory: { type: 'string' },
      components: { type: 'string' },
      prompt: { type: 'string', default: 'a red circle on a blue background' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (error) {
  usageError((error as Error).message);
}
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (!values.model) usageError('--model DIR is required.');
for (const key of ['size', 'steps', 'runs', 'guidance', 'threads'] as const) {
  const raw = values[key];
  if (raw !== undefined && !Number.isFinite(Number(raw)))
    usageError(`--${key} ${JSON.stringify(raw)} is not a number.`);
}
const size = Number(values.size);
const steps = Number(values.steps);
const runs = Math.max(1, Math.floor(Number(values.runs)));
const guidanceFlag = values.guidance === undefined ? undefined : Number(values.guidance);
/** The guidance the runs used (set by the first run: it depends on whether the model is SDXL). */
let guidance = guidanceFlag ?? 7.5;
/** The pipeline class that ran. */
let pipelineName = 'StableDiffusionPipeline';
const providers = parseExecutionProviders(values.provider) as ExecutionProviderName[];
const threads = values.threads === undefined ? undefined : Number(values.threads);
if (values.memory !== undefined && !CPU_MEMORY_MODES.includes(values.memory as CpuMemoryMode))
  usageError(`--memory ${JSON.stringify(values.memory)}: expected one of ${CPU_MEMORY_MODES.join(', ')}.`);
const memory = values.memory as CpuMemoryMode | undefined;
const components = values.components?.split(',') as OnnxComponentName[] | undefined;

/** Σ of session.run times per component, and how many runs. */
class RunTimes {
  readonly ms = new Map<string, number>();
  readonly calls = new Map<string, number>();
  add(component: string, ms: number): void {
    this.ms.set(component, (this.ms.get(component) ?? 0) + ms);
    this.calls.set(component, (this.calls.get(component) ?? 0) + 1);
  }
  total(): number {
    return [...this.ms.values()].reduce((a, b) => a + b, 0);
  }
  reset(): void {
    this.ms.clear();
    this.calls.clear();
  }
}

/** Wraps every session the inner factory makes so that each `run` is timed. */
class TimingSessionFactory implements SessionFactory {
  constructor(
    private readonly inner: SessionFactory,
    readonly times: RunTimes,
  ) {}
  async create(request: SessionRequest): Promise<InferenceSession> {
    const session = await this.inner.create(request);
    const times = this.times;
    return new Proxy(session, {
      get(target, prop) {
        if (prop === 'run') {
          return async (...args: Parameters<InferenceSession['run']>) => {
            const t0 = performance.now();
            try {
              return await target.run(...args);
            } finally {
              times.add(request.component, performance.now() - t0);
            }
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }
  createTensor(feed: OrtFeedData, dims: readonly number[]) {
    return this.inner.createTensor(feed, dims);
  }
}

/** Replaces `object[method]` by a timed version that adds its wall time into `sink[key]`. */
function timeMethod<T extends object>(
  object: T,
  method: keyof T & string,
  sink: Record<string, number>,
  key: string,
) {
  const original = (object[method] as (...a: unknown[]) => unknown).bind(object);
  sink[key] = 0;
  (object as Record<string, unknown>)[method] = (...args: unknown[]) => {
    const t0 = performance.now();
    const result = original(...args);
    if (result instanceof Promise) {
      return result.finally(() => {
        sink[key]! += performance.now() - t0;
      });
    }
    sink[key]! += performance.now() - t0;
    return result;
  };
}

/**
 * Replaces `proto[method]` (a class's method, so every instance and copy is timed) by a timed version that
 * adds its wall time into `sink[key]`; returns the function that puts the original back.
 */
function timePrototypeMethod(
  proto: Record<string, unknown>,
  method: string,
  sink: Record<string, number>,
  key: string,
): () => void {
  const original = proto[method] as (...a: unknown[]) => unknown;
  const own = Object.hasOwn(proto, method);
  sink[key] = 0;
  proto[method] = function (this: unknown, ...args: unknown[]) {
    const t0 = performance.now();
    try {
      return original.apply(this, args);
    } finally {
      sink[key]! += performance.now() - t0;
    }
  };
  return () => {
    if (own) proto[method] = original;
    else delete proto[method];
  };
}

interface RunResult {
  loadMs: number;
  textEncodeMs: number;
  unetPerStepMs: number;
  unetRunPerStepMs: number;
  schedulerPerStepMs: number;
  vaeDecodeMs: number;
  wallMs: number;
  sessionRunMs: number;
  overheadMs: number;
  overheadShare: number;
  unetCallsPerStep: number;
  peakRssMb: number;
  modelMb: number;
  rssPerModelByte: number;
}

/** Bytes of the ONNX files (graphs and external weights) in the components' folders of `dir`. */
async function onnxBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    if (components && !components.includes(entry.name as OnnxComponentName)) continue;
    const files = await readdir(join(dir, entry.name));
    // a folder with an fp16 variant beside model.onnx: its files (weights.fp16.pb, …) are the variant's
    const variant = files.some((f) => f === 'model.fp16.onnx' || f === 'model_fp16.onnx');
    for (const file of files) {
      // the model.onnx that loads, its external data (model.onnx_data, weights.pb, …); not fp16 variants
      // (model.fp16.onnx, model_fp16.onnx, weights.fp16.pb)
      if (variant && /[._]fp16[._]/.test(file)) continue;
      if (
        file === 'model.onnx' ||
        file.endsWith('.onnx_data') ||
        file.endsWith('.pb') ||
        file === 'weights.bin'
      ) {
        total += (await stat(join(dir, entry.name, file))).size;
      }
    }
  }
  return total;
}

async function runOnce(seed: number): Promise<RunResult> {
  const times = new RunTimes();
  const inner = new NodeSessionFactory({
    providers,
    ...(threads !== undefined ? { intraOpNumThreads: threads } : {}),
    ...(memory !== undefined ? { cpuMemory: memory } : {}),
    logLevel: 'error',
  });
  const factory = new TimingSessionFactory(inner, times);
  const t0 = performance.now();
  const parts: LoadedPipelineParts = await loadOnnxPipeline(
    new FileModelSource(values.model!),
    factory,
    components ? { components } : {},
  );
  const loadMs = performance.now() - t0;
  const wall: Record<string, number> = {};
  if (parts.promptEncoder) timeMethod(parts.promptEncoder, 'encode', wall, 'text');
  timeMethod(parts.denoiser, 'predict', wall, 'unet');
  timeMethod(parts.codec, 'decode', wall, 'vae');
  // Each call steps its own copy of the scheduler (pipelines are concurrency-safe): time the class's step.
  const restoreStep = timePrototypeMethod(
    Object.getPrototypeOf(parts.scheduler) as Record<string, unknown>,
    'step',
    wall,
    'scheduler',
  );
  // An SDXL folder runs with the SDXL pipeline (as the CLI and DiffusionPipeline pick it).
  const pipeline: PipelineBase & { generate: StableDiffusionPipeline['generate'] } = parts.sdxl
    ? new StableDiffusionXLPipeline(parts, parts.sdxl)
    : new StableDiffusionPipeline(parts);
  pipelineName = parts.sdxl ? 'StableDiffusionXLPipeline' : 'StableDiffusionPipeline';
  guidance = guidanceFlag ?? (parts.sdxl ? SDXL_DEFAULTS.guidanceScale : 7.5);
  times.reset(); // loading may run sessions (warm-up, checks): not part of the generation
  const g0 = performance.now();
  let unetSteps = 0;
  await pipeline.generate({
    onStep: () => {
      unetSteps++;
    },
    prompt: values.prompt!,
    numInferenceSteps: steps,
    guidanceScale: guidance,
    width: size,
    height: size,
    seed,
  });
  const wallMs = performance.now() - g0;
  restoreStep();
  const sessionRunMs = times.total();
  await pipeline.dispose();
  await inner.releaseAll();
  return {
    loadMs,
    textEncodeMs: wall['text'] ?? Number.NaN,
    unetPerStepMs: wall['unet']! / unetSteps,
    unetRunPerStepMs: (times.ms.get('unet') ?? 0) / unetSteps,
    schedulerPerStepMs: wall['scheduler']! / unetSteps,
    vaeDecodeMs: wall['vae']!,
    wallMs,
    sessionRunMs,
    overheadMs: wallMs - sessionRunMs,
    overheadShare: (wallMs - sessionRunMs) / wallMs,
    unetCallsPerStep: (times.calls.get('unet') ?? 0) / unetSteps,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    modelMb: modelBytes / 1e6,
    rssPerModelByte: (process.resourceUsage().maxRSS * 1024) / modelBytes,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const modelBytes = await onnxBytes(values.model!);
const results: RunResult[] = [];
for (let r = 0; r < runs; r++) {
  const result = await runOnce(r);
  results.push(result);
  process.stderr.write(`run ${r + 1}/${runs}: wall ${(result.wallMs / 1000).toFixed(2)} s\n`);
}

const rows: [string, keyof RunResult, (v: number) => string][] = [
  ['model load', 'loadMs', (v) => `${v.toFixed(0)} ms`],
  ['text encoding (prompt + negative)', 'textEncodeMs', (v) => `${v.toFixed(1)} ms`],
  ['UNet per step (predict)', 'unetPerStepMs', (v) => `${v.toFixed(1)} ms`],
  ['UNet per step (session.run)', 'unetRunPerStepMs', (v) => `${v.toFixed(1)} ms`],
  ['scheduler step', 'schedulerPerStepMs', (v) => `${v.toFixed(2)} ms`],
  ['VAE decode', 'vaeDecodeMs', (v) => `${v.toFixed(1)} ms`],
  ['total wall (generate)', 'wallMs', (v) => `${(v / 1000).toFixed(3)} s`],
  ['Σ session.run', 'sessionRunMs', (v) => `${(v / 1000).toFixed(3)} s`],
  ['overhead = wall − Σ run', 'overheadMs', (v) => `${v.toFixed(1)} ms`],
  ['overhead share of wall', 'overheadShare', (v) => `${(v * 100).toFixed(2)} %`],
  ['UNet calls per step', 'unetCallsPerStep', (v) => v.toFixed(2)],
  ['peak RSS', 'peakRssMb', (v) => `${v.toFixed(0)} MB`],
  ['ONNX files (graphs + weights)', 'modelMb', (v) => `${v.toFixed(1)} MB`],
  ['peak RSS / ONNX bytes', 'rssPerModelByte', (v) => `${v.toFixed(2)}×`],
];
const header = `model ${values.model} (${pipelineName}) · ${size}×${size} · ${steps} steps · guidance ${guidance} · ${providers.join(',')} · cpuMemory ${memory ?? 'arena (default)'}${components ? ` · components ${components.join(',')}` : ''} · ${runs} runs · node ${process.version}`;
const col = Math.max(...rows.map(([label]) => label.length));
const lines = [
  header,
  '',
  `| ${'metric'.padEnd(col)} | median | min | max |`,
  `| ${'-'.repeat(col)} | --- | --- | --- |`,
];
for (const [label, key, fmt] of rows) {
  const xs = results.map((r) => r[key]);
  lines.push(
    `| ${label.padEnd(col)} | ${fmt(median(xs))} | ${fmt(Math.min(...xs))} | ${fmt(Math.max(...xs))} |`,
  );
}
process.stdout.write(`${lines.join('\n')}\n`);
