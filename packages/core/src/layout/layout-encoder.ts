import { InvalidArgumentError, ModelMismatchError, ShapeMismatchError } from '../errors.js';
import type { GroundingSpec } from '../interfaces/denoiser.js';
import type { PromptEncoder } from '../interfaces/prompt-encoder.js';
import { checkFinite } from '../pipeline/validate-options.js';
import { Tensor } from '../tensor.js';
import { checkLayout, LAYOUT_INPUT_NAMES, type LayoutNames } from './check-layout.js';
import { checkGroundingRow, type GroundingTensors } from './grounding-batch.js';
import type { CheckedLayout, LayoutInput } from './layout-input.js';

/**
 * What turns a layout into grounding tensors: the part of layout-to-image a user may replace (e.g. to
 * encode phrases differently, or to weight objects). {@link StableDiffusionGLIGENPipeline} calls
 * `encode` once per call with the checked layout and grows the row to its batch with
 * {@link groundingBatch}.
 */
export interface LayoutConditioner {
  /**
   * One row of grounding tensors for `layout`: `boxes [1, S, 4]`, `positiveEmbeddings [1, S, D]`,
   * `masks [1, S]`, zero-padded to S = `maxObjects` slots.
   */
  encode(layout: LayoutInput): Promise<GroundingTensors>;
}

/** Checks a grounding spec (a denoiser's `grounding`): positive integer slot count and embedding width. */
export function checkGroundingSpec(spec: unknown): GroundingSpec {
  const s = spec as Partial<GroundingSpec> | undefined;
  if (typeof s !== 'object' || s === null) {
    throw new ModelMismatchError(
      'The denoiser has no grounding spec (denoiser.grounding is undefined): it is not a grounded (GLIGEN) UNet. Fix: load a GLIGEN model (unet/config.json "attention_type": "gated", with gligen_* inputs), e.g. a StableDiffusionGLIGENPipeline export, or use StableDiffusionPipeline for text-to-image without a layout.',
    );
  }
  for (const key of ['maxObjects', 'embeddingDim'] as const) {
    const v = s[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new InvalidArgumentError({
        name: `denoiser.grounding.${key}`,
        value: v,
        expected: 'an integer ≥ 1',
        fix: "give the grounded denoiser its object slots (30 for GLIGEN) and phrase embedding width (the text encoder's pooled size)",
      });
    }
  }
  return { maxObjects: s.maxObjects!, embeddingDim: s.embeddingDim! };
}

/**
 * The layout conditioning module: turns a layout (`{ phrase, box }[]`, phrases + boxes, or precomputed
 * phrase embeddings + boxes) into the grounding tensors of ONE row, as diffusers' GLIGEN pipeline does:
 * phrases encoded to the text encoder's pooled output as written (`promptEncoder.encodePooled`; no
 * attention syntax, no chunking), the boxes as float32 of the numbers given (no normalisation, no
 * reordering), both zero-padded to `spec.maxObjects` slots, masks 1 on the objects' slots and 0 on the
 * padding. {@link groundingBatch} grows the row to the denoiser's batch.
 *
 * ```ts
 * const encoder = new LayoutEncoder(promptEncoder, denoiser.grounding!);
 * const row = await encoder.encode([{ phrase: 'a red circle', box: [0.05, 0.05, 0.45, 0.45] }]);
 * ```
 */
export class LayoutEncoder implements LayoutConditioner {
  /** The grounded denoiser's slots and embedding width. */
  readonly spec: GroundingSpec;
  readonly #promptEncoder: PromptEncoder | undefined;
  readonly #names: LayoutNames;

  /**
   * @param promptEncoder - Encodes phrases with `encodePooled`; may be undefined when only
   *   precomputed phrase embeddings are encoded.
   * @param spec - The denoiser's {@link GroundingSpec}.
   * @param names - What the layout's values are called in error messages (the pipeline passes its option names).
   * @throws {@link ModelMismatchError} when `spec` is missing, {@link InvalidArgumentError} when it is invalid.
   */
  constructor(
    promptEncoder: PromptEncoder | undefined,
    spec: GroundingSpec,
    names: LayoutNames = LAYOUT_INPUT_NAMES,
  ) {
    this.spec = checkGroundingSpec(spec);
    this.#promptEncoder = promptEncoder;
    this.#names = names;
  }

  /**
   * Checks the layout (see {@link checkLayout}), encodes its phrases, and returns one zero-padded row.
   *
   * @throws {@link InvalidArgumentError} for an invalid layout or a prompt encoder without `encodePooled`
   *   when phrases are given; {@link ShapeMismatchError} when `encodePooled` returns a wrong shape.
   */
  async encode(layout: LayoutInput): Promise<GroundingTensors> {
    const checked = checkLayout(layout, this.spec, this.#names);
    if (checked.phrases) {
      const name = Array.isArray(layout) ? this.#names.objects : this.#names.phrases;
      requirePooledEncoder(this.#promptEncoder, name);
    }
    const embeds = checked.phraseEmbeds ?? (await this.#encodePhrases(checked.phrases!));
    return checkGroundingRow(padRow(checked, embeds, this.spec), this.spec);
  }

  async #encodePhrases(phrases: string[]): Promise<Tensor> {
    const pooled = await this.#promptEncoder!.encodePooled!(phrases);
    const D = this.spec.embeddingDim;
    const expected = [phrases.length, D];
    if (!(pooled instanceof Tensor) || pooled.shape.join() !== expected.join()) {
      const width = pooled instanceof Tensor && pooled.shape.length === 2 ? pooled.shape[1] : undefined;
      throw new ShapeMismatchError({
        name: 'promptEncoder.encodePooled output',
        value: pooled instanceof Tensor ? pooled.shape : pooled,
        expected: `a Tensor [${expected.join(', ')}]: one pooled embedding per phrase, as wide as the denoiser's grounding embeddings (${D})`,
        fix:
          width !== undefined && width !== D && pooled.shape[0] === phrases.length
            ? `the text encoder's pooled size ${width} is not the grounded UNet's ${D}: use the text encoder of the same model`
            : 'make encodePooled return one row per phrase',
      });
    }
    checkFinite(
      'promptEncoder.encodePooled output',
      pooled,
      'check the text encoder; its pooled output must be finite',
    );
    return pooled;
  }
}

/**
 * A prompt encoder that can encode phrases (`encodePooled`), or a typed error naming the fix.
 *
 * @param name - The phrases' option name, for the message.
 */
export function requirePooledEncoder(promptEncoder: PromptEncoder | undefined, name: string): PromptEncoder {
  if (typeof promptEncoder?.encodePooled !== 'function') {
    throw new InvalidArgumentError({
      name,
      value: promptEncoder ? 'a promptEncoder without encodePooled' : 'no promptEncoder',
      expected:
        "a promptEncoder with encodePooled(texts) to encode phrases to the text encoder's pooled output",
      fix: 'use a prompt encoder that implements encodePooled (the ONNX CLIP encoder does), or pass precomputed pooled phrase embeddings instead of phrases',
    });
  }
  return promptEncoder;
}

/** Boxes, embeddings and masks of one row, zero-padded to `spec.maxObjects` slots. */
function padRow(layout: CheckedLayout, embeds: Tensor, spec: GroundingSpec): GroundingTensors {
  const S = spec.maxObjects;
  const D = spec.embeddingDim;
  const n = layout.boxes.length;
  const boxes = new Float32Array(S * 4);
  const masks = new Float32Array(S);
  layout.boxes.forEach((box, k) => {
    boxes.set(box, k * 4);
    masks[k] = 1;
  });
  const positive = new Float32Array(S * D);
  positive.set(embeds.data.subarray(0, n * D));
  return {
    boxes: new Tensor(boxes, [1, S, 4]),
    positiveEmbeddings: new Tensor(positive, [1, S, D]),
    masks: new Tensor(masks, [1, S]),
  };
}
