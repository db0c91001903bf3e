import { InvalidArgumentError, ModelInvalidError, ShapeMismatchError } from '@latentkit/core';
import { float32ToFloat16 } from './float16.js';
import type { InitializerOverride, InitializerOverrides } from './initializer-overrides.js';
import { type ExternalDataFile, readOnnxModelInfo } from './onnx-model-info.js';
import { type ProtoField, ProtoReader, WireType } from './onnx-protobuf.js';
import { ProtoWriter } from './onnx-protobuf-writer.js';

/**
 * Replaces initializers (weights) of an ONNX model in memory: the patched model bytes and external data
 * files that onnxruntime's `InferenceSession.create(model, { externalData })` takes. The caller's buffers
 * and the files on disk are never modified: every change is made in a copy.
 *
 * - An override with the initializer's own dims overwrites its bytes in a copy: the inline `raw_data`
 *   payload of the model, or the region `offset`/`length` of its external data file.
 * - An override with other dims (textual inversion adds rows to the token embedding), and any initializer
 *   stored as `float_data`/`int32_data` rather than raw bytes, rebuilds that TensorProto — inline
 *   `raw_data`, dims updated, `external_data`/`data_location` dropped — and the GraphProto and ModelProto
 *   around it with their new length prefixes.
 * - float16 initializers are written back as float16 (round to nearest even).
 */

/** One external data file handed to onnxruntime: `path` as the model names it, and its bytes. */
export interface PatchedExternalData {
  /** The location as written in the model (relative to the `.onnx` file), e.g. `model.onnx_data`. */
  readonly path: string;
  /** The file's bytes (a patched copy where an override lies in it, else the bytes as read). */
  readonly data: Uint8Array;
}

/** A model with its initializers replaced, ready for `InferenceSession.create(model, { externalData })`. */
export interface PatchedModel {
  /** The model bytes. */
  readonly model: Uint8Array;
  /** Every external data file the model references, in the order first referenced. */
  readonly externalData: readonly PatchedExternalData[];
}

/** Reads one external data file of the model (e.g. `source.readBytes(file.path)`). */
export type ExternalDataReader = (file: ExternalDataFile) => Promise<Uint8Array>;

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
  | { kind: 'external'; tensor: FoundTensor; bytes: Uint8Array; location: string; offset: number }
  | { kind: 'rebuild'; tensor: FoundTensor; bytes: Uint8Array; dims: readonly number[] };

/**
 * Applies {@link InitializerOverrides} to an ONNX model (see the module comment for how).
 *
 * @param bytes - The `.onnx` file (not modified).
 * @param modelPath - Its path in the model folder (external files are resolved beside it; named in errors).
 * @param readExternal - Reads an external data file the model references.
 * @param overrides - The new values by initializer name.
 * @throws {@link @latentkit/core!InvalidArgumentError} for an override of a name that is not a float
 *   initializer of the model, or with non-finite values (or values beyond float16's range for a float16
 *   weight); {@link @latentkit/core!ShapeMismatchError} for dims whose rank or trailing sizes differ
 *   from the initializer's, or data whose length is not the product of the dims;
 *   {@link @latentkit/core!ModelInvalidError} when the model or its external data is malformed.
 */
export async function patchInitializers(
  bytes: Uint8Array,
  modelPath: string,
  readExternal: ExternalDataReader,
  overrides: InitializerOverrides,
): Promise<PatchedModel> {
  if (!(overrides instanceof Map)) {
    throw new InvalidArgumentError({
      name: 'overrides',
      value: overrides,
      expected: 'a Map from initializer name to { dims, data: Float32Array }',
    });
  }
  const info = readOnnxModelInfo(bytes, modelPath);
  const files = new Map<string, ExternalDataFile>(info.externalData.map((f) => [f.location, f]));
  const read = new Map<string, Uint8Array>(
    await Promise.all(info.externalData.map(async (f) => [f.location, await readExternal(f)] as const)),
  );
  const externalData = (patched: ReadonlyMap<string, Uint8Array>): PatchedExternalData[] =>
    info.externalData.map((f) => ({
      path: f.location,
      data: patched.get(f.location) ?? read.get(f.location)!,
    }));
  if (overrides.size === 0) return { model: bytes, externalData: externalData(new Map()) };

  const { graph, tensors } = findInitializers(bytes, modelPath, new Set(overrides.keys()));
  const actions: Action[] = [];
  for (const [name, override] of overrides) {
    const tensor = tensors.get(name);
    actions.push(plan(name, override, tensor, modelPath, tensor && externalFile(tensor, files, modelPath)));
  }

  // External regions: overwrite in a copy of each file concerned.
  const patchedFiles = new Map<string, Uint8Array>();
  for (const a of actions) {
    if (a.kind !== 'external') continue;
    const file = read.get(a.location)!;
    if (a.offset + a.bytes.length > file.length) {
      throw new ModelInvalidError(
        `${modelPath}: the weight "${a.tensor.name}" lies at bytes ${a.offset}…${a.offset + a.bytes.length} of ${files.get(a.location)!.path}, which holds ${file.length} bytes: the file is truncated or does not belong to this model; download or export it again.`,
      );
    }
    let copy = patchedFiles.get(a.location);
    if (!copy) {
      copy = file.slice();
      patchedFiles.set(a.location, copy);
    }
    copy.set(a.bytes, a.offset);
  }

  const inline = actions.filter((a) => a.kind !== 'external');
  let model: Uint8Array;
  if (inline.every((a) => a.kind === 'inline')) {
    model = bytes.slice();
    for (const a of inline) model.set(a.bytes, a.tensor.raw!.start);
  } else {
    model = rebuild(bytes, modelPath, graph, inline);
  }
  return { model, externalData: externalData(patchedFiles) };
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

/** The external file an initializer lies in, or undefined when its values are in the model. */
function externalFile(
  t: FoundTensor,
  files: ReadonlyMap<string, ExternalDataFile>,
  modelPath: string,
): { location: string; offset: number; length: number | undefined } | undefined {
  const location = t.external['location'];
  if (location === undefined) return undefined;
  if (!files.has(location)) {
    throw new ModelInvalidError(
      `${modelPath}: the weight "${t.name}" names the external file "${location}", which the model does not list.`,
    );
  }
  const number = (key: string): number | undefined => {
    const text = t.external[key];
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new ModelInvalidError(
        `${modelPath}: the weight "${t.name}" has external_data ${key} = ${JSON.stringify(text)}; expected a whole number of bytes. The file is corrupt; export it again.`,
      );
    }
    return n;
  };
  return { location, offset: number('offset') ?? 0, length: number('length') };
}

/** Checks one override against its initializer and decides how to apply it. */
function plan(
  name: string,
  override: InitializerOverride,
  tensor: FoundTensor | undefined,
  modelPath: string,
  external: ReturnType<typeof externalFile>,
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
  if (same && external) {
    if (external.length !== undefined && external.length !== bytes.length) {
      throw new ModelInvalidError(
        `${modelPath}: the weight "${name}" (dims ${JSON.stringify(own)}) has external_data length ${external.length} bytes; expected ${bytes.length}. The file is corrupt; export it again.`,
      );
    }
    return { kind: 'external', tensor, bytes, location: external.location, offset: external.offset };
  }
  if (same && tensor.raw && !external) {
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
