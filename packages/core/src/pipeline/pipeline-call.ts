import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import { denormalizeImage } from '../image/image-range.js';
import { tensorToRgba } from '../image/rgba-image.js';
import type { Conditioning } from '../interfaces/conditioning.js';
import type { LatentCodec } from '../interfaces/latent-codec.js';
import type { PromptEncodeOptions, PromptEncoder } from '../interfaces/prompt-encoder.js';
import type { Scheduler } from '../interfaces/scheduler.js';
import type { Generator } from '../random/generator.js';
import { TorchGenerator } from '../random/torch-generator.js';
import { Tensor } from '../tensor.js';
import {
  concatConditioning,
  conditioningBatch,
  repeatConditioning,
  splitConditioning,
} from './conditioning-batch.js';
import type { OutputType } from './generate-options.js';
import { GeneratorList } from './generator-list.js';
import { checkDecodedImage } from './non-finite.js';
import { checkLatents } from './prepare-latents.js';
import { leaseScheduler } from './scheduler-lease.js';
import { type CommonOptions, checkNegativeMatches } from './validate-options.js';

function randomSeed(): number {
  return Math.floor(Math.random() * Number.MAX_SAFE_INTEGER);
}

/** The random source of one call, and the seed it was made from (undefined when the caller gave generators). */
export interface CallGenerator {
  /** One generator, or a {@link GeneratorList} that draws item i from generator i. */
  generator: Generator;
  /** The call's seed (given, or chosen at random) when the pipeline made the generator. */
  seed: number | bigint | undefined;
}

/**
 * The call's generator: the caller's generator, their list of generators (diffusers' `randn_tensor` with a
 * list: item i from generator i, in every draw), or a fresh `TorchGenerator` seeded with `seed` (a random
 * seed when none is given).
 */
export function callGenerator(v: Pick<CommonOptions, 'seed' | 'generator' | 'generators'>): CallGenerator {
  const seed = v.generator || v.generators ? undefined : (v.seed ?? randomSeed());
  const generator: Generator = v.generators
    ? new GeneratorList(v.generators)
    : (v.generator ?? new TorchGenerator(seed!));
  return { generator, seed };
}

/**
 * The denoiser's conditioning: each prompt's row repeated `numImagesPerPrompt` times in a row, and under
 * guidance `[uncond; cond]`, uncond first (diffusers' `encode_prompt` + `torch.cat([neg, pos])`); pooled
 * `textEmbeds` rows go the same way. Prompts and negative prompts are encoded in one encoder call, with
 * `prompts2` (SDXL's second encoder; `[...negativePrompts2, ...prompts2]`, each defaulting to its first-encoder
 * text) when given. SDXL's diffusers quirks: with `negativesIgnoreClipSkip` and a `clipSkip`, the negative
 * rows come from a second call on the same batch without it; with `zeroNegative` the negative conditioning is zeros
 * (hidden states and pooled) and nothing negative is encoded.
 */
export async function callConditioning(
  promptEncoder: PromptEncoder | undefined,
  v: CommonOptions,
): Promise<Conditioning> {
  let cond = v.promptEmbeds;
  let uncond = v.negativePromptEmbeds;
  const negatives = v.zeroNegative ? [] : (v.negativePrompts ?? []);
  const positives = v.prompts ?? [];
  const texts = [...negatives, ...positives];
  if (texts.length > 0) {
    const second = v.prompts2 !== undefined || v.negativePrompts2 !== undefined;
    const negatives2 = v.zeroNegative ? [] : (v.negativePrompts2 ?? negatives);
    const positives2 = v.prompts2 ?? positives;
    const separate = v.negativesIgnoreClipSkip === true && v.clipSkip !== undefined;
    const encode = async (list: string[], list2: string[], clipSkip: number | undefined) => {
      const options: PromptEncodeOptions = {};
      if (clipSkip !== undefined) options.clipSkip = clipSkip;
      if (second) options.prompts2 = list2;
      const encoded = await promptEncoder!.encode(
        list,
        Object.keys(options).length > 0 ? options : undefined,
      );
      const rows = conditioningBatch(encoded);
      if (rows !== list.length) {
        throw new ShapeMismatchError({
          name: 'promptEncoder.encode output batch',
          value: rows,
          expected: `${list.length}, one row per prompt`,
          fix: 'make the prompt encoder return one row of encoderHiddenStates per prompt',
        });
      }
      return encoded;
    };
    const all2 = [...negatives2, ...positives2];
    // One encoder call for negative and positive prompts: a batched run, and encoders that pad
    // long prompts pad both alike.
    const encoded = await encode(texts, all2, v.clipSkip);
    const [neg, pos] = splitConditioning(encoded, negatives.length);
    if (positives.length > 0) cond = pos;
    if (negatives.length > 0) uncond = neg;
    if (separate && negatives.length > 0) {
      // diffusers' SDXL encode_prompt: clip_skip for the prompts, the penultimate layer for the negatives.
      // The same batch again without clipSkip, so that long prompts are padded alike.
      uncond = splitConditioning(await encode(texts, all2, undefined), negatives.length)[0];
    }
  }
  if (!cond)
    throw new InvalidArgumentError({
      name: 'prompt',
      value: undefined,
      expected: 'a prompt or promptEmbeds',
    });
  const repeatedCond = repeatConditioning(cond, v.numImagesPerPrompt);
  if (!v.doClassifierFreeGuidance) return repeatedCond;
  if (v.zeroNegative) uncond = zerosLikeConditioning(cond);
  checkNegativeMatches(cond, uncond!);
  return concatConditioning([repeatConditioning(uncond!, v.numImagesPerPrompt), repeatedCond]);
}

/** diffusers' `torch.zeros_like` of the hidden states and the pooled embeddings (SDXL `force_zeros_for_empty_prompt`). */
function zerosLikeConditioning(c: Conditioning): Conditioning {
  const zeros = (t: Tensor) => new Tensor(new Float32Array(t.size), t.shape);
  const out: Conditioning = { encoderHiddenStates: zeros(c.encoderHiddenStates) };
  if (c.textEmbeds) out.textEmbeds = zeros(c.textEmbeds);
  return out;
}

/**
 * Runs `loop` on a scheduler state of the call's own: a clone of `shared`, or `shared` itself once the
 * earlier calls using that clone-less scheduler are done (see {@link leaseScheduler}).
 */
export async function withSchedulerLease<T>(
  shared: Scheduler,
  signal: AbortSignal | undefined,
  loop: (scheduler: Scheduler) => Promise<T>,
): Promise<T> {
  const lease = await leaseScheduler(shared, signal);
  try {
    return await loop(lease.scheduler);
  } finally {
    lease.release();
  }
}

/**
 * The call's output from its final latents: the latents themselves for `'latent'`; else `codec.decode`,
 * a check of the decoded shape `[N, 3, height, width]` and that it is finite, `[−1, 1] → [0, 1]`, and a
 * `Tensor` (`'tensor'`) or `RgbaImage[]` (`'image'`).
 */
export async function decodeOutput(
  codec: LatentCodec,
  latents: Tensor,
  outputType: OutputType,
  expectedShape: readonly number[],
  signal: AbortSignal | undefined,
): Promise<Tensor | ReturnType<typeof tensorToRgba>> {
  if (outputType === 'latent') return latents;
  signal?.throwIfAborted();
  const decoded = await codec.decode(latents);
  const image = denormalizeImage(
    checkDecodedImage(checkLatents('codec.decode output', decoded, expectedShape)),
  );
  return outputType === 'tensor' ? image : tensorToRgba(image);
}
