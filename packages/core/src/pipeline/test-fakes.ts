/**
 * Small deterministic parts for the pipeline's unit tests (not exported from the package): each records
 * what the pipeline passed to it, so tests can check batching, ordering and arithmetic.
 */
import type { Conditioning } from '../interfaces/conditioning.js';
import type { Denoiser, DenoiserInput } from '../interfaces/denoiser.js';
import type { LatentCodec } from '../interfaces/latent-codec.js';
import type { PromptEncodeOptions, PromptEncoder } from '../interfaces/prompt-encoder.js';
import type { Scheduler, SchedulerStepOptions } from '../interfaces/scheduler.js';
import type { Generator } from '../random/generator.js';
import { Tensor } from '../tensor.js';

/** Token count of {@link FakePromptEncoder}'s conditioning. */
export const FAKE_TOKENS = 3;
/** Hidden size of {@link FakePromptEncoder}'s conditioning. */
export const FAKE_HIDDEN = 4;

/** The value {@link FakePromptEncoder} fills a prompt's row with: distinct per prompt. */
export function promptValue(prompt: string): number {
  let v = prompt.length;
  for (const ch of prompt) v += ch.charCodeAt(0) / 1000;
  return Math.fround(v);
}

/** Encodes each prompt as a constant row `[FAKE_TOKENS, FAKE_HIDDEN]` of {@link promptValue}. */
export class FakePromptEncoder implements PromptEncoder {
  readonly calls: string[][] = [];
  readonly options: (PromptEncodeOptions | undefined)[] = [];
  async encode(prompts: string[], options?: PromptEncodeOptions): Promise<Conditioning> {
    this.calls.push([...prompts]);
    this.options.push(options);
    const row = FAKE_TOKENS * FAKE_HIDDEN;
    const data = new Float32Array(prompts.length * row);
    prompts.forEach((p, i) => {
      data.fill(promptValue(p), i * row, (i + 1) * row);
    });
    return { encoderHiddenStates: new Tensor(data, [prompts.length, FAKE_TOKENS, FAKE_HIDDEN]) };
  }
}

/** A conditioning of `rows` constant rows with the given values. */
export function constantConditioning(
  values: readonly number[],
  tokens = FAKE_TOKENS,
  hidden = FAKE_HIDDEN,
): Conditioning {
  const row = tokens * hidden;
  const data = new Float32Array(values.length * row);
  values.forEach((v, i) => {
    data.fill(v, i * row, (i + 1) * row);
  });
  return { encoderHiddenStates: new Tensor(data, [values.length, tokens, hidden]) };
}

/**
 * Predicts `out[b, c] = fl(0.5·sample[b, c] + ehs[b, 0, 0] + 0.01·c)` for the first 4 channels, so each
 * batch row shows which conditioning it got. Records every input.
 */
export class FakeDenoiser implements Denoiser {
  readonly calls: DenoiserInput[] = [];
  readonly inChannels: number;
  readonly sampleSize: number | undefined;
  constructor(options: { inChannels?: number; sampleSize?: number } = {}) {
    this.inChannels = options.inChannels ?? 4;
    this.sampleSize = options.sampleSize;
  }
  async predict(input: DenoiserInput): Promise<Tensor> {
    this.calls.push(input);
    const [n, , h, w] = input.sample.shape as [number, number, number, number];
    const ehs = input.conditioning.encoderHiddenStates;
    const rowSize = ehs.size / ehs.shape[0]!;
    const plane = h * w;
    const out = new Float32Array(n * 4 * plane);
    for (let b = 0; b < n; b++) {
      const cond = ehs.data[b * rowSize]!;
      for (let c = 0; c < 4; c++) {
        for (let p = 0; p < plane; p++) {
          const s = input.sample.data[(b * this.inChannels + c) * plane + p]!;
          out[(b * 4 + c) * plane + p] = 0.5 * s + cond + 0.01 * c;
        }
      }
    }
    return new Tensor(out, [n, 4, h, w]);
  }
}

/**
 * A codec with downscale 8: encode = 8×8 block means of the 3 channels plus their average as channel 4,
 * plus `0.01·randn` when `draws` (so it consumes the generator like a VAE sample); decode = `tanh` nearest ×8.
 */
export class FakeCodec implements LatentCodec {
  readonly latentChannels = 4;
  readonly downscale = 8;
  readonly encodeCalls: { image: Tensor; generator: Generator | undefined }[] = [];
  readonly decodeCalls: Tensor[] = [];
  constructor(readonly draws = false) {}

  /** The deterministic part of encode. */
  static blockMeans(image: Tensor): Tensor {
    const [n, , H, W] = image.shape as [number, number, number, number];
    const h = H / 8;
    const w = W / 8;
    const out = new Float32Array(n * 4 * h * w);
    for (let b = 0; b < n; b++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          let all = 0;
          for (let c = 0; c < 3; c++) {
            let s = 0;
            for (let dy = 0; dy < 8; dy++) {
              for (let dx = 0; dx < 8; dx++)
                s += image.data[((b * 3 + c) * H + y * 8 + dy) * W + x * 8 + dx]!;
            }
            out[((b * 4 + c) * h + y) * w + x] = s / 64;
            all += s / 64;
          }
          out[((b * 4 + 3) * h + y) * w + x] = all / 3;
        }
      }
    }
    return new Tensor(out, [n, 4, h, w]);
  }

  async encode(image: Tensor, options?: { generator?: Generator }): Promise<Tensor> {
    this.encodeCalls.push({ image, generator: options?.generator });
    const mean = FakeCodec.blockMeans(image);
    if (!this.draws) return mean;
    return mean.add(options!.generator!.randn(mean.shape).mul(0.01));
  }

  async decode(latents: Tensor): Promise<Tensor> {
    this.decodeCalls.push(latents);
    const [n, , h, w] = latents.shape as [number, number, number, number];
    const out = new Float32Array(n * 3 * h * 8 * w * 8);
    let i = 0;
    for (let b = 0; b < n; b++) {
      for (let c = 0; c < 3; c++) {
        for (let Y = 0; Y < h * 8; Y++) {
          for (let X = 0; X < w * 8; X++)
            out[i++] = Math.tanh(latents.data[((b * 4 + c) * h + (Y >> 3)) * w + (X >> 3)]!);
        }
      }
    }
    return new Tensor(out, [n, 3, h * 8, w * 8]);
  }
}

/** One recorded {@link FakeScheduler.step} call. */
export interface StepCall {
  modelOutput: Tensor;
  timestep: number;
  sample: Tensor;
  options: SchedulerStepOptions | undefined;
}

/**
 * A scheduler with simple, checkable arithmetic: timesteps `[900, 800, …]` (100 apart), input scaled by
 * 0.5, `step = sample − 0.1·eps (+ 0.1·randn when stochastic)`, `addNoise = original + (t/1000)·noise`,
 * initNoiseSigma 2. Records calls.
 */
export class FakeScheduler implements Scheduler {
  readonly config = { num_train_timesteps: 1000 };
  readonly order = 1;
  readonly initNoiseSigma = 2;
  timesteps: number[] = [];
  readonly stepCalls: StepCall[] = [];
  readonly scaleCalls: Tensor[] = [];
  readonly addNoiseCalls: { original: Tensor; noise: Tensor; timestep: number }[] = [];
  beginIndex: number | undefined;
  constructor(readonly stochastic = false) {}
  setTimesteps(n: number): void {
    this.timesteps = Array.from({ length: n }, (_, i) => (n - i) * 100);
    this.beginIndex = undefined;
  }
  scaleModelInput(sample: Tensor): Tensor {
    this.scaleCalls.push(sample);
    return sample.mul(0.5);
  }
  step(modelOutput: Tensor, timestep: number, sample: Tensor, options?: SchedulerStepOptions) {
    this.stepCalls.push({ modelOutput, timestep, sample, options });
    let prev = sample.sub(modelOutput.mul(0.1));
    if (this.stochastic) prev = prev.add(options!.generator!.randn(sample.shape).mul(0.1));
    return { prevSample: prev };
  }
  addNoise(original: Tensor, noise: Tensor, timestep: number): Tensor {
    this.addNoiseCalls.push({ original, noise, timestep });
    return original.add(noise.mul(timestep / 1000));
  }
  setBeginIndex(index: number): void {
    this.beginIndex = index;
  }
}

/** A `[1, 3, size, size]` image in [0, 1] with a smooth pattern. */
export function testImage(size = 16, batch = 1): Tensor {
  return new Tensor(
    Float32Array.from({ length: batch * 3 * size * size }, (_, i) => (Math.sin(i / 7) + 1) / 2),
    [batch, 3, size, size],
  );
}
