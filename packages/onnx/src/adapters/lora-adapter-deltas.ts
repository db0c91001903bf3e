import { ModelMismatchError } from '@latentkit/core';
import { loraDelta } from './lora-delta.js';
import { type LoraComponent, type LoraFormat, readLoraFile } from './lora-file.js';
import { findLoraTargets, type LoraGraph } from './lora-targets.js';
import type { SafetensorsFile } from './safetensors.js';

/** ΔW by initializer name, in the initializer's own layout (unscaled: W' = W + scale·ΔW). */
export type ComponentDeltas = ReadonlyMap<string, Float32Array>;

/** What {@link computeLoraDeltas} found: the file's format and ΔW per component. */
export interface LoraAdapterDeltas {
  /** The format the file was read as. */
  readonly format: LoraFormat;
  /** ΔW per component (`unet`, `text_encoder`), summed where two layers change one weight. */
  readonly deltas: ReadonlyMap<string, ComponentDeltas>;
}

/**
 * Reads a LoRA file's layers (`readLoraFile`), finds each layer's weight in the loaded components' graphs
 * (`findLoraTargets`) and computes its ΔW (`loraDelta`), once per adapter.
 *
 * Layers for a component the pipeline did not load (a text encoder left out with `components`) are skipped;
 * a layer whose module is not in a loaded component's graph is an error (the adapter was made for another
 * model, or the export renamed its modules), since a partly applied LoRA would silently draw something else.
 *
 * @param file - The parsed safetensors file.
 * @param what - Its name, for messages.
 * @param graphs - The graphs of the loaded components.
 * @throws {@link @latentkit/core!ModelMismatchError} for layers not in the model; the errors of
 *   `readLoraFile`, `findLoraTargets` and `loraDelta`.
 */
export function computeLoraDeltas(
  file: SafetensorsFile,
  what: string,
  graphs: Partial<Readonly<Record<LoraComponent, LoraGraph>>>,
): LoraAdapterDeltas {
  const lora = readLoraFile(file, what);
  const { matched, unmatched } = findLoraTargets(lora.layers, graphs, what);
  const byKey = new Map(lora.layers.map((l) => [l.key, l]));
  const missing = unmatched.filter((key) => graphs[byKey.get(key)!.component] !== undefined);
  if (missing.length > 0) {
    const component = byKey.get(missing[0]!)!.component;
    throw new ModelMismatchError(
      `${what}: ${missing.length} of its ${lora.layers.length} LoRA layers change weights that ${graphs[component]!.modelPath} does not have (e.g. ${missing
        .slice(0, 3)
        .map((k) => JSON.stringify(k))
        .join(
          ', ',
        )}). Fix: use a LoRA trained for this model, or an export that keeps diffusers' module names (a partly applied LoRA would draw something else).`,
    );
  }
  const deltas = new Map<string, Map<string, Float32Array>>();
  for (const { layer, target } of matched) {
    const perComponent = deltas.get(layer.component) ?? new Map<string, Float32Array>();
    deltas.set(layer.component, perComponent);
    const delta = loraDelta(layer, target);
    const seen = perComponent.get(target.initializer);
    if (seen) for (let i = 0; i < seen.length; i++) seen[i]! += delta[i]!;
    else perComponent.set(target.initializer, delta);
  }
  return { format: lora.format, deltas };
}
