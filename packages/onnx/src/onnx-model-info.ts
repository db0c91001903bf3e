import { checkModelPath, folderOf } from './model-paths.js';
import { ProtoReader, WireType } from './onnx-protobuf.js';

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

/**
 * Reads {@link OnnxModelInfo} from an ONNX file's bytes with the minimal protobuf walk of `onnx-protobuf.ts`
 * (no weights are copied).
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
  const model = new ProtoReader(bytes, 0, bytes.length, modelPath);
  for (const f of model.fields()) {
    if (f.field !== 7 || f.wire !== WireType.LENGTH_DELIMITED) continue;
    for (const g of model.sub(f).fields()) {
      if (g.wire !== WireType.LENGTH_DELIMITED) continue;
      if (g.field === 5) {
        for (const t of model.sub(g).fields()) {
          if (t.field === 2 && t.wire === WireType.VARINT && t.value === FLOAT16) usesFloat16 = true;
          if (t.field === 13 && t.wire === WireType.LENGTH_DELIMITED) {
            let key = '';
            let value = '';
            for (const e of model.sub(t).fields()) {
              if (e.field === 1 && e.wire === WireType.LENGTH_DELIMITED) key = model.string(e);
              if (e.field === 2 && e.wire === WireType.LENGTH_DELIMITED) value = model.string(e);
            }
            if (key === 'location') external.add(value);
          }
        }
      } else if (g.field === 11 || g.field === 12) {
        const tensorType = model.find(g, 2);
        const tensor = tensorType && model.find(tensorType, 1);
        if (!tensor) continue;
        for (const e of model.sub(tensor).fields()) {
          if (e.field === 1 && e.wire === WireType.VARINT && e.value === FLOAT16) usesFloat16 = true;
        }
      }
    }
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
