import { InvalidArgumentError, NotImplementedError } from '@latentkit/core';

/**
 * How a backend reads an adapter file named by a string (a LoRA or an embedding): Node reads a path with
 * `fs` and an `http(s)` URL with `fetch`; the browser fetches it with the backend's URL rules. The ONNX
 * layer never reads files itself, so it is written once for both.
 */
export type AdapterReader = (source: string) => Promise<Uint8Array>;

/** A reader for a backend that has none: strings are refused, bytes must be passed. */
export const noAdapterReader: AdapterReader = (source) =>
  Promise.reject(
    new NotImplementedError(
      `This backend cannot read the adapter file ${JSON.stringify(source)} by name. Fix: read the file yourself and pass its bytes (a Uint8Array) instead of the name.`,
    ),
  );

/**
 * The default name of an adapter read from `source`: the file name without its extension
 * (`loras/pink.safetensors` → `pink`, `https://host/a/pink.safetensors?download=1` → `pink`), as the A1111
 * prompt tag `<lora:pink>` names it.
 */
export function adapterStem(source: string): string {
  let path = source;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
    try {
      path = decodeURIComponent(new URL(source).pathname);
    } catch {
      path = source;
    }
  }
  const file = path.split(/[\\/]/).pop() ?? '';
  const dot = file.lastIndexOf('.');
  return dot > 0 ? file.slice(0, dot) : file;
}

/**
 * Checks an adapter source: a non-empty string (path or URL) or the bytes.
 *
 * @param option - The argument's name, for the message.
 * @throws {@link @latentkit/core!InvalidArgumentError} for anything else.
 */
export function checkAdapterSource(source: unknown, option = 'source'): void {
  if (source instanceof Uint8Array) return;
  if (typeof source !== 'string' || source.trim() === '') {
    throw new InvalidArgumentError({
      name: option,
      value: source,
      expected: 'a file path, a URL or the file bytes (Uint8Array)',
      fix: "pass e.g. './loras/pink.safetensors'",
    });
  }
}

/**
 * Reads an adapter source: bytes as given, a string through the backend's reader.
 *
 * @returns The bytes and a name for messages.
 * @throws {@link @latentkit/core!InvalidArgumentError} for a source that is neither a non-empty string nor a Uint8Array.
 */
export async function readAdapterSource(
  source: unknown,
  read: AdapterReader,
  option = 'source',
): Promise<{ bytes: Uint8Array; what: string }> {
  if (source instanceof Uint8Array)
    return { bytes: source, what: `the adapter bytes given (${source.byteLength} bytes)` };
  checkAdapterSource(source, option);
  return { bytes: await read(source as string), what: source as string };
}
