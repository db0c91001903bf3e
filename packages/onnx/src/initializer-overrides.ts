/**
 * New values for named weights (initializers) of one ONNX file, given to the backend's
 * {@link SessionFactory} with a {@link SessionRequest}: the backend creates the session from the model
 * with these initializers replaced (in memory: the file on disk is never rewritten). LoRA merges use it
 * (same dims), textual inversion too (the token embedding grows by the new rows).
 */

/** One initializer's new value, in the initializer's own layout (row-major `dims`). */
export interface InitializerOverride {
  /** Its dimensions; may differ from the file's (textual inversion adds rows to the token embedding). */
  readonly dims: readonly number[];
  /** The values as float32; written back in the initializer's own data type (float32 or float16). */
  readonly data: Float32Array;
}

/** Overrides by initializer name. */
export type InitializerOverrides = ReadonlyMap<string, InitializerOverride>;
