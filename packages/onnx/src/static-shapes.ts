import { InvalidArgumentError, ModelInvalidError, ShapeMismatchError } from '@latentkit/core';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import { readOptionalConfig } from './model-configs.js';
import type { ModelSource } from './model-source.js';
import { type ProtoField, ProtoReader, WireType } from './onnx-protobuf.js';
import { encodeVarint, ProtoWriter } from './onnx-protobuf-writer.js';
import { WrappedSession } from './wrapped-session.js';

/**
 * Static shapes for the sessions that run every step (the UNet) and the VAE decoder, as a diffusers user
 * knows them from optimum-intel's `pipe.reshape(batch_size, height, width, num_images_per_prompt)`: the
 * free dimensions of those graphs (`batch`, `height`, `width`, `sequence`, …, whatever the export named
 * them) are fixed when the session is created, so onnxruntime plans memory and picks kernels for one shape.
 * A `generate()` at another size or batch is refused with a `ShapeMismatchError` naming both shapes.
 */
export interface StaticShapes {
  /** Image width in pixels (as `generate({ width })`). */
  readonly width: number;
  /** Image height in pixels (as `generate({ height })`). */
  readonly height: number;
  /** Prompts per `generate()` call. Default 1. */
  readonly batchSize?: number;
  /** `numImagesPerPrompt` of every `generate()` call. Default 1. */
  readonly numImagesPerPrompt?: number;
  /**
   * Whether the calls use classifier-free guidance (`guidanceScale > 1`), which doubles the UNet's batch
   * (`[uncond; cond]`). Default true, except for UNets that take `timestep_cond` (LCM), which never double.
   */
  readonly classifierFreeGuidance?: boolean;
  /** Prompt chunks of 77 tokens the UNet's `encoder_hidden_states` holds (long prompts, BREAK). Default 1. */
  readonly promptChunks?: number;
}

/** The components {@link StaticShapes} applies to; the text encoders and the VAE encoder stay dynamic. */
export const STATIC_SHAPE_COMPONENTS: readonly string[] = ['unet', 'vae_decoder'];

const STATIC_SHAPE_KEYS = [
  'width',
  'height',
  'batchSize',
  'numImagesPerPrompt',
  'classifierFreeGuidance',
  'promptChunks',
];

/** Throws an {@link InvalidArgumentError} unless `value` is absent or a valid {@link StaticShapes}. */
export function checkStaticShapes(value: unknown): void {
  if (value === undefined) return;
  const fix = 'e.g. staticShapes: { width: 512, height: 512, batchSize: 1 }';
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError({
      name: 'staticShapes',
      value,
      expected: 'an object { width, height, batchSize?, numImagesPerPrompt?, classifierFreeGuidance? }',
      fix,
    });
  }
  const shapes = value as Record<string, unknown>;
  for (const key of Object.keys(shapes)) {
    if (!STATIC_SHAPE_KEYS.includes(key)) {
      throw new InvalidArgumentError({
        name: `staticShapes.${key}`,
        value: shapes[key],
        expected: `one of the keys ${STATIC_SHAPE_KEYS.join(', ')}`,
        fix,
      });
    }
  }
  for (const key of ['width', 'height']) {
    const v = shapes[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 8 || v % 8 !== 0) {
      throw new InvalidArgumentError({
        name: `staticShapes.${key}`,
        value: v,
        expected: 'a positive multiple of 8 (pixels, as generate() takes it)',
        fix,
      });
    }
  }
  for (const key of ['batchSize', 'numImagesPerPrompt', 'promptChunks']) {
    const v = shapes[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 1)) {
      throw new InvalidArgumentError({ name: `staticShapes.${key}`, value: v, expected: 'an integer ≥ 1' });
    }
  }
  const cfg = shapes['classifierFreeGuidance'];
  if (cfg !== undefined && typeof cfg !== 'boolean') {
    throw new InvalidArgumentError({
      name: 'staticShapes.classifierFreeGuidance',
      value: cfg,
      expected: 'true (guidanceScale > 1: the UNet batch is doubled) or false',
    });
  }
}

/** One graph input as the `.onnx` file declares it: a fixed size, a named free dimension, or unnamed. */
export interface GraphInputDecl {
  readonly name: string;
  /** Per axis: a number (fixed), a string (a named free dimension, `dim_param`), or undefined (unnamed). */
  readonly dims: readonly (number | string | undefined)[] | undefined;
}

// ONNX field numbers: ModelProto.graph = 7; GraphProto.input = 11; ValueInfoProto.name = 1, type = 2;
// TypeProto.tensor_type = 1; TypeProto.Tensor.shape = 2; TensorShapeProto.dim = 1;
// Dimension.dim_value = 1, dim_param = 2.
function readDims(reader: ProtoReader, valueInfo: ProtoField): GraphInputDecl {
  let name = '';
  let dims: (number | string | undefined)[] | undefined;
  for (const f of reader.sub(valueInfo).fields()) {
    if (f.field === 1 && f.wire === WireType.LENGTH_DELIMITED) name = reader.string(f);
    if (f.field !== 2 || f.wire !== WireType.LENGTH_DELIMITED) continue;
    const tensor = reader.find(f, 1);
    const shape = tensor && reader.find(tensor, 2);
    if (!shape) continue;
    dims = [];
    for (const d of reader.sub(shape).fields()) {
      if (d.field !== 1 || d.wire !== WireType.LENGTH_DELIMITED) continue;
      let dim: number | string | undefined;
      for (const v of reader.sub(d).fields()) {
        if (v.field === 1 && v.wire === WireType.VARINT) dim = v.value;
        if (v.field === 2 && v.wire === WireType.LENGTH_DELIMITED) dim = reader.string(v);
      }
      dims.push(dim);
    }
  }
  return { name, dims };
}

/** The graph inputs of an ONNX file, with their declared dimensions (a protobuf walk; no weights copied). */
export function readGraphInputs(bytes: Uint8Array, modelPath: string): GraphInputDecl[] {
  const model = new ProtoReader(bytes, 0, bytes.length, modelPath);
  const inputs: GraphInputDecl[] = [];
  for (const f of model.fields()) {
    if (f.field !== 7 || f.wire !== WireType.LENGTH_DELIMITED) continue;
    for (const g of model.sub(f).fields()) {
      if (g.field === 11 && g.wire === WireType.LENGTH_DELIMITED) inputs.push(readDims(model, g));
    }
  }
  return inputs;
}

/** What a component is fed under {@link StaticShapes}, from its model folder's configs. */
export interface StaticShapeContext {
  /** `in_channels` of `unet/config.json`, when known. */
  readonly unetInChannels?: number;
  /** The VAE's down-scale factor (8 for SD): `2 ** (len(vae block_out_channels) − 1)`. Default 8. */
  readonly vaeScale?: number;
}

/**
 * Reads {@link StaticShapeContext} from a model folder: `in_channels` of `unet/config.json` and the VAE
 * scale from `vae_decoder/config.json` (else `vae/config.json`) `block_out_channels`. Missing or unreadable
 * configs leave the value undefined (the UNet's channel axis then stays free; the VAE scale defaults to 8).
 */
export async function readStaticShapeContext(source: ModelSource): Promise<StaticShapeContext> {
  const read = (path: string) => readOptionalConfig(source, path).catch(() => undefined);
  const unet = await read('unet/config.json');
  const vae = (await read('vae_decoder/config.json')) ?? (await read('vae/config.json'));
  const inChannels = unet?.['in_channels'];
  const blocks = vae?.['block_out_channels'];
  return {
    ...(typeof inChannels === 'number' && Number.isInteger(inChannels) ? { unetInChannels: inChannels } : {}),
    ...(Array.isArray(blocks) && blocks.length > 0 ? { vaeScale: 2 ** (blocks.length - 1) } : {}),
  };
}

/** The free dimensions {@link staticDimensions} fixed for one session, and each input's resulting shape. */
export interface StaticDimensions {
  /** `dim_param` → size, as onnxruntime's `freeDimensionOverrides` takes them. */
  readonly overrides: Readonly<Record<string, number>>;
  /** Every input whose shape is then entirely fixed, with that shape. */
  readonly inputShapes: Readonly<Record<string, readonly number[]>>;
  /** The options the shapes came from, for messages. */
  readonly shapes: StaticShapes;
}

/** The UNet batch under {@link StaticShapes}: prompts × images per prompt × 2 with guidance (not for LCM). */
export function staticUnetBatch(shapes: StaticShapes, takesTimestepCond: boolean): number {
  const images = (shapes.batchSize ?? 1) * (shapes.numImagesPerPrompt ?? 1);
  return images * ((shapes.classifierFreeGuidance ?? !takesTimestepCond) ? 2 : 1);
}

/**
 * The sizes the free dimensions of a `unet` or `vae_decoder` graph take under {@link StaticShapes}, by
 * position in each input (the names differ between exports: `batch`, `batch_size`, `latent_height`, …).
 * UNet: every input's first axis is the UNet batch; `sample` is `[B, in_channels, h, w]` (h, w = the size ÷
 * the VAE scale); `encoder_hidden_states` is `[B, 77 × promptChunks, D]`. VAE decoder: `latent_sample` is
 * `[images, C, h, w]`. Other free axes stay free. Returns undefined for other components.
 *
 * @throws {@link @latentkit/core!ModelInvalidError} when one name would need two sizes (e.g. `height` for
 *   the latent and for something else), which onnxruntime's overrides cannot express.
 */
export function staticDimensions(
  component: string,
  inputs: readonly GraphInputDecl[],
  shapes: StaticShapes,
  context: StaticShapeContext = {},
): StaticDimensions | undefined {
  if (!STATIC_SHAPE_COMPONENTS.includes(component)) return undefined;
  const scale = context.vaeScale ?? 8;
  const h = shapes.height / scale;
  const w = shapes.width / scale;
  const wanted = new Map<string, (number | undefined)[]>();
  if (component === 'unet') {
    const lcm = inputs.some((i) => i.name === 'timestep_cond');
    const batch = staticUnetBatch(shapes, lcm);
    for (const input of inputs) {
      const rank = input.dims?.length ?? 0;
      const sizes: (number | undefined)[] = new Array(rank).fill(undefined);
      if (rank > 0) sizes[0] = batch;
      if (input.name === 'sample' && rank === 4) {
        sizes[1] = context.unetInChannels;
        sizes[2] = h;
        sizes[3] = w;
      }
      if (input.name === 'encoder_hidden_states' && rank === 3) sizes[1] = 77 * (shapes.promptChunks ?? 1);
      wanted.set(input.name, sizes);
    }
  } else {
    const images = (shapes.batchSize ?? 1) * (shapes.numImagesPerPrompt ?? 1);
    for (const input of inputs) {
      if (input.name === 'latent_sample' && input.dims?.length === 4) {
        wanted.set(input.name, [images, undefined, h, w]);
      }
    }
  }
  const overrides: Record<string, number> = {};
  const from: Record<string, string> = {};
  for (const input of inputs) {
    const sizes = wanted.get(input.name);
    if (!sizes || !input.dims) continue;
    input.dims.forEach((dim, axis) => {
      const size = sizes[axis];
      if (typeof dim !== 'string' || size === undefined) return;
      const known = overrides[dim];
      if (known !== undefined && known !== size) {
        throw new ModelInvalidError(
          `staticShapes cannot fix ${component}'s free dimension "${dim}": ${from[dim]} needs ${known}, input ${input.name} axis ${axis} needs ${size}. Fix: load without staticShapes (dynamic shapes) for this model.`,
        );
      }
      overrides[dim] = size;
      from[dim] = `input ${input.name} axis ${axis}`;
    });
  }
  const inputShapes: Record<string, number[]> = {};
  for (const input of inputs) {
    if (!wanted.has(input.name) || !input.dims) continue;
    const fixed = input.dims.map((d) =>
      typeof d === 'number' ? d : d === undefined ? undefined : overrides[d],
    );
    if (fixed.every((d): d is number => d !== undefined)) inputShapes[input.name] = fixed;
  }
  return { overrides, inputShapes, shapes };
}

/**
 * The model with the free dimensions of its graph inputs replaced by fixed sizes (`dim_param` →
 * `dim_value`): what onnxruntime's `freeDimensionOverrides` does when it loads a model, done on the bytes
 * for runtimes that ignore that option (onnxruntime-node 1.30). Everything else is copied unchanged.
 */
export function fixGraphInputDims(
  bytes: Uint8Array,
  modelPath: string,
  overrides: Readonly<Record<string, number>>,
): Uint8Array {
  const reader = new ProtoReader(bytes, 0, bytes.length, modelPath);
  const model = new ProtoWriter();
  let at = 0;
  for (const f of reader.fields()) {
    if (f.field !== 7 || f.wire !== WireType.LENGTH_DELIMITED) continue;
    // everything before the graph field, as it is
    model.raw(bytes.subarray(at, fieldStart(at, f)));
    const graph = new ProtoWriter();
    const g = reader.sub(f);
    let gAt = f.start;
    for (const field of g.fields()) {
      if (field.field !== 11 || field.wire !== WireType.LENGTH_DELIMITED) continue;
      graph.raw(bytes.subarray(gAt, fieldStart(gAt, field)));
      graph.messageField(11, rewriteValueInfo(reader, field, overrides));
      gAt = field.end;
    }
    graph.raw(bytes.subarray(gAt, f.end));
    model.messageField(7, graph);
    at = f.end;
  }
  model.raw(bytes.subarray(at));
  return model.finish();
}

// Where field f's key starts: its payload start minus the key and length varints. The field was read at
// `from` or later, so search the few bytes before the payload for the key that decodes to it.
function fieldStart(from: number, f: ProtoField): number {
  const key = encodeVarint(f.field * 8 + f.wire);
  const length = encodeVarint(f.end - f.start);
  const start = f.start - length.length - key.length;
  if (start < from) throw new RangeError('protobuf field start before the previous field');
  return start;
}

function rewriteValueInfo(
  reader: ProtoReader,
  valueInfo: ProtoField,
  overrides: Readonly<Record<string, number>>,
): ProtoWriter {
  const out = new ProtoWriter();
  for (const f of reader.sub(valueInfo).fields()) {
    if (f.field === 2 && f.wire === WireType.LENGTH_DELIMITED) {
      out.messageField(2, rewriteMessage(reader, f, [1, 2, 1], overrides));
    } else copyField(reader, out, f);
  }
  return out;
}

// Descends TypeProto.tensor_type (1) → shape (2) → dim (1) and rewrites each Dimension.
function rewriteMessage(
  reader: ProtoReader,
  message: ProtoField,
  path: readonly number[],
  overrides: Readonly<Record<string, number>>,
): ProtoWriter {
  const out = new ProtoWriter();
  for (const f of reader.sub(message).fields()) {
    if (f.wire === WireType.LENGTH_DELIMITED && f.field === path[0]) {
      if (path.length > 1) out.messageField(f.field, rewriteMessage(reader, f, path.slice(1), overrides));
      else out.messageField(f.field, rewriteDimension(reader, f, overrides));
    } else copyField(reader, out, f);
  }
  return out;
}

function rewriteDimension(
  reader: ProtoReader,
  dim: ProtoField,
  overrides: Readonly<Record<string, number>>,
): ProtoWriter {
  const out = new ProtoWriter();
  for (const f of reader.sub(dim).fields()) {
    const size =
      f.field === 2 && f.wire === WireType.LENGTH_DELIMITED ? overrides[reader.string(f)] : undefined;
    if (size !== undefined) out.varintField(1, size);
    else copyField(reader, out, f);
  }
  return out;
}

function copyField(reader: ProtoReader, out: ProtoWriter, f: ProtoField): void {
  switch (f.wire) {
    case WireType.VARINT:
      out.varintField(f.field, f.value);
      return;
    case WireType.LENGTH_DELIMITED:
      out.bytesField(f.field, reader.payload(f));
      return;
    default:
      // fixed32/fixed64 fields do not occur in ValueInfo/TypeProto; copy their bytes with the key
      out.raw(encodeVarint(f.field * 8 + f.wire)).raw(reader.bytes.subarray(f.start, f.end));
  }
}

/**
 * A session whose inputs were fixed by {@link StaticShapes}: before each run, every feed named in
 * `dims.inputShapes` is checked against its fixed shape, so a `generate()` at another size or batch gets a
 * `ShapeMismatchError` naming both (and what to change) instead of onnxruntime's "invalid dimensions".
 */
export class StaticShapeSession extends WrappedSession {
  readonly #dims: StaticDimensions;
  readonly #component: string;

  /**
   * @param session - The session created with the fixed dimensions.
   * @param dims - What {@link staticDimensions} fixed.
   * @param component - The component's folder name, for messages.
   */
  constructor(session: InferenceSession, dims: StaticDimensions, component: string) {
    super(session);
    this.#dims = dims;
    this.#component = component;
  }

  /** What was fixed. */
  get staticDimensions(): StaticDimensions {
    return this.#dims;
  }

  /** Checks the fixed inputs' shapes (a `ShapeMismatchError` when one differs), then runs the wrapped session. */
  run(
    feeds: InferenceSession.FeedsType,
    fetchesOrOptions?: InferenceSession.FetchesType | InferenceSession.RunOptions,
    options?: InferenceSession.RunOptions,
  ): Promise<InferenceSession.ReturnType> {
    for (const [name, want] of Object.entries(this.#dims.inputShapes)) {
      const feed = (feeds as Record<string, OrtTensor | undefined>)[name];
      if (!feed) continue;
      const got = feed.dims;
      if (got.length !== want.length || got.some((d, i) => d !== want[i])) {
        const s = this.#dims.shapes;
        const asked = `staticShapes { width: ${s.width}, height: ${s.height}, batchSize: ${s.batchSize ?? 1}, numImagesPerPrompt: ${s.numImagesPerPrompt ?? 1}${s.classifierFreeGuidance === undefined ? '' : `, classifierFreeGuidance: ${s.classifierFreeGuidance}`}${s.promptChunks === undefined ? '' : `, promptChunks: ${s.promptChunks}`} }`;
        return Promise.reject(
          new ShapeMismatchError({
            name: `${this.#component} input ${name}`,
            value: [...got],
            expected: `[${want.join(', ')}]: the model was loaded with ${asked}, which fixes this shape`,
            fix: `generate at ${s.width}×${s.height} with ${s.batchSize ?? 1} prompt(s) × ${s.numImagesPerPrompt ?? 1} image(s) (guidance as loaded), or load again with staticShapes for this size (or without it: dynamic shapes)`,
          }),
        );
      }
    }
    return this.forwardRun(feeds, fetchesOrOptions, options);
  }
}
