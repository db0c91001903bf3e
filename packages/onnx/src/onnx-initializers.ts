import { ModelInvalidError } from '@latentkit/core';
import { float16ToFloat32 } from './float16.js';
import { checkModelPath, folderOf } from './model-paths.js';
import type { ModelSource } from './model-source.js';
import { type ProtoField, ProtoReader, WireType } from './onnx-protobuf.js';

/**
 * Reads named weights (initializers) out of an ONNX file with the minimal protobuf reader of
 * `onnx-protobuf.ts`: just the few fields of ModelProto → GraphProto → TensorProto needed for float
 * tensors. Used for the CLIP final layer norm, which clip skip applies to an intermediate hidden state but
 * which exports only hold as weights.
 */

const FLOAT = 1;
const FLOAT16 = 10;

interface TensorRef {
  name: string;
  dataType: number;
  dims: number[];
  raw?: Uint8Array;
  floatData: number[];
  int32Data: number[];
  external: Record<string, string>;
}

// TensorProto field numbers (onnx.proto3): dims = 1, data_type = 2, float_data = 4, int32_data = 5
// (float16 bits when not raw), name = 8, raw_data = 9, external_data = 13.
function parseTensor(
  model: ProtoReader,
  tensor: ProtoField,
  wanted: (name: string) => boolean,
): TensorRef | undefined {
  const t: TensorRef = { name: '', dataType: 0, dims: [], floatData: [], int32Data: [], external: {} };
  const fields = [...model.sub(tensor).fields()];
  for (const f of fields) if (f.field === 8 && f.wire === WireType.LENGTH_DELIMITED) t.name = model.string(f);
  if (!wanted(t.name)) return undefined;
  // Repeated scalars come one per field or packed into one length-delimited field.
  const varints = (f: ProtoField, out: number[]) => {
    if (f.wire === WireType.VARINT) out.push(f.value);
    else if (f.wire === WireType.LENGTH_DELIMITED)
      for (const r = model.sub(f); !r.done; ) out.push(r.varint());
  };
  for (const f of fields) {
    if (f.field === 1) varints(f, t.dims);
    else if (f.field === 2 && f.wire === WireType.VARINT) t.dataType = f.value;
    else if (f.field === 4 && (f.wire === WireType.FIXED32 || f.wire === WireType.LENGTH_DELIMITED)) {
      // a fixed32 field's payload is its 4 bytes, so one loop reads both the single and the packed form
      for (const r = model.sub(f); !r.done; ) t.floatData.push(r.float32());
    } else if (f.field === 5) varints(f, t.int32Data);
    else if (f.field === 9 && f.wire === WireType.LENGTH_DELIMITED) t.raw = model.payload(f);
    else if (f.field === 13 && f.wire === WireType.LENGTH_DELIMITED) {
      let key = '';
      let value = '';
      for (const g of model.sub(f).fields()) {
        if (g.field === 1 && g.wire === WireType.LENGTH_DELIMITED) key = model.string(g);
        if (g.field === 2 && g.wire === WireType.LENGTH_DELIMITED) value = model.string(g);
      }
      t.external[key] = value;
    }
  }
  return t;
}

function rawToFloat32(raw: Uint8Array, dataType: number, what: string): Float32Array {
  const size = dataType === FLOAT ? 4 : 2;
  if (raw.byteLength % size !== 0) {
    throw new ModelInvalidError(
      `The weight ${what} holds ${raw.byteLength} bytes, not a whole number of ${size}-byte values: the file is truncated or corrupt; download or export it again.`,
    );
  }
  const copy = raw.slice(); // aligned copy
  if (dataType === FLOAT) return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
  return float16ToFloat32(new Uint16Array(copy.buffer, 0, copy.byteLength / 2));
}

/** A float weight read from an ONNX file. */
export interface OnnxWeight {
  /** The initializer's name. */
  readonly name: string;
  /** Its dimensions. */
  readonly dims: readonly number[];
  /** Its values, as float32. */
  readonly data: Float32Array;
}

/**
 * Finds float initializers in an ONNX file by a name test and returns them as float32 (float16 weights are
 * widened). Weights stored in an external data file are read from the file beside the model.
 *
 * @param source - The model folder.
 * @param modelPath - The ONNX file, e.g. `text_encoder/model.onnx`.
 * @param wanted - Which initializer names to return.
 */
export async function readOnnxWeights(
  source: ModelSource,
  modelPath: string,
  wanted: (name: string) => boolean,
): Promise<OnnxWeight[]> {
  const bytes = await source.readBytes(modelPath);
  const found: TensorRef[] = [];
  const model = new ProtoReader(bytes, 0, bytes.length, modelPath);
  for (const f of model.fields()) {
    if (f.field !== 7 || f.wire !== WireType.LENGTH_DELIMITED) continue; // ModelProto.graph
    for (const g of model.sub(f).fields()) {
      if (g.field !== 5 || g.wire !== WireType.LENGTH_DELIMITED) continue; // GraphProto.initializer
      const t = parseTensor(model, g, wanted);
      if (t) found.push(t);
    }
  }
  const dir = folderOf(modelPath);
  const out: OnnxWeight[] = [];
  // External files read whole are read once per call (sources that read ranges read only the weights).
  const whole = new Map<string, Promise<Uint8Array>>();
  const readWhole = (location: string) => {
    const read = whole.get(location) ?? source.readBytes(location);
    whole.set(location, read);
    return read;
  };
  for (const t of found) {
    if (t.dataType !== FLOAT && t.dataType !== FLOAT16) continue;
    let data: Float32Array;
    if (t.external['location']) {
      const location = checkModelPath(dir + t.external['location'], 'external weights');
      const offset = Number(t.external['offset'] ?? 0);
      const size = t.external['length'];
      let raw: Uint8Array;
      if (source.readRange && size !== undefined) {
        raw = await source.readRange(location, offset, Number(size));
      } else {
        const file = await readWhole(location);
        raw = file.subarray(offset, size === undefined ? file.length : offset + Number(size));
      }
      data = rawToFloat32(raw, t.dataType, `${t.name} in ${location}`);
    } else if (t.raw) {
      data = rawToFloat32(t.raw, t.dataType, `${t.name} in ${modelPath}`);
    } else if (t.dataType === FLOAT) {
      data = Float32Array.from(t.floatData);
    } else {
      data = float16ToFloat32(Uint16Array.from(t.int32Data));
    }
    out.push({ name: t.name, dims: t.dims, data });
  }
  return out;
}
