import { type PatchedModel, patchInitializers } from './patch-initializers.js';
import type { SessionRequest } from './session-factory.js';

/**
 * What a backend hands onnxruntime for a {@link SessionRequest} it loads from bytes: the model with the
 * request's `overrides` applied (see {@link patchInitializers}) and every external data file it
 * references, read through the request's source. Without overrides the bytes are returned as read.
 * Both session factories call this, so the patching lives in one place.
 *
 * Memory: with overrides, the model (and each external file an override lies in) is held twice while
 * the session is created — the file as read and the patched copy.
 *
 * @param request - The component, model file and folder, and the overrides.
 */
export async function readPatchedModel(request: SessionRequest): Promise<PatchedModel> {
  const { modelPath, source } = request;
  const bytes = await source.readBytes(modelPath);
  return patchInitializers(
    bytes,
    modelPath,
    (file) => source.readBytes(file.path),
    request.overrides ?? new Map(),
  );
}
