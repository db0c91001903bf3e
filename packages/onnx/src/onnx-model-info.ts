import { ModelInvalidError } from '@latentkit/core';
import { checkModelPath, folderOf } from './model-paths.js';

/** An external weight file an ONNX model references. */
export interface ExternalDataFile {
  /** The name as written in the model (relative to the `.onnx` file), e.g. `model.onnx_data`. */
  readonly location: string;
  /** The file's path in the model folder, e.g. `unet/model.onnx_data`. */
  readonly path: string;
}

/**
 * What a runtime needs to know about an ONNX file before it creates a session from bytes: which external
 * weight files it references (onnxruntime-web and in-memory loads must be handed them) and whether it
 * computes in float16 (WebGPU can only run that on adapters with `shader-f16`).
 */
export interface OnnxModelInfo {
  /** External weight files, each once, in the order first referenced. */
  readonly externalData: readonly ExternalDataFile[];
  /** True when a graph input, output or weight is float16. */
  readonly usesFloat16: boolean;
}

// ONNX protobuf field numbers (onnx.proto3): ModelProto.graph = 7; GraphProto.initializer = 5,
// input = 11, output = 12; TensorProto.data_type = 2, external_data = 13, data_location = 14;
// StringStringEntryProto key = 1, value = 2; ValueInfoProto.type = 2; TypeProto.tensor_type = 1;
// TypeProto.Tensor.elem_type = 1.
const FLOAT16 = 10;

/** One protobuf field: a varint (wire 0), or a length-delimited payload [start, end) (wire 2). */
interface ProtoField {
  readonly field: number;
  readonly wire: number;
  readonly value: number;
  readonly start: number;
  readonly end: number;
}

/** Iterates the fields of one protobuf message in `bytes[start, end)`; skips fixed-width fields. */
function* protoFields(bytes: Uint8Array, start: number, end: number): Generator<ProtoField> {
  let pos = start;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (pos >= end) throw new Error('truncated varint');
      const b = bytes[pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
  };
  while (pos < end) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) yield { field, wire, value: varint(), start: 0, end: 0 };
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const length = varint();
      const s = pos;
      pos += length;
      if (pos > end) throw new Error('truncated field');
      yield { field, wire, value: 0, start: s, end: pos };
    } else throw new Error(`unsupported wire type ${wire}`);
  }
}

function sub(bytes: Uint8Array, f: ProtoField, field: number): ProtoField | undefined {
  for (const g of protoFields(bytes, f.start, f.end)) if (g.field === field && g.wire === 2) return g;
  return undefined;
}

const utf8 = new TextDecoder();

/**
 * Reads {@link OnnxModelInfo} from an ONNX file's bytes with a minimal protobuf walk (no weights are
 * copied).
 *
 * @param bytes - The `.onnx` file.
 * @param modelPath - Its path in the model folder (external files are resolved beside it, and named in
 *   errors).
 * @throws {@link @latentkit/core!ModelInvalidError} when the bytes are not an ONNX model or an external path leaves the
 *   folder.
 */
export function readOnnxModelInfo(bytes: Uint8Array, modelPath: string): OnnxModelInfo {
  const external = new Set<string>();
  let usesFloat16 = false;
  try {
    for (const f of protoFields(bytes, 0, bytes.length)) {
      if (f.field !== 7 || f.wire !== 2) continue;
      for (const g of protoFields(bytes, f.start, f.end)) {
        if (g.wire !== 2) continue;
        if (g.field === 5) {
          for (const t of protoFields(bytes, g.start, g.end)) {
            if (t.field === 2 && t.wire === 0 && t.value === FLOAT16) usesFloat16 = true;
            if (t.field === 13 && t.wire === 2) {
              let key = '';
              let value = '';
              for (const e of protoFields(bytes, t.start, t.end)) {
                if (e.field === 1) key = utf8.decode(bytes.subarray(e.start, e.end));
                if (e.field === 2) value = utf8.decode(bytes.subarray(e.start, e.end));
              }
              if (key === 'location') external.add(value);
            }
          }
        } else if (g.field === 11 || g.field === 12) {
          const tensorType = sub(bytes, g, 2);
          const tensor = tensorType && sub(bytes, tensorType, 1);
          if (!tensor) continue;
          for (const e of protoFields(bytes, tensor.start, tensor.end)) {
            if (e.field === 1 && e.wire === 0 && e.value === FLOAT16) usesFloat16 = true;
          }
        }
      }
    }
  } catch (error) {
    throw new ModelInvalidError(
      `${modelPath} could not be read as an ONNX model: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const dir = folderOf(modelPath);
  return {
    externalData: [...external].map((location) => ({
      location,
      path: checkModelPath(dir + location, 'external weights'),
    })),
    usesFloat16,
  };
}
