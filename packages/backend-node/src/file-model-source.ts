import { access, readFile, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { ModelInvalidError, ModelNotFoundError } from '@latentkit/core';
import type { ModelSource } from '@latentkit/onnx';

/**
 * A model folder on disk (the diffusers ONNX layout). Paths are relative to the folder with `/`
 * separators; a path that would leave the folder (`..`, absolute) is refused, so a crafted
 * `model_index.json` cannot make us read other files.
 */
export class FileModelSource implements ModelSource {
  /** The folder, absolute. */
  readonly location: string;

  /** @param directory the model folder (relative paths resolve against the working directory). */
  constructor(directory: string) {
    this.location = resolve(directory);
  }

  /**
   * The absolute path of a file in the folder (it need not exist). onnxruntime-node loads models by
   * path, which is what lets it find external weight files (`model.onnx_data`, `weights.pb`) beside them.
   */
  resolvePath(path: string): string {
    const full = resolve(this.location, ...path.split('/'));
    const rel = relative(this.location, full);
    if (
      path === '' ||
      isAbsolute(path) ||
      rel === '' ||
      rel.startsWith(`..${sep}`) ||
      rel === '..' ||
      isAbsolute(rel)
    ) {
      throw new ModelInvalidError(
        `Model file path ${JSON.stringify(path)} is not inside the model folder ${this.location}: expected a relative path like "unet/model.onnx".`,
      );
    }
    return full;
  }

  /** Whether the file exists (and is a file). */
  async exists(path: string): Promise<boolean> {
    try {
      return (await stat(this.resolvePath(path))).isFile();
    } catch (error) {
      if (error instanceof ModelInvalidError) throw error;
      return false;
    }
  }

  /** The file's UTF-8 text; a missing file is a {@link ModelNotFoundError} naming it and the folder. */
  async readText(path: string): Promise<string> {
    return new TextDecoder().decode(await this.readBytes(path));
  }

  /** The file's bytes; a missing file is a {@link ModelNotFoundError} naming it and the folder. */
  async readBytes(path: string): Promise<Uint8Array> {
    const full = this.resolvePath(path);
    try {
      const buffer = await readFile(full);
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (error) {
      throw await this.notFound(path, error);
    }
  }

  /** Throws {@link ModelNotFoundError} unless the file exists. */
  async require(path: string): Promise<string> {
    const full = this.resolvePath(path);
    if (!(await this.exists(path))) throw await this.notFound(path);
    return full;
  }

  private async notFound(path: string, cause?: unknown): Promise<ModelNotFoundError> {
    const folderExists = await access(this.location).then(
      () => true,
      () => false,
    );
    if (!folderExists) {
      return new ModelNotFoundError(
        `Model folder ${this.location} does not exist (looking for "${path}"). Fix: pass the folder of a diffusers ONNX export (it holds model_index.json).`,
        { cause },
      );
    }
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    const why = code && code !== 'ENOENT' ? ` (${code})` : '';
    return new ModelNotFoundError(
      `Model file "${path}" not found in ${this.location}${why}. Fix: check that the folder is a complete diffusers ONNX export.`,
      { cause },
    );
  }
}
