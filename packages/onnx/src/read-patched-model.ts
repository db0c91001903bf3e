import { readOnnxModelInfo } from './onnx-model-info.js';
import { patchInitializers } from './patch-initializers.js';
import type { SessionRequest } from './session-factory.js';

/** One external data file handed to onnxruntime: `path` as the model names it, and its bytes. */
export interface ModelExternalData {
  /** The location as written in the model (relative to the `.onnx` file), e.g. `model.onnx_data`. */
  readonly path: string;
  /** The file's bytes, as read (external files are never patched: overridden weights move into the model). */
  readonly data: Uint8Array;
}

/** A model ready for `InferenceSession.create(model, { externalData })`. */
export interface PatchedModel {
  /** The model bytes, with the request's overrides applied. */
  readonly model: Uint8Array;
  /** Every external data file the patched model still references, in the order first referenced. */
  readonly externalData: readonly ModelExternalData[];
}

/**
 * What a backend hands onnxruntime for a {@link SessionRequest} it loads from bytes: the model with the
 * request's `overrides` applied (see {@link patchInitializers}) and every external data file the result
 * references, read through the request's source (a file whose every weight is overridden is not read).
 * Without overrides the bytes are returned as read. The browser's session factory uses it for every
 * model; onnxruntime-node's for sources other than a folder on disk.
 *
 * Memory: with overrides, the `.onnx` file is held twice while the session is created (as read, and
 * patched with the overridden weights inline).
 *
 * @param request - The component, model file and folder, and the overrides.
 * @throws the errors of {@link patchInitializers}; `ModelNotFoundError` for a missing file.
 */
export async function readPatchedModel(request: SessionRequest): Promise<PatchedModel> {
  const { modelPath, source, overrides } = request;
  const bytes = await source.readBytes(modelPath);
  const model = overrides === undefined ? bytes : patchInitializers(bytes, modelPath, overrides);
  const info = readOnnxModelInfo(model, modelPath);
  const externalData = await Promise.all(
    info.externalData.map(async (file) => ({ path: file.location, data: await source.readBytes(file.path) })),
  );
  return { model, externalData };
}
