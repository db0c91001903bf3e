import {
  InvalidArgumentError,
  LimitExceededError,
  ModelInvalidError,
  ShapeMismatchError,
} from '@latentkit/core';
import { float32ToFloat16 } from './float16.js';
import type { InitializerOverride, InitializerOverrides } from './initializer-overrides.js';
import { type ProtoField, ProtoReader, WireType } from './onnx-protobuf.js';
import { ProtoWriter } from './onnx-protobuf-writer.js';

/**
 * Replaces initializers (weights) of an ONNX model in memory, giving the model bytes that onnxruntime's
 * `InferenceSession.create(bytes, …)` takes. The caller's buffers and the files on disk are never modified:
 * every change is made in a copy.
 *
 * - An override with the initializer's own dims, of a weight stored inline as `raw_data`, overwrites those
 *   bytes in a copy of the model.
 * - Any other override — other dims (textual inversion adds rows to the token embedding), a weight in an
 *   external data file, or one stored as `float_data`/`int32_data` — rebuilds that TensorProto inline
 *   (`raw_data`, dims updated, `external_data`/`data_location` dropped) and the GraphProto and ModelProto
 *   around it with their new length prefixes. External data files are therefore never copied: the
 *   session reads the weights not overridden from them as before (for SD 1.5 that file is 3.4 GB), and the
 *   overridden ones from the model.
 * - float16 initializers are written back as float16 (round to nearest even).
 */

/** The most bytes a protobuf message may have (2 GiB − 1): larger ONNX files cannot be parsed. */
export const MAX_ONNX_MODEL_BYTES = 2 ** 31 - 1;

const FLOAT = 1;
const FLOAT16 = 10;
const TYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  16: 'bfloat16',
};

// TensorProto field numbers (onnx.proto3): dims = 1, data_type = 2, float_data = 4, int32_data = 5,
// name = 8, raw_data = 9, external_data = 13, data_location = 14. ModelProto.graph = 7,
// GraphProto.initializer = 5.
const DIMS = 1;
const DATA_TYPE = 2;
const FLOAT_DATA = 4;
const INT32_DATA = 5;
const NAME = 8;
const RAW_DATA = 9;
const EXTERNAL_DATA = 13;
const DATA_LOCATION = 14;
/** The fields a rebuilt TensorProto drops (its values and where they were); the rest are copied. */
const VALUE_FIELDS = new Set([DIMS, FLOAT_DATA, INT32_DATA, RAW_DATA, EXTERNAL_DATA, DATA_LOCATION]);

/** An initializer as found in the file: where its message and its values lie. */
interface FoundTensor {
  name: string;
  dataType: number;
  dims: number[];
  /** The whole field in the graph, key included: [fieldStart, fieldEnd). */
  fieldStart: number;
  fieldEnd: number;
  /** The TensorProto payload. */
  message: ProtoField;
  /** The inline `raw_data` payload, if the values are stored so. */
  raw?: ProtoField;
  /** `external_data` entries (location, offset, length). */
  external: Record<string, string>;
}

/** What to do with one overridden initializer. */
type Action =
  | { kind: 'inline'; tensor: FoundTensor; bytes: Uint8Array }
  | { kind: 'rebuild'; tensor: FoundTensor; bytes: Uint8Array; dims: readonly number[] };

/**
 * Applies {@link InitializerOverrides} to an ONNX model (see the module comment for how).
 *
 * @param bytes - The `.onnx` file (not modified; returned as is when `overrides` is empty).
 * @param modelPath - Its path in the model folder, named in errors.
 * @param overrides - The new values by initializer name.
 * @returns The patched model bytes (a new buffer). External data files it references are unchanged and
 *   still needed (with the same locations) for the weights not overridden.
 * @throws {@link @latentkit/core!InvalidArgumentError} for an override of a name that is not a float
 *   initializer of the model, or with non-finite values (or values beyond float16's range for a float16
 *   weight); {@link @latentkit/core!ShapeMismatchError} for dims whose rank or trailing sizes differ
 *   from the initializer's, or data whose length is not the product of the dims;
 *   {@link @latentkit/core!LimitExceededError} when the patched model would pass protobuf's 2 GiB;
 *   {@link @latentkit/core!ModelInvalidError} when the model is malformed.
 */
export function patchInitializers(
  bytes: Uint8Array,
  modelPath: string,
  overrides: InitializerOverrides,
): Uint8Array {
  if (!(overrides instanceof Map)) {
    throw new InvalidArgumentError({
      name: 'overrides',
      value: overrides,
      expected: 'a Map from initializer name to { dims, data: Float32Array }',
    });
  }
  if (overrides.size === 0) return bytes;
  const { graph, tensors } = findInitializers(bytes, modelPath, new Set(overrides.keys()));
  const actions: Action[] = [];
  for (const [name, override] of overrides) actions.push(plan(name, override, tensors.get(name), modelPath));

  if (actions.every((a) => a.kind === 'inline')) {
    const model = bytes.slice();
    for (const a of actions) model.set(a.bytes, a.tensor.raw!.start);
    return model;
  }
  const added = actions.reduce((sum, a) => sum + a.bytes.length, 0);
  if (bytes.length + added + 64 * actions.length > MAX_ONNX_MODEL_BYTES) {
    throw new LimitExceededError({
      name: `${modelPath} with the overridden weights inline`,
      value: `${bytes.length + added} bytes`,
      expected: `at most ${MAX_ONNX_MODEL_BYTES} bytes (2 GiB, protobuf's limit for one ONNX file); overridden weights are written into the model file's bytes`,
      fix: 'override fewer weights at once (e.g. a LoRA of fewer layers), or use an fp16 export',
    });
  }
  return rebuild(bytes, modelPath, graph, actions);
}

/** Finds the graph field and the wanted initializers (by name) of a model. */
function findInitializers(
  bytes: Uint8Array,
  modelPath: string,
  wanted: ReadonlySet<string>,
): { graph: ProtoField & { keyStart: number }; tensors: Map<string, FoundTensor> } {
  const model = new ProtoReader(bytes, 0, bytes.length, modelPath);
  let graph: (ProtoField & { keyStart: number }) | undefined;
  for (let at = model.pos, f = model.next(); f; at = model.pos, f = model.next()) {
    if (f.field !== 7 || f.wire !== WireType.LENGTH_DELIMITED) continue;
    if (graph) model.fail('more than one graph field');
    graph = { ...f, keyStart: at };
  }
  if (!graph) return model.fail('no graph');
  const tensors = new Map<string, FoundTensor>();
  const g = model.sub(graph);
  for (let at = g.pos, f = g.next(); f; at = g.pos, f = g.next()) {
    if (f.field !== 5 || f.wire !== WireType.LENGTH_DELIMITED) continue;
    const t = readTensor(model, f, at, g.pos);
    if (wanted.has(t.name)) tensors.set(t.name, t);
  }
  return { graph, tensors };
}

function readTensor(
  model: ProtoReader,
  message: ProtoField,
  fieldStart: number,
  fieldEnd: number,
): FoundTensor {
  const t: FoundTensor = { name: '', dataType: 0, dims: [], fieldStart, fieldEnd, message, external: {} };
  for (const f of model.sub(message).fields()) {
    if (f.field === DIMS) {
      if (f.wire === WireType.VARINT) t.dims.push(f.value);
      else if (f.wire === WireType.LENGTH_DELIMITED)
        for (const p = model.sub(f); !p.done; ) t.dims.push(p.varint());
    } else if (f.field === DATA_TYPE && f.wire === WireType.VARINT) t.dataType = f.value;
    else if (f.field === NAME && f.wire === WireType.LENGTH_DELIMITED) t.name = model.string(f);
    else if (f.field === RAW_DATA && f.wire === WireType.LENGTH_DELIMITED) t.raw = f;
    else if (f.field === EXTERNAL_DATA && f.wire === WireType.LENGTH_DELIMITED) {
      let key = '';
      let value = '';
      for (const e of model.sub(f).fields()) {
        if (e.field === 1 && e.wire === WireType.LENGTH_DELIMITED) key = model.string(e);
        if (e.field === 2 && e.wire === WireType.LENGTH_DELIMITED) value = model.string(e);
      }
      t.external[key] = value;
    }
  }
  return t;
}

/** Checks one override against its initializer and decides how to apply it. */
function plan(
  name: string,
  override: InitializerOverride,
  tensor: FoundTensor | undefined,
  modelPath: string,
): Action {
  const what = `initializer override "${name}"`;
  if (!tensor || (tensor.dataType !== FLOAT && tensor.dataType !== FLOAT16)) {
    const got = tensor
      ? `an initializer of type ${TYPE_NAMES[tensor.dataType] ?? tensor.dataType}`
      : 'no initializer by that name';
    throw new InvalidArgumentError({
      name: 'initializer override',
      value: name,
      expected: `the name of a float32 or float16 initializer of ${modelPath} (it has ${got})`,
      fix: 'take the name from readOnnxGraph(model bytes).initializers (names differ between exports, e.g. "conv_out.weight" or "conv_out.weight_fp16")',
    });
  }
  const dims: unknown = override?.dims;
  const data: unknown = override?.data;
  if (!(data instanceof Float32Array)) {
    throw new InvalidArgumentError({ name: `${what} data`, value: data, expected: 'a Float32Array' });
  }
  if (!Array.isArray(dims) || !dims.every((d) => Number.isSafeInteger(d) && d >= 1)) {
    throw new InvalidArgumentError({
      name: `${what} dims`,
      value: dims,
      expected: 'a list of whole numbers ≥ 1',
    });
  }
  const own = tensor.dims;
  if (dims.length !== own.length || dims.some((d, i) => i > 0 && d !== own[i])) {
    throw new ShapeMismatchError({
      name: `${what} dims`,
      value: dims,
      expected: `[n${own
        .slice(1)
        .map((d) => `, ${d}`)
        .join('')}]: the initializer's dims are ${JSON.stringify(own)}, and only the first may change`,
      fix: 'keep the rank and every dim after the first (textual inversion adds rows to the token embedding; LoRA keeps the dims)',
    });
  }
  const count = dims.reduce((a, b) => a * b, 1);
  if (data.length !== count) {
    throw new ShapeMismatchError({
      name: `${what} data length`,
      value: data.length,
      expected: `${count}, the product of its dims ${JSON.stringify(dims)}`,
    });
  }
  const bytes = encodeValues(data, tensor.dataType, what);
  const same = dims[0] === own[0];
  const size = tensor.dataType === FLOAT ? 4 : 2;
  if (same && tensor.raw && tensor.external['location'] === undefined) {
    const stored = tensor.raw.end - tensor.raw.start;
    if (stored !== count * size) {
      throw new ModelInvalidError(
        `${modelPath}: the weight "${name}" (dims ${JSON.stringify(own)}) holds ${stored} bytes; expected ${count * size}. The file is corrupt; export it again.`,
      );
    }
    return { kind: 'inline', tensor, bytes };
  }
  return { kind: 'rebuild', tensor, bytes, dims };
}

/** float32 values → the initializer's raw little-endian bytes, refusing values it cannot hold. */
function encodeValues(data: Float32Array, dataType: number, what: string): Uint8Array {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      throw new InvalidArgumentError({
        name: `${what} data[${i}]`,
        value: data[i],
        expected: 'a finite number',
        fix: 'check the LoRA or embedding file and the scale: a NaN or infinite weight would make every image NaN',
      });
    }
  }
  if (dataType === FLOAT) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const half = float32ToFloat16(data);
  for (let i = 0; i < half.length; i++) {
    if ((half[i]! & 0x7c00) === 0x7c00) {
      throw new InvalidArgumentError({
        name: `${what} data[${i}]`,
        value: data[i],
        expected: 'a value within float16 range (|x| ≤ 65504): the weight is stored as float16',
        fix: 'lower the scale, or use an fp32 export of the model',
      });
    }
  }
  return new Uint8Array(half.buffer, half.byteOffset, half.byteLength);
}

/** Rebuilds the model with the given initializers replaced (new TensorProtos, new length prefixes). */
function rebuild(
  bytes: Uint8Array,
  modelPath: string,
  graph: ProtoField & { keyStart: number },
  actions: readonly Action[],
): Uint8Array {
  // every override is written inline here, the same-size ones too
  const byStart = new Map(actions.map((a) => [a.tensor.fieldStart, a]));
  const reader = new ProtoReader(bytes, 0, bytes.length, modelPath);
  const graphWriter = new ProtoWriter();
  const g = reader.sub(graph);
  for (let at = g.pos, f = g.next(); f; at = g.pos, f = g.next()) {
    const action = byStart.get(at);
    if (!action) graphWriter.raw(bytes.subarray(at, g.pos));
    else graphWriter.messageField(5, tensorMessage(reader, action));
  }
  const modelWriter = new ProtoWriter();
  modelWriter.raw(bytes.subarray(0, graph.keyStart));
  modelWriter.messageField(7, graphWriter);
  modelWriter.raw(bytes.subarray(graph.end));
  return modelWriter.finish();
}

/** A TensorProto with the override's dims and values inline (other fields copied as they were). */
function tensorMessage(reader: ProtoReader, action: Action): ProtoWriter {
  const out = new ProtoWriter();
  const t = reader.sub(action.tensor.message);
  for (let at = t.pos, f = t.next(); f; at = t.pos, f = t.next()) {
    if (!VALUE_FIELDS.has(f.field)) out.raw(reader.bytes.subarray(at, t.pos));
  }
  const dims = action.kind === 'rebuild' ? action.dims : action.tensor.dims;
  out.packedVarintField(DIMS, dims);
  out.bytesField(RAW_DATA, action.bytes);
  return out;
}
