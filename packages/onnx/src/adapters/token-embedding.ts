import { NotImplementedError } from '@latentkit/core';
import { type OnnxGraph, readOnnxGraph } from '../onnx-graph.js';
import type { SessionRequest } from '../session-factory.js';

/**
 * Finds a CLIP text encoder's token embedding in its ONNX graph: the `Gather` whose indices come from the
 * `input_ids` input (through `Cast`s and other shape-only nodes) and whose data is an initializer
 * `[vocab_size, D]` (directly, or through a `Cast` as in fp16 exports). Exports name it differently
 * (`text_model.embeddings.token_embedding.weight` in transformers' CLIP, `m.tok.weight` in the shipped shapes
 * model), so it is found by its place in the graph, not by its name.
 */

// nodes that pass ids (or a weight) through unchanged in value
const PASS_THROUGH = new Set(['Cast', 'Identity', 'Reshape', 'Unsqueeze', 'Squeeze', 'Flatten']);

/**
 * The name of the token embedding initializer in a parsed graph, or undefined.
 *
 * @param graph - The text encoder's graph.
 * @param idsInput - The ids input's name (default `input_ids`).
 */
export function tokenEmbeddingName(graph: OnnxGraph, idsInput = 'input_ids'): string | undefined {
  const fromIds = new Set([idsInput]);
  const producer = new Map<string, { opType: string; inputs: readonly string[] }>();
  for (const node of graph.nodes) {
    for (const out of node.outputs) producer.set(out, node);
    if (PASS_THROUGH.has(node.opType) && fromIds.has(node.inputs[0] ?? '')) {
      for (const out of node.outputs) fromIds.add(out);
    }
  }
  for (const node of graph.nodes) {
    if (node.opType !== 'Gather' || !fromIds.has(node.inputs[1] ?? '')) continue;
    let data = node.inputs[0] ?? '';
    // fp16 exports: initializer (float16) → Cast → Gather
    for (let hops = 0; hops < 4 && !graph.initializers.has(data); hops++) {
      const p = producer.get(data);
      if (!p || !PASS_THROUGH.has(p.opType)) break;
      data = p.inputs[0] ?? '';
    }
    const init = graph.initializers.get(data);
    if (init && init.dims.length === 2) return data;
  }
  return undefined;
}

/**
 * Reads the text encoder's graph and returns the name of its token embedding initializer.
 *
 * @param request - The text encoder's model file and folder.
 * @param read - Its graph, when the caller has read it already (the file is then not read again).
 * @throws {@link @latentkit/core!NotImplementedError} when the graph has no such `Gather` (an export that
 *   fused or renamed the embedding lookup).
 */
export async function findTokenEmbedding(request: SessionRequest, read?: OnnxGraph): Promise<string> {
  const graph = read ?? readOnnxGraph(await request.source.readBytes(request.modelPath), request.modelPath);
  const name = tokenEmbeddingName(graph);
  if (name === undefined) {
    throw new NotImplementedError(
      `Textual inversion grows the text encoder's token embedding, but ${request.modelPath} has no Gather of input_ids from a [vocab_size, D] weight (an export that fused the embedding lookup). ` +
        'Fix: use an export of the text encoder made with torch.onnx.export or Optimum without graph fusion.',
    );
  }
  return name;
}
