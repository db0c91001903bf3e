import { ModelInvalidError } from '@latentkit/core';
import { float16ToFloat32 } from './float16.js';
import { checkModelPath, folderOf } from './model-paths.js';
import type { ModelSource } from './model-source.js';

/**
 * Reads named weights (initializers) out of an ONNX file without a protobuf library: just the few
 * fields of ModelProto → GraphProto → TensorProto needed for float tensors. Used for the CLIP final layer
 * norm, which clip skip applies to an intermediate hidden state but which exports only hold as weights.
 */

interface Field {
  readonly field: number;
  readonly wire: number;
  /** varint value (wire 0) or fixed32 bits (wire 5) */
  readonly value: number;
  /** payload bounds (wire 2) */
  readonly start: number;
  readonly end: number;
}

class Reader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const b = this.bytes[this.pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
  }

  next(): Field | undefined {
    if (this.pos >= this.end) return undefined;
    const key = this.varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) return { field, wire, value: this.varint(), start: 0, end: 0 };
    if (wire === 1) {
      this.pos += 8;
      return { field, wire, value: 0, start: 0, end: 0 };
    }
    if (wire === 2) {
      const len = this.varint();
      const start = this.pos;
      this.pos += len;
      if (this.pos > this.end) throw new Error('truncated field');
      return { field, wire, value: 0, start, end: this.pos };
    }
    if (wire === 5) {
      const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 4).getUint32(0, true);
      this.pos += 4;
      return { field, wire, value: v, start: 0, end: 0 };
    }
    throw new Error(`unsupported wire type ${wire}`);
  }
}

const utf8 = new TextDecoder();
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

function parseTensor(
  bytes: Uint8Array,
  start: number,
  end: number,
  wanted: (name: string) => boolean,
): TensorRef | undefined {
  const r = new Reader(bytes, start, end);
  const t: TensorRef = { name: '', dataType: 0, dims: [], floatData: [], int32Data: [], external: {} };
  const fields: Field[] = [];
  for (let f = r.next(); f; f = r.next()) {
    if (f.field === 8 && f.wire === 2) t.name = utf8.decode(bytes.subarray(f.start, f.end));
    fields.push(f);
  }
  if (!wanted(t.name)) return undefined;
  const packed = (f: Field, read: (rr: Reader) => number, out: number[]) => {
    const rr = new Reader(bytes, f.start, f.end);
    while (rr.pos < rr.end) out.push(read(rr));
  };
  for (const f of fields) {
    if (f.field === 1) {
      if (f.wire === 0) t.dims.push(f.value);
      else packed(f, (rr) => rr.varint(), t.dims);
    } else if (f.field === 2) t.dataType = f.value;
    else if (f.field === 4) {
      if (f.wire === 5) t.floatData.push(f.value);
      else {
        const view = new DataView(bytes.buffer, bytes.byteOffset + f.start, f.end - f.start);
        for (let o = 0; o + 4 <= view.byteLength; o += 4) t.floatData.push(view.getFloat32(o, true));
      }
    } else if (f.field === 5) {
      if (f.wire === 0) t.int32Data.push(f.value);
      else packed(f, (rr) => rr.varint(), t.int32Data);
    } else if (f.field === 9) t.raw = bytes.subarray(f.start, f.end);
    else if (f.field === 13) {
      const rr = new Reader(bytes, f.start, f.end);
      let key = '';
      let value = '';
      for (let g = rr.next(); g; g = rr.next()) {
        if (g.field === 1) key = utf8.decode(bytes.subarray(g.start, g.end));
        if (g.field === 2) value = utf8.decode(bytes.subarray(g.start, g.end));
      }
      t.external[key] = value;
    }
  }
  // float_data read as fixed32 bits when not packed: reinterpret
  if (fields.some((f) => f.field === 4 && f.wire === 5)) {
    const bits = new Uint32Array(t.floatData);
    t.floatData = Array.from(new Float32Array(bits.buffer));
  }
  return t;
}

function rawToFloat32(raw: Uint8Array, dataType: number): Float32Array {
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
  try {
    const model = new Reader(bytes, 0, bytes.length);
    for (let f = model.next(); f; f = model.next()) {
      if (f.field !== 7 || f.wire !== 2) continue; // ModelProto.graph
      const graph = new Reader(bytes, f.start, f.end);
      for (let g = graph.next(); g; g = graph.next()) {
        if (g.field !== 5 || g.wire !== 2) continue; // GraphProto.initializer
        const t = parseTensor(bytes, g.start, g.end, wanted);
        if (t) found.push(t);
      }
    }
  } catch (err) {
    throw new ModelInvalidError(
      `${modelPath} could not be read as an ONNX model: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const dir = folderOf(modelPath);
  const out: OnnxWeight[] = [];
  for (const t of found) {
    if (t.dataType !== FLOAT && t.dataType !== FLOAT16) continue;
    let data: Float32Array;
    if (t.external['location']) {
      const file = await source.readBytes(checkModelPath(dir + t.external['location'], 'external weights'));
      const offset = Number(t.external['offset'] ?? 0);
      const length = Number(t.external['length'] ?? file.length - offset);
      data = rawToFloat32(file.subarray(offset, offset + length), t.dataType);
    } else if (t.raw) {
      data = rawToFloat32(t.raw, t.dataType);
    } else if (t.dataType === FLOAT) {
      data = Float32Array.from(t.floatData);
    } else {
      data = float16ToFloat32(Uint16Array.from(t.int32Data));
    }
    out.push({ name: t.name, dims: t.dims, data });
  }
  return out;
}
