import { ModelMismatchError } from '@latentkit/core';
import type { OnnxGraph, OnnxGraphNode } from '../onnx-graph.js';
import type { LoraComponent, LoraLayer } from './lora-file.js';
import { sgmToDiffusersName } from './sgm-lora-names.js';

/**
 * Finds the weight each LoRA layer changes in an ONNX graph. A LoRA names torch modules
 * (`down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q`); an ONNX export keeps that name in one of
 * three places, tried in this order:
 *
 * 1. an initializer named `<module>.weight` (Conv and Gemm weights; Linear weights of exports without constant
 *    folding, read through `Transpose → MatMul`);
 * 2. an initializer named `<module>.bias` (or its Cast) added to a MatMul's output (a Linear with bias whose
 *    folded weight lost its name);
 * 3. the scope in a node's name: `/down_blocks.0/…/attn1/to_q/MatMul` → `down_blocks.0.….attn1.to_q`
 *    (Optimum and torch exports fold the transpose, so that MatMul's weight is an `onnx::MatMul_N` `[in, out]`).
 *
 * The weight is followed through `Cast` (fp16 exports), `Transpose` and `Identity` to the initializer, which
 * fixes its layout. Exports often wrap the model (`m.`…); when no name matches exactly, a match after dropping
 * the graph name's first segment is taken if it is unique. kohya's underscored names are compared with the
 * graph's names written the same way; kohya's SDXL names in the original model's terms (`input_blocks_4_1_…`)
 * are also tried under their diffusers names (`sgmToDiffusersName`).
 */

/**
 * How a weight is stored: `linear` `[out, in]` (torch's Linear, Gemm with transB = 1), `matmul` `[in, out]`
 * (a MatMul's right operand, Gemm with transB = 0), `conv` `[out, in, kh, kw]`.
 */
export type LoraLayout = 'linear' | 'matmul' | 'conv';

/** The initializer a LoRA layer changes. */
export interface LoraTarget {
  /** The initializer's name in the graph. */
  readonly initializer: string;
  /** How its values are laid out. */
  readonly layout: LoraLayout;
  /** Its dimensions. */
  readonly dims: readonly number[];
}

/** One component's graph, for {@link findLoraTargets}. */
export interface LoraGraph {
  /** The graph (`readOnnxGraph`). */
  readonly graph: OnnxGraph;
  /** Its file in the model folder (e.g. `unet/model.onnx`), named in errors. */
  readonly modelPath: string;
}

/** A LoRA layer and the weight it changes. */
export interface LoraMatch {
  /** The layer. */
  readonly layer: LoraLayer;
  /** Its weight. */
  readonly target: LoraTarget;
}

/** Options of {@link findLoraTargets}. */
export interface LoraTargetOptions {
  /**
   * The UNet's `layers_per_block` (its config.json), to rename kohya SDXL layers named as the original model
   * names them (`lora_unet_input_blocks_4_1_…`) to diffusers' names. Default 2 (SDXL base and refiner).
   */
  readonly layersPerBlock?: number;
}

/** What {@link findLoraTargets} found. */
export interface LoraTargets {
  /** The layers whose weight was found, in the order given. */
  readonly matched: readonly LoraMatch[];
  /** The keys (as in the file) of layers whose module is not in the model; the caller may warn about them. */
  readonly unmatched: readonly string[];
}

const PASS_THROUGH = new Set(['Cast', 'Identity', 'Transpose']);
const PATCHABLE_TYPES = new Set([1, 10]); // float32, float16

/** A weight-consuming node's weight, resolved to its initializer. */
function resolveWeight(
  node: OnnxGraphNode,
  graph: OnnxGraph,
  producers: ReadonlyMap<string, OnnxGraphNode>,
): LoraTarget | undefined {
  if (node.opType !== 'MatMul' && node.opType !== 'Gemm' && node.opType !== 'Conv') return undefined;
  let value = node.inputs[1];
  let transposes = 0;
  for (let hops = 0; value !== undefined && hops < 8; hops++) {
    const init = graph.initializers.get(value);
    if (init) {
      if (!PATCHABLE_TYPES.has(init.dataType)) return undefined;
      const dims = init.dims;
      let layout: LoraLayout;
      if (node.opType === 'Conv') {
        if (transposes !== 0 || dims.length !== 4) return undefined;
        layout = 'conv';
      } else {
        if (dims.length !== 2) return undefined;
        const transB = node.opType === 'Gemm' && node.intAttributes['transB'] === 1;
        layout = (transposes % 2 === 1) !== transB ? 'linear' : 'matmul';
      }
      return { initializer: init.name, layout, dims };
    }
    const producer = producers.get(value);
    if (!producer || !PASS_THROUGH.has(producer.opType)) return undefined;
    // a 2-D weight's only non-trivial transpose is perm [1, 0] (a Conv weight through one is refused)
    if (producer.opType === 'Transpose') transposes++;
    value = producer.inputs[0];
  }
  return undefined;
}

/** The initializer a value is, or is cast from (fp16 exports read weights through a Cast). */
function sourceInitializer(
  value: string,
  graph: OnnxGraph,
  producers: ReadonlyMap<string, OnnxGraphNode>,
): string | undefined {
  for (let hops = 0; hops < 4; hops++) {
    if (graph.initializers.has(value)) return value;
    const producer = producers.get(value);
    if (!producer || (producer.opType !== 'Cast' && producer.opType !== 'Identity')) return undefined;
    value = producer.inputs[0] ?? '';
  }
  return undefined;
}

/** Module name → the targets found under it (more than one distinct initializer = ambiguous). */
type ModuleMap = Map<string, Map<string, LoraTarget>>;

function add(map: ModuleMap, module: string, target: LoraTarget): void {
  const set = map.get(module) ?? new Map<string, LoraTarget>();
  set.set(target.initializer, target);
  map.set(module, set);
}

/** The module names of one graph, indexed for dotted (diffusers) and underscored (kohya) lookups. */
interface GraphIndex {
  /** Names from initializers (`<module>.weight`, `<module>.bias`): reliable. */
  readonly named: ModuleMap;
  /** Names from node scopes. */
  readonly scoped: ModuleMap;
}

function indexGraph(graph: OnnxGraph): GraphIndex {
  const producers = new Map<string, OnnxGraphNode>();
  const consumers = new Map<string, OnnxGraphNode[]>();
  for (const node of graph.nodes) {
    for (const out of node.outputs) producers.set(out, node);
    for (const input of node.inputs) {
      const list = consumers.get(input);
      if (list) list.push(node);
      else consumers.set(input, [node]);
    }
  }
  const named: ModuleMap = new Map();
  const scoped: ModuleMap = new Map();
  for (const node of graph.nodes) {
    const target = resolveWeight(node, graph, producers);
    if (!target) continue;
    if (target.initializer.endsWith('.weight'))
      add(named, target.initializer.slice(0, -'.weight'.length), target);
    if (node.opType === 'MatMul') {
      for (const next of consumers.get(node.outputs[0] ?? '') ?? []) {
        if (next.opType !== 'Add') continue;
        for (const input of next.inputs) {
          const bias = sourceInitializer(input, graph, producers);
          if (bias?.endsWith('.bias')) add(named, bias.slice(0, -'.bias'.length), target);
        }
      }
    }
    if (node.name.startsWith('/')) {
      const parts = node.name.slice(1).split('/');
      if (parts.length >= 2 && parts.every((p) => p !== ''))
        add(scoped, parts.slice(0, -1).join('.'), target);
    }
  }
  return { named, scoped };
}

/** Re-keys a map: by a function of the name (underscored, first segment dropped). */
function rekey(map: ModuleMap, key: (module: string) => string | undefined): ModuleMap {
  const out: ModuleMap = new Map();
  for (const [module, targets] of map) {
    const k = key(module);
    if (k === undefined) continue;
    for (const t of targets.values()) add(out, k, t);
  }
  return out;
}

const dropFirst = (module: string): string | undefined => {
  const dot = module.indexOf('.');
  return dot < 0 ? undefined : module.slice(dot + 1);
};
const flat = (module: string): string => module.replace(/\./g, '_');

/** Lookup tables for one graph, in the order they are tried. */
class ModuleLookup {
  private readonly tables: { dotted: ModuleMap; flat: ModuleMap }[];
  /** A few of the graph's module names, for messages. */
  readonly sampleNames: readonly string[];

  constructor(graph: OnnxGraph) {
    const { named, scoped } = indexGraph(graph);
    const tables = [named, scoped, rekey(named, dropFirst), rekey(scoped, dropFirst)];
    this.tables = tables.map((dotted) => ({ dotted, flat: rekey(dotted, flat) }));
    this.sampleNames = [...new Set([...named.keys(), ...scoped.keys()])].slice(0, 6);
  }

  /**
   * The unique target of a layer, `undefined` when none, `'ambiguous'` when several initializers. A kohya
   * UNet name in SGM style (`input_blocks_…`) is also tried under its diffusers name.
   */
  find(layer: LoraLayer, layersPerBlock: number): LoraTarget | 'ambiguous' | undefined {
    const flats: string[] = [];
    if (layer.flatName !== undefined) {
      flats.push(layer.flatName);
      const sgm = layer.component === 'unet' ? sgmToDiffusersName(layer.flatName, layersPerBlock) : undefined;
      if (sgm !== undefined) flats.push(sgm);
    }
    for (const flatName of flats) {
      for (const table of this.tables) {
        const hits = table.flat.get(flatName);
        if (hits) return hits.size > 1 ? 'ambiguous' : [...hits.values()][0];
      }
    }
    if (layer.module !== undefined) {
      for (const table of this.tables) {
        const hits = table.dotted.get(layer.module);
        if (hits) return hits.size > 1 ? 'ambiguous' : [...hits.values()][0];
      }
    }
    return undefined;
  }
}

function checkShape(layer: LoraLayer, target: LoraTarget, modelPath: string, what: string): void {
  const out = layer.up.shape[0]!;
  const rank = layer.down.shape[0]!;
  const inner = layer.down.shape.slice(1); // [in] or [in, kh, kw]
  const d = target.dims;
  let found: string;
  let ok: boolean;
  if (target.layout === 'conv') {
    const kernel = inner.length === 3 ? inner.slice(1) : [1, 1];
    ok = d[0] === out && d[1] === inner[0] && d[2] === kernel[0] && d[3] === kernel[1];
    found = `[out ${d[0]}, in ${d[1]}, kh ${d[2]}, kw ${d[3]}]`;
  } else {
    const [rows, cols] = target.layout === 'linear' ? [d[0], d[1]] : [d[1], d[0]];
    ok = rows === out && cols === inner[0] && (inner.length === 1 || (inner[1] === 1 && inner[2] === 1));
    found = `[out ${rows}, in ${cols}]`;
  }
  if (!ok) {
    const expected =
      inner.length === 3
        ? `[out ${out}, in ${inner[0]}, kh ${inner[1]}, kw ${inner[2]}]`
        : `[out ${out}, in ${inner[0]}]`;
    throw new ModelMismatchError(
      `${what}: LoRA layer ${JSON.stringify(layer.key)} (rank ${rank}) changes a weight of ${expected}, but its target ${JSON.stringify(target.initializer)} in ${modelPath} is ${found} (${target.layout} layout, dims [${d.join(', ')}]). Fix: this LoRA was trained for another model (e.g. SDXL vs SD 1.x, or another hidden size); use a LoRA made for this model's base.`,
    );
  }
}

function layerName(layer: LoraLayer): string {
  return layer.module ?? layer.flatName ?? layer.key;
}

/**
 * Finds the weight of every LoRA layer in the graphs of the model's components.
 *
 * @param layers - The layers (`readLoraFile`).
 * @param graphs - The graph of each component the model has (`unet`, `text_encoder`, `text_encoder_2`).
 * @param what - The LoRA file's name, for messages.
 * @param options - The UNet's `layers_per_block`, for kohya SDXL names.
 * @returns The matched layers and the keys of the layers whose module is not in the model.
 * @throws {@link @latentkit/core!ModelMismatchError} when no layer's module is in the model (a LoRA for
 *   another kind of model), when a name matches several weights, or when a matched weight's dimensions
 *   differ from the layer's.
 */
export function findLoraTargets(
  layers: readonly LoraLayer[],
  graphs: Partial<Readonly<Record<LoraComponent, LoraGraph>>>,
  what: string,
  options: LoraTargetOptions = {},
): LoraTargets {
  const layersPerBlock = options.layersPerBlock ?? 2;
  const lookups = new Map<LoraComponent, ModuleLookup>();
  const matched: LoraMatch[] = [];
  const unmatched: string[] = [];
  for (const layer of layers) {
    const g = graphs[layer.component];
    if (!g) {
      unmatched.push(layer.key);
      continue;
    }
    const lookup = lookups.get(layer.component) ?? new ModuleLookup(g.graph);
    lookups.set(layer.component, lookup);
    const target = lookup.find(layer, layersPerBlock);
    if (target === 'ambiguous') {
      throw new ModelMismatchError(
        `${what}: LoRA layer ${JSON.stringify(layer.key)} names module ${JSON.stringify(layerName(layer))}, which matches more than one weight in ${g.modelPath}. Fix: the export's node names are not unique; re-export the model with diffusers' module names (Optimum), or use a diffusers-format LoRA with full module paths.`,
      );
    }
    if (!target) {
      unmatched.push(layer.key);
      continue;
    }
    checkShape(layer, target, g.modelPath, what);
    matched.push({ layer, target });
  }
  if (matched.length === 0 && layers.length > 0) {
    const keys = layers.slice(0, 3).map((l) => JSON.stringify(layerName(l)));
    const components = [...new Set(layers.map((l) => l.component))];
    const models = components
      .map((c) => {
        const g = graphs[c];
        if (!g) return `${c}: not in this model`;
        const lookup = lookups.get(c) ?? new ModuleLookup(g.graph);
        return `${g.modelPath}: ${lookup.sampleNames.map((n) => JSON.stringify(n)).join(', ') || 'no weight names'}`;
      })
      .join('; ');
    throw new ModelMismatchError(
      `${what}: none of its ${layers.length} LoRA layers is in this model. The LoRA changes ${keys.join(', ')}${layers.length > 3 ? ', …' : ''}; the model's modules are e.g. ${models}. Fix: use a LoRA trained for this model's base (SD 1.x, SD 2.x and SDXL LoRAs do not mix).`,
    );
  }
  return { matched, unmatched };
}
