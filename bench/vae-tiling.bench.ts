/**
 * VAE tiling benchmark (issue 15): peak memory and time of decoding large latents with the shipped VAE
 * decoder, untiled and with `TiledLatentCodec`, each run in a fresh child process.
 *
 *   npm run bench:vae-tiling -- [--runs 3] [--cap-gib 8] [--cases 128,256,512] [--tiles 256,512]
 *
 * For each latent size n (`--cases`; latents [1, 4, n, n] → a 4n × 4n image, the shipped VAE's downscale
 * is 4) it decodes untiled and then tiled with each tile size of `--tiles` (image pixels; overlap 0.25),
 * `--runs` times each, every run in a new Node process that loads the model, decodes once and reports
 * its peak resident memory (VmHWM from /proc/self/status, else `process.resourceUsage().maxRSS`) before
 * and after the decode, and the decode's wall time. The table shows medians.
 *
 * The decoder's mid-block attention holds (h·w)² float32 scores for h × w latents: 1 GiB at 128², 16 GiB
 * at 256², 256 GiB at 512². So that the machine is not driven into swap or the OOM killer, the parent
 * watches each child's resident memory and kills it above `--cap-gib` (default 8 GiB); such a run is
 * reported as "> cap" and not repeated. Speed and memory are measured here, never in tests.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HELP = `usage: npm run bench:vae-tiling -- [options]

  --runs N        runs per configuration, each in a fresh process (default 3; medians are shown)
  --cap-gib G     kill a run whose resident memory passes G GiB (default 8)
  --cases LIST    latent sides n to decode, [1, 4, n, n] → 4n × 4n pixels (default 128,256,512)
  --tiles LIST    tile sizes in image pixels for the tiled runs (default 256,512; 512 is the default tile)
  --skip-untiled  only the tiled runs
  --no-arena      load the decoder with sessionOptions { enableCpuMemArena: false }
  -h, --help      this text
`;

/** What a child reports on its last stdout line. */
interface ChildReport {
  ok: boolean;
  /** Peak resident memory after loading the model, before the decode, in KiB. */
  baselineKiB?: number;
  /** Peak resident memory after the decode, in KiB. */
  peakKiB?: number;
  /** Wall time of the decode, ms. */
  ms?: number;
  /** Tiles the inner decoder ran. */
  tiles?: number;
  shape?: number[];
  error?: string;
}

function statusKiB(field: 'VmHWM' | 'VmRSS', pid: number | 'self' = 'self'): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${field}:`));
    return line ? Number(line.split(/\s+/)[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Peak resident memory of this process so far, KiB. */
function peakKiB(): number {
  return statusKiB('VmHWM') ?? process.resourceUsage().maxRSS;
}

async function child(n: number, tile: number, arena: boolean): Promise<void> {
  const report = (r: ChildReport) => process.stdout.write(`${JSON.stringify(r)}\n`);
  try {
    const { nodeBackend } = await import('@latentkit/backend-node');
    const { TiledLatentCodec, TorchGenerator } = await import('@latentkit/core');
    const { shapesModelPath } = await import('@latentkit/model-shapes');
    const parts = await nodeBackend.load(shapesModelPath, {
      components: ['unet', 'vae_decoder'],
      ...(arena ? {} : { sessionOptions: { enableCpuMemArena: false } }),
    });
    const latents = new TorchGenerator(1).randn([1, parts.codec.latentChannels, n, n]);
    let tiles = 0;
    const counted = {
      latentChannels: parts.codec.latentChannels,
      downscale: parts.codec.downscale,
      decode: (z: Parameters<typeof parts.codec.decode>[0]) => {
        tiles++;
        return parts.codec.decode(z);
      },
    };
    const codec = tile > 0 ? new TiledLatentCodec(counted, { tileSampleSize: tile }) : counted;
    const baselineKiB = peakKiB();
    const t0 = performance.now();
    const image = await codec.decode(latents);
    const ms = performance.now() - t0;
    report({ ok: true, baselineKiB, peakKiB: peakKiB(), ms, tiles, shape: [...image.shape] });
    await parts.dispose();
  } catch (e) {
    report({ ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  }
}

interface RunResult {
  report?: ChildReport;
  /** The largest resident memory the parent saw, KiB. */
  seenKiB: number;
  killedAtCap: boolean;
  exit: string;
}

function runChild(n: number, tile: number, arena: boolean, capKiB: number): Promise<RunResult> {
  const self = fileURLToPath(import.meta.url);
  return new Promise((resolve) => {
    const proc = spawn(
      process.execPath,
      [...process.execArgv, self, '--child', String(n), String(tile), arena ? 'arena' : 'no-arena'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    let seenKiB = 0;
    let killedAtCap = false;
    proc.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    proc.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const watch = setInterval(() => {
      const rss = proc.pid === undefined ? undefined : statusKiB('VmRSS', proc.pid);
      if (rss === undefined) return;
      seenKiB = Math.max(seenKiB, rss);
      if (rss > capKiB && !killedAtCap) {
        killedAtCap = true;
        proc.kill('SIGKILL');
      }
    }, 20);
    proc.on('close', (code, signal) => {
      clearInterval(watch);
      const last = stdout.trim().split('\n').at(-1);
      let report: ChildReport | undefined;
      try {
        report = last ? (JSON.parse(last) as ChildReport) : undefined;
      } catch {
        report = undefined;
      }
      if (!report && !killedAtCap && stderr) process.stderr.write(stderr.slice(-2000));
      resolve({ report, seenKiB, killedAtCap, exit: signal ?? String(code) });
    });
  });
}

/** onnxruntime's allocation failure in a few words, else the start of the message. */
function shortError(error: string | undefined): string | undefined {
  if (error === undefined) return undefined;
  const size = /Failed to allocate memory for requested buffer of size (\d+)/.exec(error);
  if (size) return `onnxruntime could not allocate ${(Number(size[1]) / 2 ** 30).toFixed(0)} GiB`;
  const node = /running (\w+) node\. Name:'([^']*)'.*(bad_alloc)/s.exec(error);
  if (node) return `std::bad_alloc in onnxruntime's ${node[1]} ${node[2]}`;
  return error.slice(0, 160);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const mib = (kib: number) => (kib / 1024).toFixed(0);

function list(name: string, text: string): number[] {
  const xs = text.split(',').map(Number);
  if (xs.some((x) => !Number.isSafeInteger(x) || x < 1)) {
    process.stderr.write(
      `--${name} ${text} is invalid: expected positive integers separated by commas.\n\n${HELP}`,
    );
    process.exit(2);
  }
  return xs;
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') {
    await child(Number(process.argv[3]), Number(process.argv[4]), process.argv[5] !== 'no-arena');
    return;
  }
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      'cap-gib': { type: 'string', default: '8' },
      cases: { type: 'string', default: '128,256,512' },
      tiles: { type: 'string', default: '256,512' },
      'skip-untiled': { type: 'boolean', default: false },
      'no-arena': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const [runs] = list('runs', values.runs);
  const capGiB = Number(values['cap-gib']);
  if (!(capGiB > 0)) {
    process.stderr.write(`--cap-gib ${values['cap-gib']} is invalid: expected a positive number.\n\n${HELP}`);
    process.exit(2);
  }
  const capKiB = capGiB * 1024 * 1024;
  const cases = list('cases', values.cases);
  const tiles = list('tiles', values.tiles);
  process.stdout.write(
    `VAE tiling: shipped VAE decoder (downscale 4), latents [1, 4, n, n] → 4n × 4n; ${runs} runs each in a fresh process; cap ${capGiB} GiB; CPU memory arena ${values['no-arena'] ? 'off' : 'on'}\n\n`,
  );
  const header =
    '| image | latents | decode | tiles | peak RSS MiB | over baseline MiB | decode s | result |';
  process.stdout.write(`${header}\n|---|---|---|---|---|---|---|---|\n`);
  for (const n of cases) {
    const modes = [...(values['skip-untiled'] ? [] : [0]), ...tiles];
    for (const tile of modes) {
      const label = tile === 0 ? 'untiled' : `tiled ${tile} px`;
      const done: ChildReport[] = [];
      let failure: string | undefined;
      for (let r = 0; r < runs!; r++) {
        const result = await runChild(n, tile, !values['no-arena'], capKiB);
        if (result.killedAtCap) {
          failure = `> cap: killed at ${mib(result.seenKiB)} MiB resident`;
          break;
        }
        if (!result.report?.ok) {
          failure = `failed (${shortError(result.report?.error) ?? `exit ${result.exit}`}); saw ${mib(result.seenKiB)} MiB`;
          break;
        }
        done.push(result.report);
      }
      const image = `${4 * n}²`;
      if (failure) {
        process.stdout.write(`| ${image} | ${n}² | ${label} | | | | | ${failure} |\n`);
        continue;
      }
      const peak = median(done.map((d) => d.peakKiB!));
      const over = median(done.map((d) => d.peakKiB! - d.baselineKiB!));
      const seconds = median(done.map((d) => d.ms! / 1000));
      process.stdout.write(
        `| ${image} | ${n}² | ${label} | ${done[0]!.tiles} | ${mib(peak)} | ${mib(over)} | ${seconds.toFixed(1)} | ok, [${done[0]!.shape!.join(', ')}] |\n`,
      );
    }
  }
}

await main();
