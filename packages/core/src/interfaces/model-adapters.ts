/**
 * Weights a user adds to a loaded model at run time: LoRA adapters and textual-inversion embeddings
 * (diffusers' `load_lora_weights` / `set_adapters` / `unload_lora_weights` / `load_textual_inversion`).
 * Backends that load ONNX folders implement it (they patch the graphs' weights and re-create the sessions);
 * pipelines built from hand-made parts have none, and their adapter methods throw `NotImplementedError`.
 */

/** Where adapter weights come from: a file path (Node), a URL (browser, or Node with fetch), or the bytes. */
export type AdapterSource = string | Uint8Array;

/** Options of {@link ModelAdapters.loadLoraWeights}. */
export interface LoraLoadOptions {
  /** The weight of the adapter: W' = W + scale·ΔW. Default 1. */
  scale?: number;
  /**
   * The adapter's name, for {@link ModelAdapters.setAdapters}, for removal, and for the A1111 prompt tag
   * `<lora:name:weight>`. Default: the file name without its extension (`default_0`, `default_1`, … for bytes).
   */
  adapterName?: string;
}

/** A loaded LoRA adapter. */
export interface LoraAdapterInfo {
  /** Its name. */
  readonly name: string;
  /** Its current scale. */
  readonly scale: number;
  /** The file format it was read as. */
  readonly format: 'kohya' | 'diffusers';
  /** How many weights it changes, per component (`unet`, `text_encoder`, `text_encoder_2`). */
  readonly targets: Readonly<Record<string, number>>;
}

/** Options of {@link ModelAdapters.loadTextualInversion}. */
export interface TextualInversionLoadOptions {
  /**
   * The token to use in prompts, e.g. `<pink>`. Default: the token stored in the file (diffusers'
   * `learned_embeds` key, A1111's `name`), else the file name without its extension.
   */
  token?: string;
}

/** A loaded textual-inversion embedding. */
export interface TextualInversionInfo {
  /** The token to write in prompts. */
  readonly token: string;
  /** The tokens it expands to (`token`, `token_1`, … for a multi-vector embedding, as diffusers names them). */
  readonly tokens: readonly string[];
  /** The file format it was read as. */
  readonly format: 'a1111' | 'diffusers';
}

/**
 * LoRA adapters and textual-inversion embeddings on a loaded model. Every method that changes weights
 * re-creates the affected sessions before it resolves; a `generate()` already running keeps the weights it
 * started with.
 */
export interface ModelAdapters {
  /** Loads a LoRA adapter (diffusers/PEFT `lora_A`/`lora_B` or kohya/A1111 `lora_down`/`lora_up`/`alpha` safetensors). */
  loadLoraWeights(source: AdapterSource, options?: LoraLoadOptions): Promise<LoraAdapterInfo>;
  /** Sets which adapters are active and their scales (diffusers' `set_adapters`); the others get scale 0. */
  setAdapters(names: readonly string[], scales?: readonly number[]): Promise<void>;
  /** Removes every LoRA adapter: the model's own weights again. */
  unloadLoraWeights(): Promise<void>;
  /** The loaded adapters. */
  readonly loras: readonly LoraAdapterInfo[];
  /**
   * Runs `body` with these per-call scales (from `<lora:name:weight>` prompt tags; adapters not named keep
   * their scale), merging them first if they differ from the current ones, and keeps them until `body`
   * settles (a call that needs other scales waits).
   */
  withScales<T>(scales: ReadonlyMap<string, number>, body: () => Promise<T>): Promise<T>;
  /** Loads a textual-inversion embedding (A1111 `emb_params`/`string_to_param`, diffusers `learned_embeds`). */
  loadTextualInversion(
    source: AdapterSource,
    options?: TextualInversionLoadOptions,
  ): Promise<TextualInversionInfo>;
  /** The loaded embeddings. */
  readonly embeddings: readonly TextualInversionInfo[];
}
