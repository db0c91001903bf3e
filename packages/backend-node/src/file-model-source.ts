import { access, type FileHandle, open, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ModelInvalidError, ModelNotFoundError } from '@latentkit/core';
import type { ModelSource } from '@latentkit/onnx';

/** Options of {@link FileModelSource}. */
export interface FileModelSourceOptions {
  /**
   * Follow symbolic links that lead out of the model folder (default `false`: such a file is refused with
   * a `ModelInvalidError`). Links that stay inside the folder always work, and so does a model folder that
   * is itself a link. Set it for folders whose files are links by design, such as a Hugging Face cache
   * snapshot (`snapshots/<revision>/unet/model.onnx` → `../../../blobs/<hash>`), when you trust them.
   */
  allowSymlinksOutside?: boolean;
}

// How many entries of a component folder the symlink check looks at (exports that store one external file
// per tensor have about a thousand).
const MAX_CHECKED_ENTRIES = 100_000;

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * A model folder on disk (the diffusers ONNX layout). Paths are relative to the folder with `/`
 * separators; a path that would leave the folder (`..`, absolute) is refused, so a crafted
 * `model_index.json` cannot make us read other files. Symbolic links are resolved first: a file, or a
 * component folder, that links out of the model folder is refused too unless
 * {@link FileModelSourceOptions.allowSymlinksOutside} is set.
 */
export class FileModelSource implements ModelSource {
  /** The folder, absolute. */
  readonly location: string;
  /** Whether links out of the folder are followed (see {@link FileModelSourceOptions}). */
  readonly allowSymlinksOutside: boolean;

  /**
   * @param directory the model folder (relative paths resolve against the working directory).
   * @param options whether symbolic links out of the folder are followed.
   */
  constructor(directory: string, options: FileModelSourceOptions = {}) {
    this.location = resolve(directory);
    this.allowSymlinksOutside = options.allowSymlinksOutside ?? false;
  }

  /**
   * `length` bytes of a file from `offset` (fewer at its end), read without reading the rest of it (LoRA
   * reads a few weights out of a multi-gigabyte external data file); a missing file is a
   * {@link ModelNotFoundError}.
   */
  async readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
    const real = await this.realPath(path);
    if (real === undefined) throw await this.notFound(path);
    let file: FileHandle | undefined;
    try {
      file = await open(real, 'r');
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await file.read(out, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return out.subarray(0, done);
    } catch (error) {
      throw await this.notFound(path, error);
    } finally {
      await file?.close();
    }
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

  /**
   * Whether the file exists (and is a file).
   *
   * @throws {@link @latentkit/core!ModelInvalidError} for a path outside the folder, or a link out of it (see
   *   {@link FileModelSourceOptions.allowSymlinksOutside}).
   */
  async exists(path: string): Promise<boolean> {
    const real = await this.realPath(path);
    if (real === undefined) return false;
    try {
      return (await stat(real)).isFile();
    } catch {
      return false;
    }
  }

  /** The file's UTF-8 text; a missing file is a {@link ModelNotFoundError} naming it and the folder. */
  async readText(path: string): Promise<string> {
    return new TextDecoder().decode(await this.readBytes(path));
  }

  /** The file's bytes; a missing file is a {@link ModelNotFoundError} naming it and the folder. */
  async readBytes(path: string): Promise<Uint8Array> {
    const real = await this.realPath(path);
    if (real === undefined) throw await this.notFound(path);
    try {
      // the resolved path: a link swapped after the check cannot redirect the read
      const buffer = await readFile(real);
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (error) {
      throw await this.notFound(path, error);
    }
  }

  /**
   * The absolute path of a model file that onnxruntime will open by path; throws
   * {@link ModelNotFoundError} unless the file exists. onnxruntime then opens the model's external weight
   * files itself, so unless links out are allowed, the whole folder of the file (its component folder) is
   * checked for links that lead out of the model folder.
   */
  async require(path: string): Promise<string> {
    const full = this.resolvePath(path);
    if (!(await this.exists(path))) throw await this.notFound(path);
    if (!this.allowSymlinksOutside) await this.checkLinksUnder(dirname(full));
    return full;
  }

  /**
   * The real path of a file in the folder (links resolved), checked to be inside the real model folder;
   * undefined when the file (or the folder) does not exist.
   */
  private async realPath(path: string): Promise<string | undefined> {
    const full = this.resolvePath(path);
    if (this.allowSymlinksOutside) return full;
    const [real, root] = await Promise.all([
      realpath(full).catch(() => undefined),
      realpath(this.location).catch(() => undefined),
    ]);
    if (real === undefined || root === undefined) return undefined;
    if (!isInside(root, real)) throw this.linkOutside(path, real);
    return real;
  }

  /** Refuses a symbolic link anywhere under `folder` whose target lies outside the model folder. */
  private async checkLinksUnder(folder: string): Promise<void> {
    const root = await realpath(this.location);
    const pending = [folder];
    const visited = new Set<string>();
    let seen = 0;
    while (pending.length > 0) {
      const dir = pending.pop()!;
      const realDir = await realpath(dir).catch(() => dir);
      if (visited.has(realDir)) continue; // a link back up the tree
      visited.add(realDir);
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        if (++seen > MAX_CHECKED_ENTRIES) {
          throw new ModelInvalidError(
            `The folder of a model file, ${folder}, holds more than ${MAX_CHECKED_ENTRIES} entries, too many to check for symbolic links out of ${this.location}. Fix: keep only the model's files in its component folders, or load with allowSymlinksOutside: true.`,
          );
        }
        const full = join(dir, entry.name);
        if (entry.isDirectory()) pending.push(full);
        else if (entry.isSymbolicLink()) {
          const real = await realpath(full).catch(() => undefined);
          if (real === undefined) continue; // a dangling link: nothing to read
          if (!isInside(root, real)) {
            throw this.linkOutside(relative(this.location, full).split(sep).join('/'), real);
          }
          // a linked folder inside the model folder: look inside it too
          if ((await stat(real)).isDirectory()) pending.push(full);
        }
      }
    }
  }

  private linkOutside(path: string, real: string): ModelInvalidError {
    return new ModelInvalidError(
      `Model file "${path}" in ${this.location} is a symbolic link (or lies in a linked folder) that leads out of the model folder, to ${real}. Fix: copy the files into the model folder, or, if you trust where the link points, load with allowSymlinksOutside: true (a Hugging Face cache snapshot links every file to ../../blobs/ and needs it).`,
    );
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
