import type { Conditioning, DenoiserInput, GroundingSpec, PromptEncoder } from '@latentkit/core';
import { Tensor } from '@latentkit/core';
import { FakeUnet } from './fake-unet.js';

/**
 * The fake parts of the diffusers GLIGEN cases (tests/fixtures/reference/gligen-cases.json, described in
 * gligen-cases.md of the project's shared reference data): a fake tokenizer + text encoder with a pooled
 * output, and a grounded fake UNet whose grounding term uses only exact float64 operations.
 */

const fl = Math.fround;
const TOKENS = 77;
const HIDDEN = 32;

/** The fake tokenizer: the Unicode code points of the lower-cased text, no BOS/EOS. */
export function fakeIds(text: string): number[] {
  return Array.from(text.toLowerCase(), (ch) => ch.codePointAt(0)!);
}

/** The fake text encoder's pooled output of one text (`pooler_output`), float32 `[32]`. */
export function fakePooled(ids: readonly number[]): Float32Array {
  const n = ids.length;
  const out = new Float32Array(HIDDEN);
  for (let j = 0; j < HIDDEN; j++) {
    if (n === 0) {
      out[j] = fl(0.1 * Math.cos(0.3 * j));
      continue;
    }
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.sin(0.021 * ids[i]! * (j + 1) + 0.37 * i + 0.5);
    out[j] = fl(0.1 * Math.cos(0.3 * j) + s / n);
  }
  return out;
}

/**
 * The fake tokenizer + text encoder as a `PromptEncoder`: prompts padded/truncated to 77 ids →
 * `encoderHiddenStates [B, 77, 32]` and `textEmbeds [B, 32]`; `encodePooled(texts)` → `[n, 32]` (phrases,
 * not truncated). Records its calls.
 */
export class FakeGligenTextEncoder implements PromptEncoder {
  readonly encodeCalls: string[][] = [];
  readonly pooledCalls: string[][] = [];

  async encode(prompts: string[]): Promise<Conditioning> {
    this.encodeCalls.push([...prompts]);
    const ehs = new Float32Array(prompts.length * TOKENS * HIDDEN);
    const pooled = new Float32Array(prompts.length * HIDDEN);
    prompts.forEach((p, b) => {
      const ids = fakeIds(p).slice(0, TOKENS);
      for (let i = 0; i < TOKENS; i++) {
        const u = ids[i] ?? 0;
        for (let j = 0; j < HIDDEN; j++) {
          ehs[(b * TOKENS + i) * HIDDEN + j] =
            0.5 * Math.sin(0.037 * u * (j + 1) + 0.11 * i) + 0.003 * u - 0.2 * Math.cos(0.05 * j + 0.2 * i);
        }
      }
      pooled.set(fakePooled(ids), b * HIDDEN);
    });
    return {
      encoderHiddenStates: new Tensor(ehs, [prompts.length, TOKENS, HIDDEN]),
      textEmbeds: new Tensor(pooled, [prompts.length, HIDDEN]),
    };
  }

  async encodePooled(texts: string[]): Promise<Tensor> {
    this.pooledCalls.push([...texts]);
    const out = new Float32Array(texts.length * HIDDEN);
    texts.forEach((t, b) => {
      out.set(fakePooled(fakeIds(t)), b * HIDDEN);
    });
    return new Tensor(out, [texts.length, HIDDEN]);
  }
}

/** `s(z) = 0.5 + 0.5·z / (1 + |z|)`: the fake's soft step. */
const soft = (z: number) => 0.5 + (0.5 * z) / (1 + Math.abs(z));

/**
 * The fake's grounding term `G [B, H, W]` (float64, then the caller rounds): per slot k,
 * `m_k·a_k·in_k + (1 − m_k)·0.004` with `a_k = 0.25 + 2·e_k`, `e_k` the W-weighted mean of the slot's
 * embedding and `in_k` the soft inside-the-box indicator at the latent pixel's centre.
 */
export function groundingTerm(g: NonNullable<DenoiserInput['gligen']>, H: number, W: number): Float64Array {
  const [B, N] = g.masks.shape as [number, number];
  const D = g.positiveEmbeddings.shape[2]!;
  const weights = Array.from({ length: D }, (_, j) => 1 - ((7 * j) % 11) / 5);
  const out = new Float64Array(B * H * W);
  for (let b = 0; b < B; b++) {
    const a: number[] = [];
    for (let k = 0; k < N; k++) {
      let e = 0;
      for (let j = 0; j < D; j++) e += weights[j]! * g.positiveEmbeddings.data[(b * N + k) * D + j]!;
      a.push(0.25 + 2 * (e / D));
    }
    for (let h = 0; h < H; h++) {
      for (let w = 0; w < W; w++) {
        const px = (w + 0.5) / W;
        const py = (h + 0.5) / H;
        let G = 0;
        for (let k = 0; k < N; k++) {
          const [x0, y0, x1, y1] = g.boxes.data.subarray((b * N + k) * 4, (b * N + k + 1) * 4);
          const inside =
            soft(12 * (px - x0!)) * soft(12 * (x1! - px)) * soft(12 * (py - y0!)) * soft(12 * (y1! - py));
          const m = g.masks.data[b * N + k]!;
          G += m * a[k]! * inside + (1 - m) * 0.004;
        }
        out[(b * H + h) * W + w] = G;
      }
    }
  }
  return out;
}

/**
 * The grounded fake UNet of gligen-cases.md: {@link FakeUnet}'s output, plus `fl(G[b,h,w])` on every
 * channel while `gligen.enabled`. Records each call and its grounding term.
 */
export class FakeGligenUnet extends FakeUnet {
  readonly grounding: GroundingSpec = { maxObjects: 30, embeddingDim: HIDDEN };
  /** Each call's `fl(G)` `[B, H, W]`, or undefined when grounding was off. */
  readonly terms: (Float32Array | undefined)[] = [];

  override async predict(input: DenoiserInput): Promise<Tensor> {
    const out = await super.predict(input);
    const g = input.gligen;
    if (!g?.enabled) {
      this.terms.push(undefined);
      return out;
    }
    const [B, C, H, W] = out.shape as [number, number, number, number];
    const G = Float32Array.from(groundingTerm(g, H, W));
    this.terms.push(G);
    const data = out.data;
    for (let b = 0; b < B; b++)
      for (let c = 0; c < C; c++)
        for (let p = 0; p < H * W; p++)
          data[(b * C + c) * H * W + p] = fl(data[(b * C + c) * H * W + p]! + G[b * H * W + p]!);
    return out;
  }
}
