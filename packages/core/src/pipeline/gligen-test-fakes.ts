/**
 * Small deterministic parts for the GLIGEN pipeline's unit tests (not exported from the package), beside
 * test-fakes.ts: a grounded denoiser that records the grounding inputs and adds a visible term while
 * grounding is on, a prompt encoder with `encodePooled`, and a pipeline of fakes.
 */
import type { DenoiserInput, GroundingInput, GroundingSpec } from '../interfaces/denoiser.js';
import { Tensor } from '../tensor.js';
import { StableDiffusionGLIGENPipeline } from './stable-diffusion-gligen-pipeline.js';
import { FakeCodec, FakeDenoiser, FakePromptEncoder, FakeScheduler, promptValue } from './test-fakes.js';

/** The phrase embedding width of the fakes. */
export const FAKE_EMBEDDING_DIM = 8;

/** A prompt encoder whose `encodePooled` gives row i = `promptValue(texts[i]) + 0.01·j`. Records calls. */
export class FakePooledPromptEncoder extends FakePromptEncoder {
  readonly pooledCalls: string[][] = [];
  constructor(readonly pooledDim = FAKE_EMBEDDING_DIM) {
    super();
  }
  async encodePooled(texts: string[]): Promise<Tensor> {
    this.pooledCalls.push([...texts]);
    const D = this.pooledDim;
    return new Tensor(
      Float32Array.from(
        { length: texts.length * D },
        (_, i) => promptValue(texts[Math.floor(i / D)]!) + 0.01 * (i % D),
      ),
      [texts.length, D],
    );
  }
}

/**
 * A grounded {@link FakeDenoiser}: records each call's `gligen`, and while it is enabled adds to every
 * output value of row b the sum of `masks[b]` (so a test sees grounding and masks in the latents).
 */
export class FakeGroundedDenoiser extends FakeDenoiser {
  readonly grounding: GroundingSpec;
  readonly gligenCalls: (GroundingInput | undefined)[] = [];
  constructor(spec: Partial<GroundingSpec> = {}) {
    super({ sampleSize: 2 });
    this.grounding = {
      maxObjects: spec.maxObjects ?? 30,
      embeddingDim: spec.embeddingDim ?? FAKE_EMBEDDING_DIM,
    };
  }
  override async predict(input: DenoiserInput): Promise<Tensor> {
    this.gligenCalls.push(input.gligen);
    const out = await super.predict(input);
    const g = input.gligen;
    if (!g?.enabled) return out;
    const n = out.shape[0]!;
    const S = g.masks.shape[1]!;
    const inner = out.size / n;
    return out.map((v, i) => {
      const b = Math.floor(i / inner);
      let m = 0;
      for (let k = 0; k < S; k++) m += g.masks.data[b * S + k]!;
      return v + m;
    });
  }
}

/** A GLIGEN pipeline of fakes (16×16 images by default: sampleSize 2 × downscale 8). */
export function fakeGligen(options: { stochastic?: boolean; maxObjects?: number; pooledDim?: number } = {}) {
  const denoiser = new FakeGroundedDenoiser(options.maxObjects ? { maxObjects: options.maxObjects } : {});
  const codec = new FakeCodec();
  const scheduler = new FakeScheduler(options.stochastic ?? false);
  const promptEncoder = new FakePooledPromptEncoder(options.pooledDim);
  const pipe = new StableDiffusionGLIGENPipeline({ denoiser, codec, scheduler, promptEncoder });
  return { pipe, denoiser, codec, scheduler, promptEncoder };
}

/** Two objects of a valid layout. */
export const TWO_OBJECTS = [
  { phrase: 'a red circle', box: [0.05, 0.05, 0.45, 0.45] as [number, number, number, number] },
  { phrase: 'a blue square', box: [0.55, 0.55, 0.95, 0.95] as [number, number, number, number] },
];
