import {
  type AdapterSource,
  checkAdapterNames,
  checkLoraScale,
  checkLoraTagNames,
  checkNewAdapterName,
  InvalidArgumentError,
  type LoraAdapterInfo,
  type LoraLoadOptions,
  type ModelAdapters,
  ModelInvalidError,
  NonFiniteOutputError,
  NotImplementedError,
  type TextualInversionInfo,
  type TextualInversionLoadOptions,
} from '@latentkit/core';
import type { InitializerOverride, InitializerOverrides } from '../initializer-overrides.js';
import { readOnnxGraph } from '../onnx-graph.js';
import { readOnnxWeights } from '../onnx-initializers.js';
import type { SessionRequest } from '../session-factory.js';
import {
  type AdapterReader,
  adapterStem,
  checkAdapterSource,
  noAdapterReader,
  readAdapterSource,
} from './adapter-reader.js';
import { type ComponentDeltas, computeLoraDeltas } from './lora-adapter-deltas.js';
import type { LoraComponent } from './lora-file.js';
import type { LoraGraph } from './lora-targets.js';
import { MergeQueue } from './merge-queue.js';
import { parseSafetensors } from './safetensors.js';
import {
  loadSdxlTextualInversionInto,
  loadTextualInversionInto,
  type TextualInversionTarget,
} from './textual-inversion.js';

/** A loaded model part whose weights adapters change: the UNet denoiser or a text encoder. */
export interface AdapterComponent {
  /** Where its session came from: component name, model file, folder. */
  readonly request: SessionRequest;
  /**
   * Re-creates its session with these initializers replaced (undefined: the file's own weights); a call
   * already running keeps the session it started with.
   */
  setInitializerOverrides(overrides: InitializerOverrides | undefined): Promise<void>;
}

/** What {@link OnnxModelAdapters} works on. */
export interface OnnxModelAdaptersOptions {
  /** The components LoRA patches, by folder name (`unet`, `text_encoder`); those not loaded are left out. */
  readonly components: Readonly<Partial<Record<string, AdapterComponent>>>;
  /** Reads a file named by a string (the backend's); without it only bytes are accepted. */
  readonly read?: AdapterReader;
  /** The tokenizer that textual inversion adds tokens to; none without a text encoder. */
  readonly tokenizer?: TextualInversionTarget['tokenizer'];
  /**
   * SDXL: `tokenizer_2`, the second text encoder's. With it (and a `text_encoder_2` component) textual
   * inversion takes SDXL embeddings: `clip_l` into `text_encoder`, `clip_g` into `text_encoder_2`.
   */
  readonly tokenizer2?: TextualInversionTarget['tokenizer'];
}

interface LoadedLora {
  readonly name: string;
  scale: number;
  readonly format: 'kohya' | 'diffusers';
  /** ΔW per initializer (unscaled: W' = W + scale·ΔW), per component. */
  readonly deltas: ReadonlyMap<string, ComponentDeltas>;
}

interface ComponentState {
  readonly component: AdapterComponent;
  /** The file's values of the initializers a LoRA touches (read once, when first needed). */
  readonly base: Map<string, InitializerOverride>;
  /** Overrides that are not LoRA merges (textual inversion's grown token embedding). */
  readonly fixed: Map<string, InitializerOverride>;
  /** Bumped whenever `fixed` changes, so the next merge re-creates the session. */
  fixedVersion: number;
  /** What the session now has: the merge key of its current overrides ('' = the file's weights). */
  applied: string;
  /** The overrides the session now has. */
  current: InitializerOverrides;
  /** The graph, read when the first LoRA or embedding is loaded. */
  graph?: LoraGraph;
}

/**
 * LoRA adapters and textual-inversion embeddings on a model loaded from an ONNX folder
 * ({@link @latentkit/core!ModelAdapters}). Each adapter's ΔW is computed once, when it is loaded; the
 * touched weights' file values are read once. A merge writes W + Σ scaleᵢ·ΔWᵢ into initializer overrides
 * and re-creates the sessions of the components whose weights changed (the model files are never
 * rewritten). Calls that need the same scales share one merge; a call that needs others, and every change
 * of the adapters, waits until the running calls are done (a first-in, first-out `MergeQueue`).
 *
 * Merges are lazy: after a call with per-call scales (`<lora:name:w>` tags) the sessions keep those weights
 * until the next call through {@link OnnxModelAdapters.withScales} (every pipeline `generate()`) asks for
 * others, so calls with the same tags in a row merge once. A denoiser or text encoder called directly,
 * outside `generate()`, runs with whatever weights the last call left.
 */
export class OnnxModelAdapters implements ModelAdapters {
  readonly #components = new Map<string, ComponentState>();
  readonly #read: AdapterReader;
  readonly #tokenizer: OnnxModelAdaptersOptions['tokenizer'];
  readonly #tokenizer2: OnnxModelAdaptersOptions['tokenizer2'];
  readonly #loras: LoadedLora[] = [];
  readonly #embeddings: TextualInversionInfo[] = [];
  readonly #queue = new MergeQueue();
  #unnamed = 0;

  /** @param options - The components, the backend's file reader, and the tokenizer for textual inversion. */
  constructor(options: OnnxModelAdaptersOptions) {
    for (const [name, component] of Object.entries(options.components)) {
      if (component) {
        this.#components.set(name, {
          component,
          base: new Map(),
          fixed: new Map(),
          fixedVersion: 0,
          applied: '',
          current: new Map(),
        });
      }
    }
    this.#read = options.read ?? noAdapterReader;
    this.#tokenizer = options.tokenizer;
    this.#tokenizer2 = options.tokenizer2;
  }

  /** The loaded adapters, in load order, with their current scales. */
  get loras(): readonly LoraAdapterInfo[] {
    return this.#loras.map((l) => ({
      name: l.name,
      scale: l.scale,
      format: l.format,
      targets: Object.fromEntries([...l.deltas].map(([c, d]) => [c, d.size])),
    }));
  }

  /** The loaded embeddings. */
  get embeddings(): readonly TextualInversionInfo[] {
    return [...this.#embeddings];
  }

  /**
   * Loads a LoRA file, computes its ΔW for every weight it targets, and merges it at `scale` (default 1).
   * Resolves once the sessions hold the new weights.
   *
   * @throws {@link @latentkit/core!InvalidArgumentError} for a bad source, name (a duplicate: unload first or
   *   pass another `adapterName`) or scale; the errors of reading and matching the file.
   */
  async loadLoraWeights(source: AdapterSource, options: LoraLoadOptions = {}): Promise<LoraAdapterInfo> {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError({
        name: 'options',
        value: options,
        expected: 'an object such as { scale: 0.8, adapterName: "pink" }',
      });
    }
    checkAdapterSource(source);
    const scale = checkLoraScale('scale', options.scale ?? 1);
    return this.#queue.run(
      undefined,
      async () => undefined,
      async () => {
        const names = this.#loras.map((l) => l.name);
        const name = checkNewAdapterName(
          options.adapterName ??
            (typeof source === 'string' ? adapterStem(source) : this.#defaultName(names)),
          names,
        );
        const { bytes, what } = await readAdapterSource(source, this.#read);
        const file = parseSafetensors(bytes, what);
        const { format, deltas } = computeLoraDeltas(file, what, await this.#graphs());
        const lora: LoadedLora = { name, scale, format, deltas };
        this.#loras.push(lora);
        try {
          await this.#merge(this.#currentScales());
        } catch (error) {
          this.#loras.pop();
          await this.#merge(this.#currentScales()).catch(() => undefined);
          throw error;
        }
        return this.loras.at(-1)!;
      },
    );
  }

  async #graphs(): Promise<Partial<Record<LoraComponent, LoraGraph>>> {
    const graphs: Partial<Record<LoraComponent, LoraGraph>> = {};
    for (const [name, state] of this.#components) graphs[name as LoraComponent] = await this.#graph(state);
    return graphs;
  }

  /** A component's graph, read from its file once (LoRA targets and textual inversion share it). */
  async #graph(state: ComponentState): Promise<LoraGraph> {
    if (!state.graph) {
      const { source, modelPath } = state.component.request;
      state.graph = { graph: readOnnxGraph(await source.readBytes(modelPath), modelPath), modelPath };
    }
    return state.graph;
  }

  #defaultName(names: readonly string[]): string {
    while (names.includes(`default_${this.#unnamed}`)) this.#unnamed++;
    return `default_${this.#unnamed++}`;
  }

  /**
   * Sets the active adapters and their scales (diffusers' `set_adapters`): those named get the scales (1
   * each without scales), every other loaded adapter gets 0.
   *
   * @throws {@link @latentkit/core!InvalidArgumentError} for an unknown or repeated name, a scale that is not
   *   finite, or a list of scales of another length.
   */
  async setAdapters(names: readonly string[], scales?: readonly number[]): Promise<void> {
    checkAdapterNames(
      names,
      scales,
      this.#loras.map((l) => l.name),
    );
    await this.#queue.run(
      undefined,
      async () => undefined,
      async () => {
        // checked again: an adapter may have been unloaded while this call waited
        checkAdapterNames(
          names,
          scales,
          this.#loras.map((l) => l.name),
        );
        const before = this.#loras.map((l) => l.scale);
        for (const lora of this.#loras) {
          const i = names.indexOf(lora.name);
          lora.scale = i < 0 ? 0 : (scales?.[i] ?? 1);
        }
        try {
          await this.#merge(this.#currentScales());
        } catch (error) {
          // a merge that fails is checked before any session changes: keep the scales as they were
          this.#loras.forEach((l, i) => {
            l.scale = before[i]!;
          });
          throw error;
        }
      },
    );
  }

  /** Removes every LoRA adapter: the sessions get the file's weights again (with any embeddings kept). */
  async unloadLoraWeights(): Promise<void> {
    await this.#queue.run(
      undefined,
      async () => undefined,
      async () => {
        this.#loras.splice(0);
        await this.#merge(new Map());
      },
    );
  }

  /**
   * Runs `body` with these scales for the named adapters (the others keep theirs), merging first when the
   * sessions hold other weights. Calls asking for the same scales run together.
   *
   * @throws {@link @latentkit/core!InvalidArgumentError} for a name that is not loaded or a scale that is not
   *   finite.
   */
  async withScales<T>(scales: ReadonlyMap<string, number>, body: () => Promise<T>): Promise<T> {
    if (!(scales instanceof Map)) {
      throw new InvalidArgumentError({
        name: 'scales',
        value: scales,
        expected: 'a Map from adapter name to scale',
        fix: "pass e.g. new Map([['pink', 0.8]])",
      });
    }
    const check = () => {
      checkLoraTagNames(
        scales,
        this.#loras.map((l) => l.name),
      );
      for (const [name, s] of scales) checkLoraScale(`scale of ${name}`, s);
    };
    check();
    const key = JSON.stringify([...scales].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    return this.#queue.run(
      key,
      async () => {
        check(); // the adapters may have changed while this call waited
        const wanted = this.#currentScales();
        for (const [name, s] of scales) wanted.set(name, s);
        await this.#merge(wanted);
      },
      body,
    );
  }

  /**
   * Loads a textual-inversion embedding: its vectors become new rows of the text encoder's token
   * embedding and its token(s) are added to the tokenizer (see `textual-inversion.ts`). On SDXL (with
   * `text_encoder_2` and `tokenizer2`) the file must be an SDXL embedding: `clip_l` goes into text_encoder,
   * `clip_g` into text_encoder_2, the tokens into both tokenizers, in one merge.
   */
  loadTextualInversion(
    source: AdapterSource,
    options: TextualInversionLoadOptions = {},
  ): Promise<TextualInversionInfo> {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError({
        name: 'options',
        value: options,
        expected: "an object such as { token: '<pink>' }",
      });
    }
    return this.#queue.run(
      undefined,
      async () => undefined,
      async () => {
        const text2 = this.#components.get('text_encoder_2');
        if (text2 && this.#tokenizer2) {
          const info = await this.#loadSdxlEmbedding(source, options, text2, this.#tokenizer2);
          this.#embeddings.push(info);
          return info;
        }
        const text = this.#components.get('text_encoder');
        const tokenizer = this.#tokenizer;
        if (!text || !tokenizer) {
          throw new NotImplementedError(
            'loadTextualInversion() needs the text encoder and its tokenizer, but this pipeline was loaded without them (components without "text_encoder"). Fix: load the model with its text encoder.',
          );
        }
        const { bytes, what } = await readAdapterSource(source, this.#read);
        const stem = typeof source === 'string' ? adapterStem(source) : undefined;
        const info = await loadTextualInversionInto(
          {
            tokenizer,
            textEncoder: { request: text.component.request, graph: (await this.#graph(text)).graph },
            overrides: text.current,
            setTokenEmbedding: async (name, value) => {
              const before = text.fixed.get(name);
              text.fixed.set(name, value);
              text.fixedVersion++;
              try {
                await this.#merge(this.#currentScales());
              } catch (error) {
                if (before) text.fixed.set(name, before);
                else text.fixed.delete(name);
                text.fixedVersion++;
                throw error;
              }
            },
          },
          bytes,
          {
            what,
            ...(options.token !== undefined ? { token: options.token } : {}),
            ...(stem ? { fileStem: stem } : {}),
          },
        );
        this.#embeddings.push(info);
        return info;
      },
    );
  }

  /** SDXL: `clip_l` into text_encoder (when loaded), `clip_g` into text_encoder_2, one merge for both. */
  async #loadSdxlEmbedding(
    source: AdapterSource,
    options: TextualInversionLoadOptions,
    text2: ComponentState,
    tokenizer2: NonNullable<OnnxModelAdaptersOptions['tokenizer2']>,
  ): Promise<TextualInversionInfo> {
    const text1 = this.#components.get('text_encoder');
    const tokenizer1 = this.#tokenizer;
    const { bytes, what } = await readAdapterSource(source, this.#read);
    const stem = typeof source === 'string' ? adapterStem(source) : undefined;
    const target = async (
      state: ComponentState,
      tokenizer: NonNullable<OnnxModelAdaptersOptions['tokenizer']>,
    ) => ({
      tokenizer,
      textEncoder: { request: state.component.request, graph: (await this.#graph(state)).graph },
      overrides: state.current,
    });
    const stateOf = { first: text1, second: text2 };
    return loadSdxlTextualInversionInto(
      {
        ...(text1 && tokenizer1 ? { first: await target(text1, tokenizer1) } : {}),
        second: await target(text2, tokenizer2),
        setTokenEmbeddings: async (values) => {
          const before = values.map((v) => ({
            state: stateOf[v.encoder]!,
            name: v.name,
            value: stateOf[v.encoder]!.fixed.get(v.name),
          }));
          for (const v of values) {
            const state = stateOf[v.encoder]!;
            state.fixed.set(v.name, v.value);
            state.fixedVersion++;
          }
          try {
            await this.#merge(this.#currentScales());
          } catch (error) {
            for (const b of before) {
              if (b.value) b.state.fixed.set(b.name, b.value);
              else b.state.fixed.delete(b.name);
              b.state.fixedVersion++;
            }
            await this.#merge(this.#currentScales()).catch(() => undefined);
            throw error;
          }
        },
      },
      bytes,
      {
        what,
        ...(options.token !== undefined ? { token: options.token } : {}),
        ...(stem ? { fileStem: stem } : {}),
      },
    );
  }

  #currentScales(): Map<string, number> {
    return new Map(this.#loras.map((l) => [l.name, l.scale]));
  }

  /**
   * Makes the sessions hold base + Σ scaleᵢ·ΔWᵢ for `scales` (adapters with scale 0 or not listed left out).
   * Only components whose merge differs from what they hold are re-created.
   */
  async #merge(scales: ReadonlyMap<string, number>): Promise<void> {
    // Every component's merge is computed and checked first, so a merge that fails changes no session.
    const changes: { state: ComponentState; key: string; overrides: Map<string, InitializerOverride> }[] = [];
    for (const [componentName, state] of this.#components) {
      const active = this.#loras
        .map((l) => ({ lora: l, scale: scales.get(l.name) ?? 0, deltas: l.deltas.get(componentName) }))
        .filter((a) => a.scale !== 0 && a.deltas !== undefined && a.deltas.size > 0);
      const key =
        active.length === 0 && state.fixed.size === 0
          ? ''
          : JSON.stringify([active.map((a) => [a.lora.name, a.scale]), state.fixedVersion]);
      if (key === state.applied) continue;
      const overrides = new Map<string, InitializerOverride>(state.fixed);
      const touched = new Set(active.flatMap((a) => [...a.deltas!.keys()]));
      await this.#readBase(state, touched);
      for (const name of touched) {
        const base = state.base.get(name)!;
        const data = Float32Array.from(base.data);
        for (const a of active) {
          const delta = a.deltas!.get(name);
          if (!delta) continue;
          for (let i = 0; i < data.length; i++) data[i]! += a.scale * delta[i]!;
        }
        checkMerged(name, data, active, componentName);
        overrides.set(name, { dims: base.dims, data });
      }
      changes.push({ state, key, overrides });
    }
    for (const { state, key, overrides } of changes) {
      await state.component.setInitializerOverrides(overrides.size === 0 ? undefined : overrides);
      state.applied = key;
      state.current = overrides;
    }
  }

  async #readBase(state: ComponentState, names: ReadonlySet<string>): Promise<void> {
    const missing = new Set([...names].filter((n) => !state.base.has(n)));
    if (missing.size === 0) return;
    const { source, modelPath } = state.component.request;
    for (const w of await readOnnxWeights(source, modelPath, (n) => missing.has(n))) {
      state.base.set(w.name, { dims: w.dims, data: w.data });
    }
    for (const name of missing) {
      if (!state.base.has(name)) {
        throw new ModelInvalidError(
          `${modelPath} in ${source.location} has no float32/float16 initializer ${JSON.stringify(name)}, which a LoRA adapter changes. Fix: use the model file the adapter was matched against (export it again if it was modified).`,
        );
      }
    }
  }
}

/** A merge that overflows float32 would give NaN images: refuse it, naming the scales. */
function checkMerged(
  name: string,
  data: Float32Array,
  active: readonly { lora: { name: string }; scale: number }[],
  component: string,
): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      throw new NonFiniteOutputError(
        `Merging the LoRA adapters ${active.map((a) => `${a.lora.name} × ${a.scale}`).join(', ')} into ${component} weight ${name} gives ${data[i]} at index ${i}. Fix: use smaller scales (or check the adapter file: its weights may hold NaN or huge values).`,
      );
    }
  }
}
