/**
 * GPU matrix (issue 19 items 4 + 5): several SD 1.5-shaped model folders × session variants, one process,
 * one table. Written to run in ONE device call on the GPU machine through tools/gpu (bench/README.md,
 * "On a GPU"), and on the CPU here with the same arguments (`--provider cpu`).
 *
 *   npx tsx bench/gpu-matrix.bench.ts --model fp32=/tmp/sd15 [--model fp16=DIR …] [--size 512] [--steps 20]
 *       [--provider webgpu] [--variants dynamic,static,static+capture] [--repeat 1] [--out DIR]
 *       [--make DIR:SCRIPT.py[,ARG…] --repo ROOT]   (makes a folder with a tools/full-size script first)
 *
 * --model and --make run in the order given, so a model is made just before it is benchmarked.
 *
 * Variants: `dynamic` (the exported graph's free dimensions), `static` (`staticShapes` for the size and the
 * batch of 1 prompt with guidance), `static+capture` (static and onnxruntime's `enableGraphCapture` session
 * option, with a check that the image equals the `static` one: a graph replayed with stale inputs would
 * not). Each row: load, one 2-step warm-up generation, then `--repeat` timed generations of `--steps`;
 * UNet per step is the median of every UNet call of the timed generations (a batch of 2 with guidance).
 * Also a probe (in a child process, since it can abort the process): can an output kept on the GPU
 * (`preferredOutputLocation: 'gpu-buffer'`) be read back with `getData()`?
 * Results: gpu-matrix.json and gpu-matrix.md in --out (default $OUT, else the current folder), rewritten
 * after every row so a run cut short still returns what it measured.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import {
  type ExecutionProviderName,
  type NodeBackendOptions,
  nodeBackend,
  parseExecutionProviders,
} from '@latentkit/backend-node';
import { type Denoiser, StableDiffusionPipeline, type Tensor } from '@latentkit/core';

const USAGE = `GPU matrix: model folders × session variants (dynamic / static shapes / graph capture).

Usage: npx tsx bench/gpu-matrix.bench.ts --model LABEL=DIR [--model LABEL=DIR …] [options]

Options:
  --model LABEL=DIR  an SD 1.x diffusers ONNX folder and its label in the table (repeatable; label:VARIANTS
                     limits the variants for that model, e.g. fused16:dynamic,static=/tmp/f16)
  --make DIR:SCRIPT.py[,ARG…]  run python3 tools/full-size/SCRIPT.py --out DIR ARG… (with torch's TorchScript
                     exporter) unless DIR/unet/model.onnx exists; needs --repo (repeatable)
  (--model and --make are carried out in the order given)
  --repo ROOT        the repository root (for --make and the gpu-buffer probe's tiny model)
  --python EXE       the Python with torch and onnx for --make (default python3)
  --thread T         sessionThread: main (default, as the earlier GPU figures) or worker
  --size PX          width and height (default 512)
  --steps N          steps of each timed generation (default 20)
  --repeat N         timed generations per row (default 1)
  --guidance G       guidance scale (default 7.5: the UNet runs a batch of 2)
  --provider LIST    execution providers, e.g. webgpu or cpu (default webgpu)
  --variants LIST    dynamic,static,static+capture (default all three)
  --out DIR          where gpu-matrix.json / .md go (default $OUT, else .)
  --probe            run only the gpu-buffer probe (used by the matrix itself, in a child process)
  -h, --help         print this help
`;

function usageError(message: string): never {
  process.stderr.write(`gpu-matrix: ${message}\n\n${USAGE}`);
  process.exit(2);
}

const OPTIONS = {
  model: { type: 'string', multiple: true, default: [] as string[] },
  make: { type: 'string', multiple: true, default: [] as string[] },
  repo: { type: 'string' },
  python: { type: 'string', default: 'python3' },
  thread: { type: 'string', default: 'main' },
  size: { type: 'string', default: '512' },
  steps: { type: 'string', default: '20' },
  repeat: { type: 'string', default: '1' },
  guidance: { type: 'string', default: '7.5' },
  provider: { type: 'string', default: 'webgpu' },
  variants: { type: 'string', default: 'dynamic,static,static+capture' },
  out: { type: 'string' },
  probe: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

const { values } = (() => {
  try {
    return parseArgs({ options: OPTIONS });
  } catch (error) {
    return usageError((error as Error).message);
  }
})();
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const providers = parseExecutionProviders(values.provider) as ExecutionProviderName[];

type Variant = 'dynamic' | 'static' | 'static+capture';
const VARIANTS: readonly Variant[] = ['dynamic', 'static', 'static+capture'];

// ---- the gpu-buffer probe (child process) --------------------------------------------------------------
if (values.probe) {
  const ort = await import('onnxruntime-node');
  const path = join(values.repo ?? '.', 'tests/fixtures/models/sd1/unet/model.onnx');
  const session = await ort.InferenceSession.create(path, {
    executionProviders: providers,
    preferredOutputLocation: 'gpu-buffer',
  });
  const feeds = {
    sample: new ort.Tensor('float32', new Float32Array(2 * 4 * 8 * 8).fill(0.1), [2, 4, 8, 8]),
    timestep: new ort.Tensor('float32', new Float32Array([5, 5]), [2]),
    encoder_hidden_states: new ort.Tensor('float32', new Float32Array(2 * 77 * 32).fill(0.2), [2, 77, 32]),
  };
  const out = (await session.run(feeds))['out_sample']!;
  console.log(`probe: output location ${out.location}`);
  const again = await session.run({ ...feeds, sample: out });
  console.log(`probe: fed back as an input: ok (${again['out_sample']!.location})`);
  const data = (await out.getData()) as Float32Array;
  console.log(`probe: getData ok, first value ${data[0]}`);
  process.exit(0);
}

const size = Number(values.size);
const steps = Number(values.steps);
const repeat = Math.max(1, Math.floor(Number(values.repeat)));
const guidance = Number(values.guidance);
const variants = values.variants.split(',').map((v) => v.trim()) as Variant[];
for (const v of variants) if (!VARIANTS.includes(v)) usageError(`unknown variant ${JSON.stringify(v)}`);
for (const [k, n] of [
  ['size', size],
  ['steps', steps],
  ['guidance', guidance],
] as const) {
  if (!Number.isFinite(n)) usageError(`--${k} is not a number`);
}
const outDir = values.out ?? process.env['OUT'] ?? '.';
mkdirSync(outDir, { recursive: true });

type Step =
  | { kind: 'model'; label: string; dir: string; variants: Variant[] }
  | { kind: 'make'; spec: string };
const plan: Step[] = [];
for (const token of parseArgs({ options: OPTIONS, tokens: true }).tokens ?? []) {
  if (token.kind !== 'option' || token.value === undefined) continue;
  if (token.name === 'make') plan.push({ kind: 'make', spec: token.value });
  if (token.name !== 'model') continue;
  const spec = token.value;
  const at = spec.indexOf('=');
  if (at < 1) usageError(`--model ${JSON.stringify(spec)}: expected LABEL=DIR`);
  const [label, only] = spec.slice(0, at).split(':') as [string, string | undefined];
  const own = only ? (only.split(',') as Variant[]) : variants;
  for (const v of own) if (!VARIANTS.includes(v)) usageError(`unknown variant ${JSON.stringify(v)}`);
  plan.push({ kind: 'model', label, dir: spec.slice(at + 1), variants: own });
}

// ---- making models with the project's own scripts ------------------------------------------------------
const made: { dir: string; script: string; seconds: number; ok: boolean; log: string }[] = [];
function make(spec: string): void {
  const m = /^([^:]+):([^,]+\.py)((?:,[^,]*)*)$/.exec(spec);
  if (!m) usageError(`--make ${JSON.stringify(spec)}: expected DIR:SCRIPT.py[,ARG…]`);
  const [, dir, script, rest] = m as unknown as [string, string, string, string];
  if (!values.repo) usageError('--make needs --repo ROOT (where tools/full-size is)');
  const t0 = performance.now();
  let ok = existsSync(join(dir, 'unet/model.onnx'));
  let log = ok ? 'already there' : '';
  if (!ok) {
    // torch >= 2.9 exports with dynamo by default; the scripts are written for the TorchScript exporter
    const argv = [`tools/full-size/${script}`, '--out', dir, ...rest.split(',').filter((a) => a !== '')];
    const py = `import inspect, runpy, sys, torch
orig = torch.onnx.export
def export(*a, **k):
    if 'dynamo' in inspect.signature(orig).parameters: k.setdefault('dynamo', False)
    return orig(*a, **k)
torch.onnx.export = export
sys.path.insert(0, 'tools/full-size')
sys.argv = ${JSON.stringify(argv)}
runpy.run_path(sys.argv[0], run_name='__main__')`;
    const r = spawnSync(values.python, ['-c', py], {
      cwd: values.repo,
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    ok = r.status === 0 && existsSync(join(dir, 'unet/model.onnx'));
    log = `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').slice(-15).join('\n');
  }
  const seconds = (performance.now() - t0) / 1000;
  made.push({ dir, script, seconds, ok, log });
  console.log(
    `make ${dir} (${script}): ${ok ? 'ok' : 'FAILED'} in ${seconds.toFixed(0)} s\n${ok ? '' : log}`,
  );
}
if (!plan.some((p) => p.kind === 'model')) usageError('give at least one --model LABEL=DIR');

// ---- the probe, in a child process ---------------------------------------------------------------------
let probe = 'not run (give --repo)';
if (values.repo) {
  const r = spawnSync(
    process.execPath,
    [...process.execArgv, process.argv[1]!, '--probe', '--provider', values.provider, '--repo', values.repo],
    { encoding: 'utf8', timeout: 120_000 },
  );
  const lines = `${r.stdout ?? ''}`.split('\n').filter((l) => l.startsWith('probe:'));
  const tail = `${r.stderr ?? ''}`
    .split('\n')
    .filter((l) => l && !l.includes('VerifyEachNode'))
    .slice(-2);
  probe = `${lines.map((l) => l.slice(7)).join('; ')}; exit ${r.status ?? r.signal}${r.status === 0 ? '' : ` (${tail.join(' ')})`}`;
  console.log(`gpu-buffer probe: ${probe}`);
}

// ---- the matrix ----------------------------------------------------------------------------------------
interface Row {
  model: string;
  variant: Variant;
  loadS?: number;
  warmupS?: number;
  wallS?: number[];
  unetStepMs?: number;
  unetStepMinMs?: number;
  unetCalls?: number;
  maxDiffVsStatic?: number;
  error?: string;
}
const rows: Row[] = [];
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function optionsFor(variant: Variant): NodeBackendOptions {
  const o: NodeBackendOptions = {
    providers,
    sessionThread: values.thread as 'main' | 'worker',
    onWarning: (m) => console.log(`  warning: ${m}`),
  };
  if (variant !== 'dynamic') o.staticShapes = { width: size, height: size };
  if (variant === 'static+capture') o.sessionOptions = { enableGraphCapture: true };
  return o;
}

function write(): void {
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    memGiB: Math.round(totalmem() / 2 ** 30),
    loadavg: loadavg().map((x) => x.toFixed(2)),
    providers,
    sessionThread: values.thread,
    size,
    steps,
    repeat,
    guidance,
    probe,
    made: made.map(({ dir, script, seconds, ok, log }) => ({
      dir,
      script,
      seconds: Math.round(seconds),
      ok,
      ...(ok ? {} : { log }),
    })),
  };
  writeFileSync(join(outDir, 'gpu-matrix.json'), `${JSON.stringify({ meta, rows }, null, 2)}\n`);
  const f = (x: number | undefined, d = 1) => (x === undefined ? '—' : x.toFixed(d));
  const md = [
    `# gpu-matrix ${meta.date}`,
    '',
    `providers ${providers.join(',')}, sessionThread ${values.thread}, ${size}×${size}, ${steps} steps, guidance ${guidance}, ${repeat} timed run(s) per row; ${meta.cpus}; load average ${meta.loadavg.join(' ')}`,
    `gpu-buffer output probe: ${probe}`,
    ...made.map(
      (m) => `made ${m.dir} with ${m.script}: ${m.ok ? 'ok' : 'FAILED'} in ${m.seconds.toFixed(0)} s`,
    ),
    '',
    '| model | variant | load s | UNet per step ms (median / min) | generation s | image vs static (max abs) | error |',
    '|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.model} | ${r.variant} | ${f(r.loadS)} | ${f(r.unetStepMs)} / ${f(r.unetStepMinMs)} | ${r.wallS ? r.wallS.map((w) => w.toFixed(2)).join(', ') : '—'} | ${r.maxDiffVsStatic === undefined ? '—' : r.maxDiffVsStatic.toExponential(1)} | ${r.error ?? ''} |`,
    ),
    '',
  ].join('\n');
  writeFileSync(join(outDir, 'gpu-matrix.md'), md);
}

for (const step of plan) {
  if (step.kind === 'make') {
    make(step.spec);
    write();
    continue;
  }
  const { label, dir } = step;
  let staticImage: Float32Array | undefined;
  for (const variant of step.variants) {
    const row: Row = { model: label, variant };
    rows.push(row);
    console.log(`== ${label} ${variant}`);
    let dispose: (() => Promise<void>) | undefined;
    try {
      const t0 = performance.now();
      const parts = await nodeBackend.load(dir, optionsFor(variant));
      dispose = parts.dispose;
      row.loadS = (performance.now() - t0) / 1000;
      const times: number[] = [];
      let timing = false;
      const inner = parts.denoiser;
      const timed = async (input: Parameters<Denoiser['predict']>[0]) => {
        const s = performance.now();
        const out = await inner.predict(input);
        if (timing) times.push(performance.now() - s);
        return out;
      };
      const denoiser = new Proxy(inner, {
        get: (target, key) => {
          if (key === 'predict') return timed;
          const value: unknown = Reflect.get(target, key, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const pipe = new StableDiffusionPipeline({ ...parts, denoiser });
      const gen = (n: number) =>
        pipe.generate({
          prompt: 'a red circle on a blue background',
          negativePrompt: 'blurry',
          seed: 42,
          width: size,
          height: size,
          numInferenceSteps: n,
          guidanceScale: guidance,
          outputType: 'tensor',
        });
      const w0 = performance.now();
      await gen(2);
      row.warmupS = (performance.now() - w0) / 1000;
      timing = true;
      row.wallS = [];
      let image: Float32Array | undefined;
      for (let i = 0; i < repeat; i++) {
        const g0 = performance.now();
        image = ((await gen(steps)).images as Tensor).data;
        row.wallS.push((performance.now() - g0) / 1000);
      }
      row.unetStepMs = median(times);
      row.unetStepMinMs = Math.min(...times);
      row.unetCalls = times.length;
      if (variant === 'static') staticImage = image;
      if (variant === 'static+capture' && staticImage && image) {
        let max = 0;
        for (let i = 0; i < image.length; i++) max = Math.max(max, Math.abs(image[i]! - staticImage[i]!));
        row.maxDiffVsStatic = max;
      }
      console.log(
        `  load ${row.loadS.toFixed(1)} s, UNet ${row.unetStepMs.toFixed(1)} ms/step, generation ${row.wallS.map((w) => w.toFixed(2)).join(', ')} s`,
      );
    } catch (error) {
      row.error = String((error as Error).message ?? error).slice(0, 300);
      console.log(`  error: ${row.error}`);
    } finally {
      await dispose?.().catch(() => undefined);
    }
    write();
  }
}
write();
console.log(readFileSync(join(outDir, 'gpu-matrix.md'), 'utf8'));
