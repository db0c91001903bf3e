import { ProtoReader, WireType } from './onnx-protobuf.js';

/**
 * The structure of an ONNX graph without its weight values: the nodes (name, operator, inputs, outputs,
 * integer attributes) and the initializers (name, dims, element type). LoRA finds the weight behind a
 * module through it (`/down_blocks.0/attentions.0/…/to_q/MatMul` → its weight input), textual inversion
 * finds the token embedding, and the initializer patcher finds what to replace.
 */

/** One node of the graph. */
export interface OnnxGraphNode {
  /** The node's name, e.g. `/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul` (may be empty). */
  readonly name: string;
  /** The operator, e.g. `MatMul`, `Gemm`, `Conv`, `Gather`, `Cast`. */
  readonly opType: string;
  /** Input value names, in order (an initializer's name where the input is a weight). */
  readonly inputs: readonly string[];
  /** Output value names. */
  readonly outputs: readonly string[];
  /** The integer attributes (`transA`, `transB`, `group`, …); others are not read. */
  readonly intAttributes: Readonly<Record<string, number>>;
}

/** One initializer (weight), without its values. */
export interface OnnxGraphInitializer {
  /** Its name. */
  readonly name: string;
  /** Its dimensions. */
  readonly dims: readonly number[];
  /** ONNX's element type: 1 = float32, 10 = float16, 7 = int64, … */
  readonly dataType: number;
  /** Whether its bytes live in an external data file. */
  readonly external: boolean;
}

/** The nodes and initializers of an ONNX model's main graph. */
export interface OnnxGraph {
  /** The nodes in file order. */
  readonly nodes: readonly OnnxGraphNode[];
  /** The initializers by name. */
  readonly initializers: ReadonlyMap<string, OnnxGraphInitializer>;
}

// Field numbers (onnx.proto3): ModelProto.graph = 7; GraphProto.node = 1, initializer = 5;
// NodeProto input = 1, output = 2, name = 3, op_type = 4, attribute = 5; AttributeProto name = 1, i = 3;
// TensorProto dims = 1, data_type = 2, name = 8, data_location = 14 (1 = EXTERNAL).

/**
 * Reads the main graph's nodes and initializers from an ONNX file's bytes (no weight values are copied).
 *
 * @param bytes - The `.onnx` file.
 * @param modelPath - Its path in the model folder, named in errors.
 * @throws {@link @latentkit/core!ModelInvalidError} when the bytes are not an ONNX model.
 */
export function readOnnxGraph(bytes: Uint8Array, modelPath: string): OnnxGraph {
  const nodes: OnnxGraphNode[] = [];
  const initializers = new Map<string, OnnxGraphInitializer>();
  const model = new ProtoReader(bytes, 0, bytes.length, modelPath);
  for (const f of model.fields()) {
    if (f.field !== 7 || f.wire !== WireType.LENGTH_DELIMITED) continue;
    for (const g of model.sub(f).fields()) {
      if (g.wire !== WireType.LENGTH_DELIMITED) continue;
      if (g.field === 1) nodes.push(readNode(model, model.sub(g)));
      else if (g.field === 5) {
        const t = readInitializer(model, model.sub(g));
        initializers.set(t.name, t);
      }
    }
  }
  return { nodes, initializers };
}

function readNode(model: ProtoReader, r: ProtoReader): OnnxGraphNode {
  const inputs: string[] = [];
  const outputs: string[] = [];
  const intAttributes: Record<string, number> = {};
  let name = '';
  let opType = '';
  for (const f of r.fields()) {
    if (f.wire === WireType.LENGTH_DELIMITED) {
      if (f.field === 1) inputs.push(model.string(f));
      else if (f.field === 2) outputs.push(model.string(f));
      else if (f.field === 3) name = model.string(f);
      else if (f.field === 4) opType = model.string(f);
      else if (f.field === 5) {
        let attribute = '';
        let value: number | undefined;
        for (const a of model.sub(f).fields()) {
          if (a.field === 1 && a.wire === WireType.LENGTH_DELIMITED) attribute = model.string(a);
          if (a.field === 3 && a.wire === WireType.VARINT) value = a.value;
        }
        if (value !== undefined) intAttributes[attribute] = value;
      }
    }
  }
  return { name, opType, inputs, outputs, intAttributes };
}

function readInitializer(model: ProtoReader, r: ProtoReader): OnnxGraphInitializer {
  const dims: number[] = [];
  let name = '';
  let dataType = 0;
  let external = false;
  for (const f of r.fields()) {
    if (f.field === 1) {
      if (f.wire === WireType.VARINT) dims.push(f.value);
      else if (f.wire === WireType.LENGTH_DELIMITED)
        for (const p = model.sub(f); !p.done; ) dims.push(p.varint());
    } else if (f.field === 2 && f.wire === WireType.VARINT) dataType = f.value;
    else if (f.field === 8 && f.wire === WireType.LENGTH_DELIMITED) name = model.string(f);
    else if (f.field === 14 && f.wire === WireType.VARINT) external = f.value === 1;
  }
  return { name, dims, dataType, external };
}
