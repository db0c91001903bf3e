/**
 * Memory benchmark (issue 19 item 2): where the resident memory of one generation goes, phase by phase.
 *
 *   npx tsx bench/memory.bench.ts --model DIR [--size 512] [--steps 2] [--threads N] [--thread main|worker]
 *        [--memory MODE] [--components LIST] [--arena on|off] [--mem-pattern on|off]
 *        [--config KEY=VALUE]… [--vae-tiling TILE_PX]
 *
 * One process, one load, one generation (Linux only: it reads /proc/self/status). Before each phase the
 * kernel's peak-RSS mark is reset (`echo 5 > /proc/self/clear_refs`), so "peak during" is the true peak of
 * that phase, not a sample: model load per component, text encoding, each UNet call, VAE decode. RSS is
 * split into anonymous memory (heap, onnxruntime's arenas and weights it copied) and file-backed pages
 * (weights onnxruntime maps from the files). Memory is measured here, never in tests.
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CPU_MEMORY_MODES,
  type CpuMemoryMode,
  FileModelSource,
  NodeSessionFactory,
  type NodeSessionOptions,
  type SessionThread,
} from '@latentkit/backend-node';
import { StableDiffusionPipeline } from '@latentkit/core';
import {
  loadOnnxPipeline,
  type OnnxComponentName,
  type OrtFeedData,
  type SessionFactory,
  type SessionRequest,
} from '@latentkit/onnx';
import type { InferenceSession } from 'onnxruntime-node';

const USAGE = `Memory benchmark: resident memory of one generation, phase by phase (Linux).

Usage: npx tsx bench/memory.bench.ts --model DIR [options]

Options:
  --model DIR          diffusers ONNX model folder (required)
  --size PX            width and height (default 512)
  --steps N            denoising steps (default 2)
  --threads N          onnxruntime intra-op threads (default: onnxruntime's)
  --thread T           sessionThread: main (default) or worker
  --memory MODE        cpuMemory: arena (default: onnxruntime's defaults), balanced or low
  --components LIST    components to load, e.g. text_encoder,unet,vae_decoder (default: what the loader picks)
  --arena on|off       sessionOptions.enableCpuMemArena (default: what --memory sets)
  --mem-pattern on|off sessionOptions.enableMemPattern (default: what --memory sets)
  --config KEY=VALUE   an onnxruntime session config entry, e.g. session.disable_prepacking=1 (repeatable)
  --vae-tiling PX      decode the VAE in tiles of PX×PX image pixels (pipe.enableVaeTiling; default: off)
  -h, --help           print this help
`;

function usageError(message: string): never {
  process.stderr.write(`memory bench: ${message}\n\n${USAGE}`);
  process.exit(2);
}

let values: {
  model?: string;
  size: string;
  steps: string;
  threads?: string;
  thread: string;
  memory?: string;
  components?: string;
  arena?: string;
  'mem-pattern'?: string;
  config?: string[];
  'vae-tiling'?: string;
  help?: boolean;
};
try {
  ({ values } = parseArgs({
    options: {
      model: { type: 'string' },
      size: { type: 'string', default: '512' },
      steps: { type: 'string', default: '2' },
      threads: { type: 'string' },
      thread: { type: 'string', default: 'main' },
      memory: { type: 'string' },
      components: { type: 'string' },
      arena: { type: 'string' },
      'mem-pattern': { type: 'string' },
      config: { type: 'string', multiple: true },
      'vae-tiling': { type: 'string' },
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
const onOff = (name: string, v: string | undefined): boolean | undefined => {
  if (v === undefined) return undefined;
  if (v !== 'on' && v !== 'off') usageError(`--${name} ${JSON.stringify(v)}: expected on or off.`);
  return v === 'on';
};
if (values.memory !== undefined && !CPU_MEMORY_MODES.includes(values.memory as CpuMemoryMode))
  usageError(`--memory ${JSON.stringify(values.memory)}: expected one of ${CPU_MEMORY_MODES.join(', ')}.`);
const arena = onOff('arena', values.arena);
const memPattern = onOff('mem-pattern', values['mem-pattern']);
const config: Record<string, string> = {};
for (const entry of values.config ?? []) {
  const eq = entry.indexOf('=');
  if (eq <= 0) usageError(`--config ${JSON.stringify(entry)}: expected KEY=VALUE.`);
  config[entry.slice(0, eq)] = entry.slice(eq + 1);
}
const size = Number(values.size);
const steps = Number(values.steps);
const threads = values.threads === undefined ? undefined : Number(values.threads);
const vaeTile = values['vae-tiling'] === undefined ? undefined : Number(values['vae-tiling']);
if (vaeTile !== undefined && !(Number.isInteger(vaeTile) && vaeTile > 0))
  usageError(
    `--vae-tiling ${JSON.stringify(values['vae-tiling'])}: expected a tile side in pixels, e.g. 256.`,
  );

interface Status {
  rss: number;
  anon: number;
  file: number;
  hwm: number;
}

/** VmRSS, RssAnon, RssFile and VmHWM of this process, in bytes. */
async function status(): Promise<Status> {
  const text = await readFile('/proc/self/status', 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(text)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), hwm: kb('VmHWM') };
}

/** Resets the kernel's peak-RSS mark (VmHWM) to the current RSS. */
async function resetPeak(): Promise<void> {
  await writeFile('/proc/self/clear_refs', '5');
}

interface Row {
  phase: string;
  ms: number;
  peak: number;
  after: Status;
}
const rows: Row[] = [];
let overallPeak = 0;

/** Runs `fn` with the peak mark reset before it; records the phase's peak and the RSS after it. */
async function phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  await resetPeak();
  const t0 = performance.now();
  const result = await fn();
  const ms = performance.now() - t0;
  const after = await status();
  rows.push({ phase: name, ms, peak: after.hwm, after });
  overallPeak = Math.max(overallPeak, after.hwm);
  return result;
}

/** Records each session creation as its own phase. */
class PhasedFactory implements SessionFactory {
  constructor(private readonly inner: NodeSessionFactory) {}
  create(request: SessionRequest): Promise<InferenceSession> {
    return phase(`load ${request.component}`, () => this.inner.create(request));
  }
  createTensor(feed: OrtFeedData, dims: readonly number[]) {
    return this.inner.createTensor(feed, dims);
  }
  release(session: InferenceSession): Promise<void> {
    return this.inner.release(session);
  }
}

/** Bytes of the ONNX files (graphs and external weights) of the components that loaded. */
async function onnxBytes(dir: string, components: readonly string[]): Promise<number> {
  let total = 0;
  for (const c of components) {
    const files = await readdir(join(dir, c));
    // a folder with an fp16 variant beside model.onnx: its files (weights.fp16.pb, …) are the variant's
    const variant = files.some((f) => f === 'model.fp16.onnx' || f === 'model_fp16.onnx');
    for (const file of files) {
      if (variant && /[._]fp16[._]/.test(file)) continue;
      if (
        file === 'model.onnx' ||
        file.endsWith('.onnx_data') ||
        file.endsWith('.pb') ||
        file === 'weights.bin'
      )
        total += (await stat(join(dir, c, file))).size;
    }
  }
  return total;
}

const sessionOptions: NodeSessionOptions['sessionOptions'] = {
  ...(arena !== undefined ? { enableCpuMemArena: arena } : {}),
  ...(memPattern !== undefined ? { enableMemPattern: memPattern } : {}),
  ...(Object.keys(config).length > 0 ? { extra: nestConfig(config) } : {}),
};

// "session.disable_prepacking" → { session: { disable_prepacking } } (onnxruntime-node joins the keys with dots)
function nestConfig(entries: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entries)) {
    const parts = key.split('.');
    let node = out;
    for (const p of parts.slice(0, -1)) {
      node[p] ??= {};
      node = node[p] as Record<string, unknown>;
    }
    node[parts.at(-1)!] = value;
  }
  return out;
}

const start = await status();
const inner = new NodeSessionFactory({
  logLevel: 'error',
  sessionThread: values.thread as SessionThread,
  ...(threads !== undefined ? { intraOpNumThreads: threads } : {}),
  ...(values.memory !== undefined ? { cpuMemory: values.memory as CpuMemoryMode } : {}),
  ...(Object.keys(sessionOptions).length > 0 ? { sessionOptions } : {}),
});
const components = values.components?.split(',') as OnnxComponentName[] | undefined;
const l0 = performance.now();
const parts = await loadOnnxPipeline(
  new FileModelSource(values.model!),
  new PhasedFactory(inner),
  components ? { components } : {},
);
const loadMs = performance.now() - l0;
const loaded = Object.keys(inner.assignment);
const pipe = new StableDiffusionPipeline(parts);
if (vaeTile !== undefined) pipe.enableVaeTiling({ tileSampleSize: vaeTile });
const wrap = <T extends object>(object: T, method: keyof T & string, name: (n: number) => string) => {
  const original = (object[method] as (...a: unknown[]) => Promise<unknown>).bind(object);
  let n = 0;
  (object as Record<string, unknown>)[method] = (...args: unknown[]) =>
    phase(name(++n), () => original(...args));
};
if (parts.promptEncoder) wrap(parts.promptEncoder, 'encode', () => 'text encoding');
wrap(parts.denoiser, 'predict', (n) => `UNet call ${n}`);
// With tiling, each tile's decode is a call of its own: numbered phases.
wrap(parts.codec, 'decode', (n) => (vaeTile === undefined ? 'VAE decode' : `VAE decode, tile ${n}`));
const t0 = performance.now();
await pipe.generate({
  prompt: 'a red circle on a blue background',
  numInferenceSteps: steps,
  width: size,
  height: size,
  seed: 1,
});
const wallMs = performance.now() - t0;
await phase('dispose', () => parts.dispose().then(() => inner.releaseAll()));
const modelBytes = await onnxBytes(values.model!, loaded);

const gb = (b: number) => (b / 1e9).toFixed(2);
const lines = [
  `model ${values.model} · ${size}×${size} · ${steps} steps · sessionThread ${values.thread} · cpuMemory ${values.memory ?? '(default)'} · threads ${threads ?? 'default'} · VAE tiling ${vaeTile ?? 'off'} · node ${process.version}`,
  `sessionOptions ${JSON.stringify(sessionOptions)} · components ${loaded.join(',')} · load ${(loadMs / 1000).toFixed(1)} s · generate wall ${(wallMs / 1000).toFixed(1)} s`,
  '',
  '| phase | time (s) | peak during (GB) | RSS after (GB) | anon after | file-backed after |',
  '| --- | --- | --- | --- | --- | --- |',
  `| start | | | ${gb(start.rss)} | ${gb(start.anon)} | ${gb(start.file)} |`,
  ...rows.map(
    (r) =>
      `| ${r.phase} | ${(r.ms / 1000).toFixed(2)} | ${gb(r.peak)} | ${gb(r.after.rss)} | ${gb(r.after.anon)} | ${gb(r.after.file)} |`,
  ),
  '',
  `load average ${(await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')} · peak RSS ${gb(overallPeak)} GB · ONNX files of the loaded components ${gb(modelBytes)} GB · peak / files ${(overallPeak / modelBytes).toFixed(2)}×`,
];
process.stdout.write(`${lines.join('\n')}\n`);
