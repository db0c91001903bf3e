/**
 * latentkit vs PyTorch on the same weights (issue 19 item 7): `npm run bench:compare -- --model DIR`.
 *
 * The model is the SD 1.5-shaped random-weight one of tools/full-size/make_random_sd15.py; its PyTorch twin
 * is the same nets (the tool's classes) with the same weights, saved by that tool with
 * `--torch-only --save-torch PATH`. Each side runs in its own process, loaded once: latentkit
 * (latentkit-side.ts: onnxruntime-node, CPU provider) and PyTorch (tools/full-size/bench_torch_sd15.py,
 * Debian's python3-torch). The bench first checks that both compute the same thing (the UNet on the same
 * input, ≤ 1e-3 relative) and that torch runs on an optimised BLAS, then times the UNet call (batch 2, as
 * under guidance) and whole generations (text encoder, N Euler steps at guidance 7.5, VAE decode) in
 * interleaved runs, L, P, L, P, …, and prints each side's medians, min–max, the ratio P/L, peak RSS per
 * process, the load average and torch's BLAS. Python is needed by this bench only.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TORCH_SCRIPT = join(ROOT, 'tools/full-size/bench_torch_sd15.py');
const LATENTKIT_SCRIPT = fileURLToPath(new URL('./latentkit-side.ts', import.meta.url));
const APT = 'apt-get install -y python3-torch python3-onnx libopenblas0-openmp';
/** The UNet outputs must agree to this, relative (max |L − P| / max |P|). */
const UNET_TOLERANCE = 1e-3;
/** USER_HZ of /proc/<pid>/stat on Linux. */
const CLOCK_TICKS = 100;

const USAGE = `latentkit vs PyTorch on the same weights: UNet call and whole generation, interleaved runs.

Usage: npm run bench:compare -- --model DIR [options]

Options:
  --model DIR          the SD 1.5-shaped random-weight model (required), made by
                         /usr/bin/python3 tools/full-size/make_random_sd15.py --out DIR
  --torch-weights PATH the same weights for PyTorch (default: DIR-torch.pt beside the folder), made by
                         /usr/bin/python3 tools/full-size/make_random_sd15.py --torch-only --save-torch PATH
  --size PX            width and height (default 256; a multiple of 64)
  --steps N            Euler steps of each generation (default 4)
  --runs N             timed runs per side and measurement, interleaved (default 3)
  --threads N          intra-op threads on both sides (default: the machine's ${availableParallelism()})
  --guidance G         classifier-free guidance scale (default 7.5)
  --prompt TEXT        the prompt (default "a red circle on a blue background")
  --python PATH        the Python with torch (default /usr/bin/python3)
  --allow-reference-blas  run even when torch uses Debian's reference BLAS (not a fair comparison)
  -h, --help           print this help

Needs Debian's PyTorch with OpenBLAS: ${APT}
Example: npm run bench:compare -- --model /tmp/sd15-random --size 512 --steps 2 --threads 2
`;

function fail(message: string, code = 2): never {
  process.stderr.write(`bench:compare: ${message}\n`);
  process.exit(code);
}

let values: {
  model?: string;
  'torch-weights'?: string;
  size: string;
  steps: string;
  runs: string;
  threads?: string;
  guidance: string;
  prompt: string;
  python: string;
  'allow-reference-blas'?: boolean;
  help?: boolean;
};
try {
  ({ values } = parseArgs({
    options: {
      model: { type: 'string' },
      'torch-weights': { type: 'string' },
      size: { type: 'string', default: '256' },
      steps: { type: 'string', default: '4' },
      runs: { type: 'string', default: '3' },
      threads: { type: 'string' },
      guidance: { type: 'string', default: '7.5' },
      prompt: { type: 'string', default: 'a red circle on a blue background' },
      python: { type: 'string', default: '/usr/bin/python3' },
      'allow-reference-blas': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (error) {
  fail(`${(error as Error).message}\n\n${USAGE}`);
}
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

function positiveInt(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} ${JSON.stringify(raw)}: expected an integer ≥ 1.`);
  return n;
}

if (!values.model) {
  fail(
    '--model DIR is required: the SD 1.5-shaped random-weight model. Make it (≈ 4.3 GB, ~10 GB RAM, minutes):\n' +
      '  /usr/bin/python3 tools/full-size/make_random_sd15.py --out /tmp/sd15-random\n' +
      '  /usr/bin/python3 tools/full-size/make_random_sd15.py --torch-only --save-torch /tmp/sd15-random-torch.pt\n' +
      `\n${USAGE}`,
  );
}
const model = values.model.replace(/\/+$/, '');
const size = positiveInt('size', values.size);
if (size % 64 !== 0) fail(`--size ${size}: expected a multiple of 64 (the UNet halves the latents 3 times).`);
const steps = positiveInt('steps', values.steps);
const runs = positiveInt('runs', values.runs);
const threads =
  values.threads === undefined ? availableParallelism() : positiveInt('threads', values.threads);
const guidance = Number(values.guidance);
if (!Number.isFinite(guidance) || guidance <= 1)
  fail(
    `--guidance ${JSON.stringify(values.guidance)}: expected a number > 1 (the bench compares guided runs).`,
  );
const python = values.python;
const torchWeights = values['torch-weights'] ?? `${model}-torch.pt`;

// ------------------------------------------------------------------------------------------- preconditions
for (const file of [
  'model_index.json',
  'scheduler/scheduler_config.json',
  'tokenizer/vocab.json',
  'text_encoder/model.onnx',
  'unet/model.onnx',
  'vae_decoder/model.onnx',
]) {
  if (!existsSync(join(model, file))) {
    fail(
      `${join(model, file)} does not exist: --model must be the folder written by\n` +
        `  /usr/bin/python3 tools/full-size/make_random_sd15.py --out ${model}\n` +
        '(≈ 4.3 GB of fp32 ONNX files; ~10 GB of RAM and several minutes on 2 cores).',
    );
  }
}
const probe = spawnSync(python, ['-c', 'import torch, numpy, onnx; print(torch.__version__)'], {
  encoding: 'utf8',
});
if (probe.error) {
  fail(
    `cannot run ${python} (${(probe.error as NodeJS.ErrnoException).code}). Install Debian's PyTorch: ${APT}, or pass --python PATH.`,
  );
}
if (probe.status !== 0) {
  fail(
    `${python} cannot import torch, numpy and onnx:\n${probe.stderr.trim().split('\n').slice(-3).join('\n')}\n` +
      `Fix: ${APT}`,
  );
}
if (!existsSync(torchWeights)) {
  fail(
    `${torchWeights} does not exist: the PyTorch side needs the same weights as a torch state file. Make it (≈ 4.3 GB, a minute):\n` +
      `  /usr/bin/python3 tools/full-size/make_random_sd15.py --torch-only --save-torch ${torchWeights}\n` +
      '(the same seeded nets as the ONNX export: bit-identical weights), or pass --torch-weights PATH.',
  );
}

const childEnv = {
  ...process.env,
  OMP_NUM_THREADS: String(threads),
  OPENBLAS_NUM_THREADS: String(threads),
};

interface TorchInfo {
  torch: string;
  threads: number;
  blasInfo: string | null;
  python: string;
  blas: {
    kind: string;
    /** The library torch's sgemm_ comes from (the one mapped as libblas.so.3, else the first BLAS-like one). */
    library: string | null;
    libraries: string[];
    alternative: string | null;
    sgemmGflops: number;
  };
}
const infoRun = spawnSync(python, [TORCH_SCRIPT, '--info', '--threads', String(threads)], {
  encoding: 'utf8',
  env: childEnv,
});
if (infoRun.status !== 0) fail(`${TORCH_SCRIPT} --info failed:\n${infoRun.stderr}`);
const info = JSON.parse(infoRun.stdout) as TorchInfo;
const blasLib = info.blas.library ?? 'no BLAS library mapped';
if (!['openblas', 'mkl', 'blis'].includes(info.blas.kind)) {
  const banner = [
    '',
    '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
    `!! torch ${info.torch} runs its matrix products on ${info.blas.kind} BLAS (${blasLib}),`,
    `!! ${info.blas.sgemmGflops} GFLOP/s on a 1024² sgemm. Debian's default reference BLAS is ~23× slower on this`,
    '!! model than OpenBLAS: PyTorch would look far slower than it is. Not a fair comparator.',
    `!! Fix: ${APT}`,
    '!!      (update-alternatives --display libblas.so.3-x86_64-linux-gnu should then show openblas)',
    '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
    '',
  ].join('\n');
  if (!values['allow-reference-blas'])
    fail(`${banner}\nRefusing to run; --allow-reference-blas runs anyway (the figures are then marked).`, 3);
  process.stderr.write(`${banner}\n`);
}

// ------------------------------------------------------------------------------------------- the two sides
type Answer = Record<string, unknown> & { error?: string };

/** A worker process answering JSON-line requests with `@@{...}` lines. */
class Side {
  readonly #proc: ChildProcess;
  readonly #queue: Answer[] = [];
  #waiting: { resolve: (a: Answer) => void; reject: (e: Error) => void } | undefined;
  readonly #stderr: string[] = [];
  #exit: string | undefined;

  constructor(
    readonly name: string,
    command: string,
    args: string[],
  ) {
    this.#proc = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: childEnv, cwd: ROOT });
    createInterface({ input: this.#proc.stdout! }).on('line', (line) => {
      if (!line.startsWith('@@')) {
        this.#keep(line);
        return;
      }
      const msg = JSON.parse(line.slice(2)) as Answer;
      if (this.#waiting) {
        const w = this.#waiting;
        this.#waiting = undefined;
        w.resolve(msg);
      } else this.#queue.push(msg);
    });
    createInterface({ input: this.#proc.stderr! }).on('line', (line) => this.#keep(line));
    const died = (why: string) => {
      this.#exit = why;
      if (this.#waiting) {
        const w = this.#waiting;
        this.#waiting = undefined;
        w.reject(this.#died());
      }
    };
    this.#proc.on('error', (e) => died(e.message));
    this.#proc.on('exit', (code, signal) => died(signal ? `killed by ${signal}` : `exit code ${code}`));
  }

  #keep(line: string): void {
    this.#stderr.push(line);
    if (this.#stderr.length > 30) this.#stderr.shift();
  }

  #died(): Error {
    return new Error(`${this.name} worker ended (${this.#exit}):\n${this.#stderr.join('\n')}`);
  }

  /** The next answer (the first one, `ready`, comes unasked). */
  async next(): Promise<Answer> {
    const queued = this.#queue.shift();
    const msg =
      queued ??
      (this.#exit !== undefined
        ? Promise.reject(this.#died())
        : new Promise<Answer>((resolve, reject) => {
            this.#waiting = { resolve, reject };
          }));
    const answer = await msg;
    if (answer.error) throw new Error(`${this.name}: ${answer.error}`);
    return answer;
  }

  request(req: Record<string, unknown>): Promise<Answer> {
    this.#proc.stdin!.write(`${JSON.stringify(req)}\n`);
    return this.next();
  }

  /** CPU time (all threads, user + system) the process has used so far, in ms; NaN when unreadable. */
  cpuMs(): number {
    try {
      const stat = readFileSync(`/proc/${this.#proc.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
    } catch {
      return Number.NaN;
    }
  }

  kill(): void {
    if (this.#exit === undefined) this.#proc.kill();
  }
}

// ------------------------------------------------------------------------------------------- inputs
/** Seeded standard normal numbers (mulberry32 + Box–Muller): the same inputs for both sides, every run. */
function normals(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - uniform()));
    const a = 2 * Math.PI * uniform();
    out[i] = r * Math.cos(a);
    if (i + 1 < n) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

async function writeF32(path: string, data: Float32Array): Promise<void> {
  await writeFile(path, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

async function readF32(path: string): Promise<Float32Array> {
  const bytes = await readFile(path);
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** max |a − b| / max |b| and the same in the RMS sense (b is PyTorch's). */
function relativeError(a: Float32Array, b: Float32Array): { max: number; rms: number; maxAbs: number } {
  if (a.length !== b.length) throw new Error(`outputs of ${a.length} and ${b.length} values`);
  let dMax = 0;
  let bMax = 0;
  let d2 = 0;
  let b2 = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= dMax)) dMax = d; // NaN propagates
    bMax = Math.max(bMax, Math.abs(b[i]!));
    d2 += d * d;
    b2 += b[i]! * b[i]!;
  }
  return { max: dMax / bMax, rms: Math.sqrt(d2 / b2), maxAbs: dMax };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const ortVersion = (
  JSON.parse(readFileSync(join(ROOT, 'node_modules/onnxruntime-node/package.json'), 'utf8')) as {
    version: string;
  }
).version;

// ------------------------------------------------------------------------------------------- run
const tmp = await mkdtemp(join(tmpdir(), 'latentkit-bench-compare-'));
const h = size / 8;
await writeF32(join(tmp, 'sample.f32'), normals(2 * 4 * h * h, 1));
await writeF32(join(tmp, 'timestep.f32'), new Float32Array([501, 501]));
await writeF32(join(tmp, 'encoder_hidden_states.f32'), normals(2 * 77 * 768, 2));
await writeF32(join(tmp, 'latents.f32'), normals(4 * h * h, 3));
const loadStart = loadavg();
const log = (s: string) => process.stderr.write(`${s}\n`);

const L = new Side('latentkit', process.execPath, [
  ...process.execArgv,
  LATENTKIT_SCRIPT,
  '--model',
  model,
  '--threads',
  String(threads),
]);
const P = new Side('pytorch', python, [
  TORCH_SCRIPT,
  '--worker',
  '--weights',
  torchWeights,
  '--model',
  model,
  '--threads',
  String(threads),
]);

interface Timed {
  ms: number;
  textMs?: number;
  unetPerStepMs?: number;
  vaeMs?: number;
  maxRssMb: number;
}

let exitCode = 0;
try {
  log(`loading latentkit (${model}) …`);
  const lReady = await L.next();
  log(`  ${(Number(lReady['loadMs']) / 1000).toFixed(1)} s; loading PyTorch (${torchWeights}) …`);
  const pReady = await P.next();
  log(`  ${(Number(pReady['loadMs']) / 1000).toFixed(1)} s`);
  const ids = (await L.request({ cmd: 'ids', prompt: values.prompt }))['ids'];

  // Same computation? The UNet on the same input (also each side's warm-up call at this size).
  log('checking: the UNet on the same input, both sides …');
  const unetReq = { cmd: 'unet', size, inputs: tmp };
  await L.request({ ...unetReq, out: join(tmp, 'unet-l.f32') });
  await P.request({ ...unetReq, out: join(tmp, 'unet-p.f32') });
  const unetErr = relativeError(
    await readF32(join(tmp, 'unet-l.f32')),
    await readF32(join(tmp, 'unet-p.f32')),
  );
  const unetOk = unetErr.max <= UNET_TOLERANCE;
  const agreement = `UNet output on the same input (batch 2, ${h}×${h} latents): max|L−P|/max|P| = ${unetErr.max.toExponential(2)}, rms ${unetErr.rms.toExponential(2)} → ${unetOk ? `the same computation (≤ ${UNET_TOLERANCE})` : `DIFFERENT (> ${UNET_TOLERANCE})`}`;
  log(agreement);
  if (!unetOk) {
    throw new Error(
      `the two sides' UNets disagree (${agreement}): the torch weights are not this model's. Remake them with make_random_sd15.py --torch-only --save-torch ${torchWeights}.`,
    );
  }

  // Warm-up generation (1 step, untimed): the text encoder and the VAE decoder's first run at this size.
  const genReq = {
    cmd: 'generate',
    size,
    guidance,
    prompt: values.prompt,
    ids,
    latents: join(tmp, 'latents.f32'),
  };
  log('warm-up: a 1-step generation on each side (not timed) …');
  await L.request({ ...genReq, steps: 1 });
  await P.request({ ...genReq, steps: 1 });

  // One timed request; also the CPU the idle side burns meanwhile (it should be ~0) and the load average.
  const idleCpu = { L: 0, P: 0 };
  const loads: number[] = [];
  const timed = async (side: Side, other: Side, req: Record<string, unknown>): Promise<Timed> => {
    const c0 = other.cpuMs();
    const answer = (await side.request(req)) as unknown as Timed;
    idleCpu[other === L ? 'L' : 'P'] += other.cpuMs() - c0;
    loads.push(loadavg()[0]!);
    return answer;
  };
  const unetL: Timed[] = [];
  const unetP: Timed[] = [];
  for (let r = 0; r < runs; r++) {
    unetL.push(await timed(L, P, unetReq));
    unetP.push(await timed(P, L, unetReq));
    log(
      `UNet call ${r + 1}/${runs}: latentkit ${(unetL[r]!.ms / 1000).toFixed(2)} s, PyTorch ${(unetP[r]!.ms / 1000).toFixed(2)} s`,
    );
  }
  const genL: Timed[] = [];
  const genP: Timed[] = [];
  for (let r = 0; r < runs; r++) {
    const out = r === 0;
    genL.push(await timed(L, P, { ...genReq, steps, out: out ? join(tmp, 'image-l.f32') : null }));
    genP.push(await timed(P, L, { ...genReq, steps, out: out ? join(tmp, 'image-p.f32') : null }));
    log(
      `generation ${r + 1}/${runs}: latentkit ${(genL[r]!.ms / 1000).toFixed(2)} s, PyTorch ${(genP[r]!.ms / 1000).toFixed(2)} s`,
    );
  }
  const imgErr = relativeError(
    await readF32(join(tmp, 'image-l.f32')),
    await readF32(join(tmp, 'image-p.f32')),
  );
  const lBye = (await L.request({ cmd: 'exit' })) as unknown as Timed;
  const pBye = (await P.request({ cmd: 'exit' })) as unknown as Timed;
  const loadEnd = loadavg();

  const fmt = (ms: number) =>
    ms >= 10_000
      ? `${(ms / 1000).toFixed(1)} s`
      : ms >= 1000
        ? `${(ms / 1000).toFixed(2)} s`
        : `${ms.toFixed(0)} ms`;
  const cell = (xs: number[]) => `${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`;
  const rows: [string, number[], number[]][] = [
    ['UNet call, batch 2 (guidance)', unetL.map((t) => t.ms), unetP.map((t) => t.ms)],
    [`generation: ${steps} steps, wall`, genL.map((t) => t.ms), genP.map((t) => t.ms)],
    ['· text encoder (batch 2)', genL.map((t) => t.textMs!), genP.map((t) => t.textMs!)],
    ['· UNet per step', genL.map((t) => t.unetPerStepMs!), genP.map((t) => t.unetPerStepMs!)],
    ['· VAE decode', genL.map((t) => t.vaeMs!), genP.map((t) => t.vaeMs!)],
  ];
  const lines = [
    `bench:compare · ${model} · ${size}×${size} · ${steps} Euler steps · guidance ${guidance} · ${threads} threads each side · ${runs} interleaved runs (L, P, L, P, …)`,
    `latentkit: onnxruntime-node ${ortVersion}, CPU provider, intraOpNumThreads ${threads} · node ${process.version}`,
    `PyTorch:   torch ${info.torch} (python ${info.python}), set_num_threads(${info.threads}), inference_mode · BLAS ${info.blas.kind} (${blasLib}; BLAS_INFO=${info.blasInfo}; libblas.so.3 → ${info.blas.alternative ?? '?'}) · sgemm 1024²: ${info.blas.sgemmGflops} GFLOP/s`,
    `load average (1 min) on ${availableParallelism()} CPUs, the bench's own ${threads} threads included: ${loadStart[0]!.toFixed(2)} at the start; after each timed run median ${median(loads).toFixed(2)} (${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)}); 5/15 min at the end ${loadEnd[1]!.toFixed(2)}/${loadEnd[2]!.toFixed(2)}`,
    `CPU used by the idle side during the other's timed runs (should be ~0): latentkit ${fmt(idleCpu.L)}, PyTorch ${fmt(idleCpu.P)}`,
    `check: ${agreement}`,
    `check: the first generation's images ([0, 1] pixels): max|L−P| = ${imgErr.maxAbs.toExponential(2)}, rms relative ${imgErr.rms.toExponential(2)}`,
    'each side loads once in its own process; a UNet call and a 1-step generation at this size warm each side up first (not timed)',
    '',
    '| measured | latentkit median (min–max) | PyTorch median (min–max) | P/L (medians) | P/L (minima) |',
    '| --- | --- | --- | --- | --- |',
    `| model load (once) | ${fmt(Number(lReady['loadMs']))} | ${fmt(Number(pReady['loadMs']))} | ${(Number(pReady['loadMs']) / Number(lReady['loadMs'])).toFixed(2)} | |`,
    ...rows.map(
      ([label, l, p]) =>
        `| ${label} | ${cell(l)} | ${cell(p)} | **${(median(p) / median(l)).toFixed(2)}** | ${(Math.min(...p) / Math.min(...l)).toFixed(2)} |`,
    ),
    `| peak RSS (process, whole run) | ${(lBye.maxRssMb / 1024).toFixed(2)} GiB | ${(pBye.maxRssMb / 1024).toFixed(2)} GiB | ${(pBye.maxRssMb / lBye.maxRssMb).toFixed(2)} | |`,
  ];
  if (info.blas.kind === 'reference')
    lines.push('', '!! PyTorch ran on reference BLAS: its figures are not a fair comparison.');
  process.stdout.write(`${lines.join('\n')}\n`);
} catch (error) {
  process.stderr.write(`bench:compare: ${(error as Error).message}\n`);
  exitCode = 1;
} finally {
  L.kill();
  P.kill();
  await rm(tmp, { recursive: true, force: true });
}
process.exit(exitCode);
