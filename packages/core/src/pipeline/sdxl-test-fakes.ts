/**
 * The fake SDXL parts of the project's reference cases (sdxl-cases.md; not exported from the package):
 * a micro-conditioned UNet whose output shows which hidden states, pooled embeddings and time ids each
 * batch row got, and a VAE with SDXL's scaling factor. Also an SDXL prompt encoder for the unit tests.
 */
import type { Conditioning } from '../interfaces/conditioning.js';
import type { Denoiser, DenoiserInput, MicroConditioningSpec } from '../interfaces/denoiser.js';
import type { LatentCodec } from '../interfaces/latent-codec.js';
import type { PromptEncodeOptions, PromptEncoder } from '../interfaces/prompt-encoder.js';
import type { Generator } from '../random/generator.js';
import { Tensor } from '../tensor.js';
import { promptValue } from './test-fakes.js';

const fl = Math.fround;

/** SDXL's VAE scaling factor (`vae/config.json` `scaling_factor` of SDXL base 1.0). */
export const SDXL_SCALING_FACTOR = 0.13025;

/** float64 left-to-right mean of `count` values of `data` from `start`. */
function mean64(data: Float32Array, start: number, count: number): number {
  let s = 0;
  for (let i = start; i < start + count; i++) s += data[i]!;
  return s / count;
}

/** The per-row terms of one {@link FakeSdxlUnet} call, as sdxl-cases.json records them. */
export interface SdxlUnetTerms {
  m: number[];
  p: number[];
  q: number[];
  k?: number[];
}

/**
 * sdxl-cases.md's fake UNet (4 or 9 input channels): per row b,
 * `out = fl(fl(fl(fl(fl(fl(0.3)·x) + term) + m_b) + fl(p_b·x)) + q_b)` (+ `k_b` for 9 channels) with
 * `term = fl(0.1·cos(t/250 + c + 0.1y − 0.07x))`, `m_b = fl(0.05·mean64(ehs[b]))`,
 * `p_b = fl(0.1·mean64(textEmbeds[b]))`, `q_b = fl(0.02·sin(0.1·Σ(k+1)·timeIds[b,k]))`,
 * `k_b = fl(0.02·mean64(sample[b, 4:9]))`. Records every call and its terms.
 */
export class FakeSdxlUnet implements Denoiser {
  readonly calls: DenoiserInput[] = [];
  readonly terms: SdxlUnetTerms[] = [];
  readonly microConditioning: MicroConditioningSpec;
  readonly sampleSize: number | undefined;
  constructor(
    readonly inChannels = 4,
    options: { timeIdCount?: number; textEmbedsDim?: number; sampleSize?: number } = {},
  ) {
    this.microConditioning = {
      timeIdCount: options.timeIdCount ?? 6,
      textEmbedsDim: options.textEmbedsDim,
    };
    this.sampleSize = options.sampleSize;
  }

  async predict(input: DenoiserInput): Promise<Tensor> {
    this.calls.push(input);
    const { sample, timestep: t, conditioning } = input;
    const { encoderHiddenStates: ehs, textEmbeds, timeIds } = conditioning;
    if (!textEmbeds || !timeIds) throw new Error('an SDXL UNet needs textEmbeds and timeIds');
    const [n, ch, h, w] = sample.shape as [number, number, number, number];
    for (const [name, rows] of [
      ['encoderHiddenStates', ehs.shape[0]],
      ['textEmbeds', textEmbeds.shape[0]],
      ['timeIds', timeIds.shape[0]],
    ] as const) {
      if (rows !== n) throw new Error(`${name} has ${rows} rows for a sample batch of ${n}`);
    }
    const K = timeIds.shape[1]!;
    if (K !== this.microConditioning.timeIdCount)
      throw new Error(`expected ${this.microConditioning.timeIdCount} time ids, got ${K}`);
    const ehsRow = ehs.size / n;
    const pRow = textEmbeds.shape[1]!;
    const plane = h * w;
    const terms: SdxlUnetTerms = { m: [], p: [], q: [] };
    if (ch === 9) terms.k = [];
    const out = new Float32Array(n * 4 * plane);
    const k3 = fl(0.3);
    for (let b = 0; b < n; b++) {
      const m = fl(0.05 * mean64(ehs.data, b * ehsRow, ehsRow));
      const p = fl(0.1 * mean64(textEmbeds.data, b * pRow, pRow));
      let S = 0;
      for (let k = 0; k < K; k++) S += (k + 1) * timeIds.data[b * K + k]!;
      const q = fl(0.02 * Math.sin(0.1 * S));
      const kb = ch === 9 ? fl(0.02 * mean64(sample.data, (b * 9 + 4) * plane, 5 * plane)) : 0;
      terms.m.push(m);
      terms.p.push(p);
      terms.q.push(q);
      terms.k?.push(kb);
      for (let c = 0; c < 4; c++) {
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            const xv = sample.data[(b * ch + c) * plane + y * w + x]!;
            const term = fl(0.1 * Math.cos(t / 250 + c + 0.1 * y - 0.07 * x));
            let o = fl(k3 * xv);
            o = fl(o + term);
            o = fl(o + m);
            o = fl(o + fl(p * xv));
            o = fl(o + q);
            if (ch === 9) o = fl(o + kb);
            out[(b * 4 + c) * plane + y * w + x] = o;
          }
        }
      }
    }
    this.terms.push(terms);
    return new Tensor(out, [n, 4, h, w]);
  }
}

/** One recorded {@link FakeSdxlVae.encode} call. */
export interface SdxlVaeEncodeCall {
  input: Tensor;
  /** The deterministic part (the block means), before the sampled noise and the scaling. */
  mean: Tensor;
}

/**
 * sdxl-cases.md's fake VAE (downscale 8, 4 latent channels, scaling factor 0.13025 applied inside):
 * decode `tanh(fl(z / fl(0.13025)))` nearest ×8; encode = 8×8 block means of the 3 channels and their
 * average, `+ fl(fl(exp(−15))·randn)` drawn from the generator, `× fl(0.13025)`.
 */
export class FakeSdxlVae implements LatentCodec {
  readonly latentChannels = 4;
  readonly downscale = 8;
  readonly encodeCalls: SdxlVaeEncodeCall[] = [];
  readonly decodeCalls: Tensor[] = [];

  async encode(image: Tensor, options?: { generator?: Generator }): Promise<Tensor> {
    const [n, , H, W] = image.shape as [number, number, number, number];
    const h = H / 8;
    const w = W / 8;
    const mean = new Float32Array(n * 4 * h * w);
    for (let b = 0; b < n; b++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const p: number[] = [];
          for (let c = 0; c < 3; c++) {
            let s = 0;
            for (let dy = 0; dy < 8; dy++)
              for (let dx = 0; dx < 8; dx++)
                s += image.data[((b * 3 + c) * H + y * 8 + dy) * W + x * 8 + dx]!;
            p.push(fl(s / 64));
            mean[((b * 4 + c) * h + y) * w + x] = p[c]!;
          }
          mean[((b * 4 + 3) * h + y) * w + x] = fl((p[0]! + p[1]! + p[2]!) / 3);
        }
      }
    }
    const meanTensor = new Tensor(mean, [n, 4, h, w]);
    this.encodeCalls.push({ input: image, mean: meanTensor });
    const noise = options!.generator!.randn([n, 4, h, w]);
    const std = fl(Math.exp(-15));
    const scale = fl(SDXL_SCALING_FACTOR);
    const out = new Float32Array(mean.length);
    for (let i = 0; i < out.length; i++) out[i] = fl(fl(mean[i]! + fl(std * noise.data[i]!)) * scale);
    return new Tensor(out, [n, 4, h, w]);
  }

  async decode(latents: Tensor): Promise<Tensor> {
    this.decodeCalls.push(latents);
    const [n, , h, w] = latents.shape as [number, number, number, number];
    const scale = fl(SDXL_SCALING_FACTOR);
    const H = h * 8;
    const W = w * 8;
    const out = new Float32Array(n * 3 * H * W);
    let i = 0;
    for (let b = 0; b < n; b++)
      for (let c = 0; c < 3; c++)
        for (let Y = 0; Y < H; Y++)
          for (let X = 0; X < W; X++, i++)
            out[i] = fl(Math.tanh(fl(latents.data[((b * 4 + c) * h + (Y >> 3)) * w + (X >> 3)]! / scale)));
    return new Tensor(out, [n, 3, H, W]);
  }
}

/** Hidden size of {@link FakeSdxlPromptEncoder}'s conditioning (two encoders of 4, concatenated). */
export const FAKE_SDXL_HIDDEN = 8;
/** Width of {@link FakeSdxlPromptEncoder}'s pooled embeddings. */
export const FAKE_SDXL_POOLED = 4;

/**
 * An SDXL-like prompt encoder: hidden states `[B, 3, 8]` whose first 4 columns are
 * `promptValue(prompt)` and last 4 `promptValue(prompt2)` (+ `0.001·clipSkip` when given), and pooled
 * `textEmbeds` `[B, 4]` of `promptValue(prompt2)`. Records every call.
 */
export class FakeSdxlPromptEncoder implements PromptEncoder {
  readonly calls: { prompts: string[]; options: PromptEncodeOptions | undefined }[] = [];
  async encode(prompts: string[], options?: PromptEncodeOptions): Promise<Conditioning> {
    this.calls.push({ prompts: [...prompts], options });
    const second = options?.prompts2 ?? prompts;
    const skip = options?.clipSkip === undefined ? 0 : 0.001 * options.clipSkip;
    const tokens = 3;
    const ehs = new Float32Array(prompts.length * tokens * FAKE_SDXL_HIDDEN);
    const pooled = new Float32Array(prompts.length * FAKE_SDXL_POOLED);
    prompts.forEach((p, b) => {
      for (let t = 0; t < tokens; t++) {
        for (let j = 0; j < FAKE_SDXL_HIDDEN; j++) {
          ehs[(b * tokens + t) * FAKE_SDXL_HIDDEN + j] =
            (j < 4 ? promptValue(p) : promptValue(second[b]!)) + skip;
        }
      }
      pooled.fill(promptValue(second[b]!), b * FAKE_SDXL_POOLED, (b + 1) * FAKE_SDXL_POOLED);
    });
    return {
      encoderHiddenStates: new Tensor(ehs, [prompts.length, tokens, FAKE_SDXL_HIDDEN]),
      textEmbeds: new Tensor(pooled, [prompts.length, FAKE_SDXL_POOLED]),
    };
  }
}
