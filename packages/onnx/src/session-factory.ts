import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import type { InitializerOverrides } from './initializer-overrides.js';
import type { ModelSource } from './model-source.js';

/** What the ONNX layer asks a backend for: one runtime session for one model file. */
export interface SessionRequest {
  /** The component's folder name, e.g. `unet` or `text_encoder` (for per-component options and messages). */
  readonly component: string;
  /** The model file, relative to the model folder, e.g. `unet/model.onnx`. */
  readonly modelPath: string;
  /** The model folder. */
  readonly source: ModelSource;
  /** Initializers to replace before the session is created (LoRA, textual inversion); none when absent. */
  readonly overrides?: InitializerOverrides;
}

/**
 * The data types the ONNX components feed to sessions. `transferable: true` says the data was made for
 * this feed alone and nobody reads it afterwards, so a backend that runs sessions on another thread may
 * move its buffer there (detaching it) instead of copying it; without it the data is the caller's and is
 * copied.
 */
export type OrtFeedData = (
  | { type: 'float32'; data: Float32Array }
  | { type: 'float16'; data: Uint16Array }
  | { type: 'int32'; data: Int32Array }
  | { type: 'int64'; data: BigInt64Array }
) & { transferable?: boolean };

/**
 * The runtime a backend brings: onnxruntime-node (`@latentkit/backend-node`) or onnxruntime-web
 * (`@latentkit/backend-web`), with their execution providers, file loading and external weights. Both
 * share the `onnxruntime-common` session API that the ONNX components call. Tensors are made by the
 * backend too, because each runtime checks that feeds are its own `Tensor` class.
 */
export interface SessionFactory {
  /** Creates a session for one model file. */
  create(request: SessionRequest): Promise<InferenceSession>;
  /** Makes a runtime tensor. */
  createTensor(feed: OrtFeedData, dims: readonly number[]): OrtTensor;
  /**
   * Releases one session this factory made and forgets it (a session swapped out by a weight change), so
   * a factory that tracks its sessions does not keep released ones. Optional: without it, the session's
   * own `release()` is called.
   */
  release?(session: InferenceSession): Promise<void>;
}
