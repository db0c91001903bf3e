/**
 * The latentkit side of `npm run bench:compare` (compare.bench.ts starts it as a worker process, so that its
 * peak RSS is its own): loads the model once (text encoder, UNet, VAE decoder on onnxruntime-node's CPU
 * provider with the given intra-op threads), then answers the bench's requests, one JSON line on stdin →
 * one `@@{...}` line on stdout, as tools/full-size/bench_torch_sd15.py does for PyTorch.
 *
 *   node --import tsx bench/compare/latentkit-side.ts --model DIR --threads N
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { FileModelSource, NodeSessionFactory } from '@latentkit/backend-node';
import { StableDiffusionPipeline, Tensor } from '@latentkit/core';
import { ClipTokenizer, loadOnnxPipeline } from '@latentkit/onnx';
import { createScheduler } from '@latentkit/schedulers';

const { values } = parseArgs({
  options: { model: { type: 'string' }, threads: { type: 'string' } },
});
const model = values.model;
const threads = values.threads === undefined ? undefined : Number(values.threads);

function answer(obj: Record<string, unknown>): void {
  process.stdout.write(`@@${JSON.stringify(obj)}\n`);
}

function maxRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

async function readF32(path: string, shape: number[]): Promise<Tensor> {
  const bytes = await readFile(path);
  const n = shape.reduce((a, b) => a * b, 1);
  if (bytes.byteLength !== n * 4) throw new Error(`${path}: ${bytes.byteLength} bytes, expected ${n * 4}`);
  const data = new Float32Array(n);
  new Uint8Array(data.buffer).set(bytes);
  return new Tensor(data, shape);
}

async function writeF32(path: string, t: Tensor): Promise<void> {
  await writeFile(path, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

/** Adds the wall time of `object[method]` into `sink[key]` on every call. */
function timeMethod<T extends object>(
  object: T,
  method: keyof T & string,
  sink: Record<string, number>,
  key: string,
): void {
  const original = (object[method] as (...a: unknown[]) => Promise<unknown>).bind(object);
  (object as Record<string, unknown>)[method] = async (...args: unknown[]) => {
    const t0 = performance.now();
    try {
      return await original(...args);
    } finally {
      sink[key] = (sink[key] ?? 0) + performance.now() - t0;
    }
  };
}

interface Request {
  cmd: 'unet' | 'generate' | 'ids' | 'exit';
  size?: number;
  steps?: number;
  guidance?: number;
  inputs?: string;
  latents?: string;
  prompt?: string;
  out?: string | null;
}

async function main(): Promise<void> {
  if (!model) throw new Error('--model DIR is required');
  const t0 = performance.now();
  const source = new FileModelSource(model);
  const sessions = new NodeSessionFactory({
    providers: ['cpu'],
    ...(threads !== undefined ? { intraOpNumThreads: threads } : {}),
    logLevel: 'error',
  });
  // the three nets the PyTorch side has (text-to-image needs no VAE encoder)
  const parts = await loadOnnxPipeline(source, sessions, {
    components: ['text_encoder', 'unet', 'vae_decoder'],
  });
  const tokenizer = await ClipTokenizer.fromSource(source);
  const pipe = new StableDiffusionPipeline(parts);
  // Euler, on the model's noise schedule (as the PyTorch side computes it from the same config)
  pipe.scheduler = createScheduler('EulerDiscreteScheduler', parts.scheduler.config);
  const loadMs = performance.now() - t0;
  const wall: Record<string, number> = {};
  if (parts.promptEncoder) timeMethod(parts.promptEncoder, 'encode', wall, 'textMs');
  timeMethod(parts.denoiser, 'predict', wall, 'unetMs');
  timeMethod(parts.codec, 'decode', wall, 'vaeMs');
  answer({ ready: true, loadMs, maxRssMb: maxRssMb() });

  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const req = JSON.parse(line) as Request;
    try {
      if (req.cmd === 'exit') {
        answer({ bye: true, maxRssMb: maxRssMb() });
        break;
      }
      if (req.cmd === 'ids') {
        // the token ids the pipeline feeds its text encoder: [negative "", prompt]
        answer({ ids: ['', req.prompt ?? ''].map((t) => tokenizer.encode(t)) });
        continue;
      }
      const size = req.size!;
      const h = size / 8;
      if (req.cmd === 'unet') {
        const dir = req.inputs!;
        const sample = await readF32(`${dir}/sample.f32`, [2, 4, h, h]);
        const timestep = (await readF32(`${dir}/timestep.f32`, [2])).data[0]!;
        const ehs = await readF32(`${dir}/encoder_hidden_states.f32`, [2, 77, 768]);
        const u0 = performance.now();
        const out = await parts.denoiser.predict({
          sample,
          timestep,
          conditioning: { encoderHiddenStates: ehs },
        });
        const ms = performance.now() - u0;
        if (req.out) await writeF32(req.out, out);
        answer({ ms, maxRssMb: maxRssMb() });
      } else if (req.cmd === 'generate') {
        const latents = await readF32(req.latents!, [1, 4, h, h]);
        for (const k of Object.keys(wall)) wall[k] = 0;
        const g0 = performance.now();
        const result = await pipe.generate({
          prompt: req.prompt ?? '',
          numInferenceSteps: req.steps!,
          guidanceScale: req.guidance!,
          width: size,
          height: size,
          latents,
          outputType: 'tensor',
        });
        const ms = performance.now() - g0;
        if (req.out) await writeF32(req.out, result.images);
        answer({
          ms,
          textMs: wall['textMs'] ?? 0,
          unetMs: wall['unetMs'] ?? 0,
          vaeMs: wall['vaeMs'] ?? 0,
          unetPerStepMs: (wall['unetMs'] ?? 0) / req.steps!,
          maxRssMb: maxRssMb(),
        });
      } else {
        throw new Error(`unknown command ${JSON.stringify(req.cmd)}`);
      }
    } catch (error) {
      answer({ error: (error as Error).stack ?? String(error) });
    }
  }
  await pipe.dispose();
  await sessions.releaseAll();
}

main().catch((error: unknown) => {
  answer({ error: (error as Error).stack ?? String(error) });
  process.exitCode = 1;
});
