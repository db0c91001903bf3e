/**
 * Where a model folder's files come from: a directory on disk (Node) or a base URL (browser). The ONNX
 * layer reads configs and tokenizer files through this interface, so it is written once for both
 * backends. Paths are relative to the model folder, with `/` separators (e.g. `unet/model.onnx`).
 */
export interface ModelSource {
  /** The folder or URL, for messages. */
  readonly location: string;
  /** Whether a file exists in the folder. */
  exists(path: string): Promise<boolean>;
  /** A file's text (UTF-8). Throws `ModelNotFoundError` naming the file when it is missing. */
  readText(path: string): Promise<string>;
  /** A file's bytes. Throws `ModelNotFoundError` naming the file when it is missing. */
  readBytes(path: string): Promise<Uint8Array>;
  /**
   * `length` bytes of a file from `offset` (fewer at the end of the file), when the source can read part of
   * a file: weights in a large external data file (SD 1.5's 3.4 GB `weights.pb`) are read without reading
   * the whole file. Sources without it are read whole with {@link ModelSource.readBytes}.
   */
  readRange?(path: string, offset: number, length: number): Promise<Uint8Array>;
}
