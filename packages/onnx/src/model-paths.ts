import { ModelInvalidError } from '@latentkit/core';

/**
 * Checks that a path taken from a model's files or options stays inside the model folder, and normalises
 * it to `/` separators without `.` segments. Absolute paths (`/x`, `C:\x`, `\\server\x`), URLs and `..`
 * segments are refused, so a crafted `model_index.json` or external-data reference cannot make latentkit
 * read files outside the folder.
 *
 * @param path - The path, relative to the model folder.
 * @param what - What the path is for, for the message (e.g. `unet model file`).
 * @returns The normalised path, e.g. `unet/model.onnx`.
 * @throws {@link @latentkit/core!ModelInvalidError} when the path would leave the folder.
 */
export function checkModelPath(path: string, what: string): string {
  const refuse = (why: string): never => {
    throw new ModelInvalidError(
      `The ${what} path ${JSON.stringify(path)} ${why}: expected a path inside the model folder, like "unet/model.onnx".`,
    );
  };
  if (typeof path !== 'string' || path.length === 0) refuse('is empty');
  if (path.includes('\0')) refuse('contains a NUL character');
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(path)) refuse('is a URL or a drive path');
  if (path.startsWith('/') || path.startsWith('\\')) refuse('is absolute');
  const segments = path.split(/[\\/]+/).filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) refuse('leaves the model folder with ".."');
  if (segments.length === 0) refuse('names the folder itself');
  return segments.join('/');
}

/** The folder part of a model path with a trailing `/` (`unet/model.onnx` → `unet/`), or `` at the top. */
export function folderOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i + 1);
}
