import {
  type GroundingInput,
  type GroundingSpec,
  InvalidArgumentError,
  ModelInvalidError,
  ShapeMismatchError,
  type Tensor,
} from '@latentkit/core';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import { findInput, fixedDim, floatFeed, floatType, type OrtValueInfo } from './ort-io.js';
import type { SessionFactory } from './session-factory.js';

/**
 * The four extra inputs of a grounded (GLIGEN) UNet in latentkit's ONNX convention (docs/layout-to-image.md,
 * "ONNX convention"): `gligen_boxes` float32 `[B, 30, 4]`, `gligen_positive_embeddings` float32 `[B, 30, D]`,
 * `gligen_masks` float32 `[B, 30]` and `gligen_enabled` float32 `[]` (or `[1]`): 1 runs the gated
 * self-attention layers, 0 gives exactly the plain UNet.
 */
export const GLIGEN_INPUT_NAMES = [
  'gligen_boxes',
  'gligen_positive_embeddings',
  'gligen_masks',
  'gligen_enabled',
] as const;

/** GLIGEN's object slots (diffusers pads the layout to 30), used when the graph leaves the dimension open. */
export const GLIGEN_MAX_OBJECTS = 30;

/** The phrase embedding width diffusers' GLIGEN UNet uses when `cross_attention_dim` is not one number. */
export const GLIGEN_DEFAULT_EMBEDDING_DIM = 768;

/** The most object slots and the widest phrase embedding a graph may declare (checked before any allocation). */
const MAX_SLOTS = 1024;
const MAX_EMBEDDING_DIM = 65_536;

/** The grounding inputs of a UNet session, as its metadata describes them. */
export interface GroundedInputs {
  /** What the UNet accepts: slots and phrase embedding width. */
  readonly spec: GroundingSpec;
  /** `gligen_boxes`. */
  readonly boxes: OrtValueInfo;
  /** `gligen_positive_embeddings`. */
  readonly embeddings: OrtValueInfo;
  /** `gligen_masks`. */
  readonly masks: OrtValueInfo;
  /** `gligen_enabled`. */
  readonly enabled: OrtValueInfo;
  /** `[]` or `[1]`, as the graph declares `gligen_enabled`. */
  readonly enabledDims: readonly number[];
}

/**
 * Reads the GLIGEN inputs of a UNet session. Returns undefined for a plain UNet (none of the four inputs).
 *
 * @param session - The UNet session.
 * @param modelPath - For messages.
 * @param crossAttentionDim - `cross_attention_dim` of the UNet, the phrase embedding width when the graph
 *   leaves it open (as diffusers' `positive_len`); default 768.
 * @throws {@link @latentkit/core!ModelInvalidError} for a graph with some but not all of the four inputs, or
 *   with shapes that break the convention (boxes not `[B, S, 4]`, slot counts that differ, an enabled gate
 *   that is not a scalar or `[1]`, element types other than float32/float16).
 */
export function readGroundedInputs(
  session: InferenceSession,
  modelPath: string,
  crossAttentionDim: number | undefined,
): GroundedInputs | undefined {
  const found = GLIGEN_INPUT_NAMES.map((name) => findInput(session, name));
  if (found.every((f) => f === undefined)) return undefined;
  const missing = GLIGEN_INPUT_NAMES.filter((_, i) => found[i] === undefined);
  if (missing.length > 0) {
    throw new ModelInvalidError(
      `${modelPath} has some grounded (GLIGEN) inputs but not ${missing.map((m) => `"${m}"`).join(', ')} (its inputs: ${session.inputNames.join(', ')}). ` +
        `Fix: export the UNet with all four inputs ${GLIGEN_INPUT_NAMES.join(', ')} (docs/layout-to-image.md, "ONNX convention").`,
    );
  }
  const [boxes, embeddings, masks, enabled] = found as [
    OrtValueInfo,
    OrtValueInfo,
    OrtValueInfo,
    OrtValueInfo,
  ];
  const bad = (what: string): ModelInvalidError =>
    new ModelInvalidError(
      `${modelPath}: ${what}. Expected gligen_boxes [B, 30, 4], gligen_positive_embeddings [B, 30, D], gligen_masks [B, 30] and gligen_enabled [] (or [1]), all float32. ` +
        'Fix: re-export the UNet following docs/layout-to-image.md, "ONNX convention".',
    );
  for (const info of found as OrtValueInfo[]) {
    if (info.type !== undefined && info.type !== 'float32' && info.type !== 'float16') {
      throw bad(`input "${info.name}" has element type ${info.type}`);
    }
  }
  const rank = (info: OrtValueInfo, n: number) => info.shape === undefined || info.shape.length === n;
  if (!rank(boxes, 3) || !rank(embeddings, 3) || !rank(masks, 2)) {
    throw bad(
      `the grounding inputs have shapes ${[boxes, embeddings, masks].map((i) => `${i.name} ${JSON.stringify(i.shape)}`).join(', ')}`,
    );
  }
  const corners = fixedDim(boxes, 2);
  if (corners !== undefined && corners !== 4) throw bad(`gligen_boxes has ${corners} values per box, not 4`);
  const slots = [fixedDim(boxes, 1), fixedDim(embeddings, 1), fixedDim(masks, 1)].filter(
    (s): s is number => s !== undefined,
  );
  if (slots.some((s) => s !== slots[0])) {
    throw bad(`the grounding inputs disagree on the number of object slots (${slots.join(', ')})`);
  }
  const enabledShape = enabled.shape;
  let enabledDims: number[] = [];
  if (enabledShape !== undefined && enabledShape.length > 0) {
    if (enabledShape.length !== 1 || (typeof enabledShape[0] === 'number' && enabledShape[0] !== 1)) {
      throw bad(`gligen_enabled has shape ${JSON.stringify(enabledShape)}, not a scalar`);
    }
    enabledDims = [1];
  }
  const maxObjects = slots[0] ?? GLIGEN_MAX_OBJECTS;
  const embeddingDim = fixedDim(embeddings, 2) ?? crossAttentionDim ?? GLIGEN_DEFAULT_EMBEDDING_DIM;
  // The zero feeds of a call without gligen are B · slots · D floats: refuse absurd sizes up front.
  if (maxObjects > MAX_SLOTS)
    throw bad(`the grounding inputs have ${maxObjects} object slots (at most ${MAX_SLOTS})`);
  if (embeddingDim > MAX_EMBEDDING_DIM) {
    throw bad(`gligen_positive_embeddings is ${embeddingDim} wide (at most ${MAX_EMBEDDING_DIM})`);
  }
  return { spec: { maxObjects, embeddingDim }, boxes, embeddings, masks, enabled, enabledDims };
}

/**
 * The feeds of the four grounding inputs for one UNet call at batch `batch`: `gligen` checked and fed as
 * given, or — when the call has none — zeros with `gligen_enabled` 0, so the grounded UNet runs as the
 * plain one (what `StableDiffusionPipeline` gets from a GLIGEN folder).
 *
 * @throws {@link @latentkit/core!ShapeMismatchError} for tensors that are not `[batch, S, 4]`,
 *   `[batch, S, D]`, `[batch, S]` with the UNet's S and D; {@link @latentkit/core!InvalidArgumentError} for
 *   non-finite values or an `enabled` that is not a boolean.
 */
export function groundingFeeds(
  inputs: GroundedInputs,
  gligen: GroundingInput | undefined,
  batch: number,
  factory: SessionFactory,
): Record<string, OrtTensor> {
  const { maxObjects: s, embeddingDim: d } = inputs.spec;
  const feed = (info: OrtValueInfo, data: Float32Array, dims: readonly number[]) =>
    floatFeed(factory, data, dims, floatType(info, `unet input ${info.name}`));
  const gate = (on: boolean) => feed(inputs.enabled, new Float32Array([on ? 1 : 0]), inputs.enabledDims);
  if (gligen === undefined) {
    return {
      gligen_boxes: feed(inputs.boxes, new Float32Array(batch * s * 4), [batch, s, 4]),
      gligen_positive_embeddings: feed(inputs.embeddings, new Float32Array(batch * s * d), [batch, s, d]),
      gligen_masks: feed(inputs.masks, new Float32Array(batch * s), [batch, s]),
      gligen_enabled: gate(false),
    };
  }
  if (typeof gligen !== 'object' || gligen === null) {
    throw new InvalidArgumentError({
      name: 'gligen',
      value: gligen,
      expected: '{ boxes, positiveEmbeddings, masks, enabled }',
    });
  }
  const { boxes, positiveEmbeddings, masks, enabled } = gligen;
  checkShape('gligen.boxes', boxes, [batch, s, 4]);
  checkShape('gligen.positiveEmbeddings', positiveEmbeddings, [batch, s, d]);
  checkShape('gligen.masks', masks, [batch, s]);
  for (const [name, t] of [
    ['gligen.boxes', boxes],
    ['gligen.positiveEmbeddings', positiveEmbeddings],
    ['gligen.masks', masks],
  ] as const) {
    const i = t.data.findIndex((v) => !Number.isFinite(v));
    if (i >= 0) {
      throw new InvalidArgumentError({
        name: `${name}[flat index ${i}]`,
        value: t.data[i],
        expected: 'finite numbers',
        fix: 'pass finite boxes, phrase embeddings and masks (NaN or Infinity would make every image NaN)',
      });
    }
  }
  if (typeof enabled !== 'boolean') {
    throw new InvalidArgumentError({
      name: 'gligen.enabled',
      value: enabled,
      expected: 'true or false (whether the gated self-attention layers run on this call)',
    });
  }
  return {
    gligen_boxes: feed(inputs.boxes, boxes.data, boxes.shape),
    gligen_positive_embeddings: feed(inputs.embeddings, positiveEmbeddings.data, positiveEmbeddings.shape),
    gligen_masks: feed(inputs.masks, masks.data, masks.shape),
    gligen_enabled: gate(enabled),
  };
}

const SHAPE_NOTES: Record<string, string> = {
  'gligen.boxes': '[B, maxObjects, 4]: one box [x0, y0, x1, y1] per slot, one row per sample',
  'gligen.positiveEmbeddings':
    "[B, maxObjects, D]: one pooled phrase embedding per slot (D: the text encoder's pooled size)",
  'gligen.masks': '[B, maxObjects]: 1 for a slot that holds an object, 0 for padding',
};

function checkShape(name: string, t: Tensor | undefined, expected: readonly number[]): void {
  const shape = (t as { shape?: unknown } | undefined)?.shape;
  const data = (t as { data?: unknown } | undefined)?.data;
  const ok =
    Array.isArray(shape) &&
    data instanceof Float32Array &&
    shape.length === expected.length &&
    shape.every((v, i) => v === expected[i]);
  if (!ok) {
    throw new ShapeMismatchError({
      name,
      value: Array.isArray(shape) ? shape : t,
      expected: `a Tensor [${expected.join(', ')}] for this UNet (${SHAPE_NOTES[name]})`,
      fix: 'build the grounding inputs with the GLIGEN pipeline (StableDiffusionGLIGENPipeline) or a LayoutEncoder',
    });
  }
}
