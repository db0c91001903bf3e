import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { InvalidArgumentError, LimitExceededError } from '@latentkit/core';

/** The largest prompt file (or stdin) the CLI reads: 1 MiB. Prompts past a few thousand tokens make no sense. */
export const MAX_PROMPT_FILE_BYTES = 1024 * 1024;

/** Where a prompt can come from. */
export interface PromptSources {
  /** The positional argument: the prompt itself, `-` for stdin, or undefined. */
  argument?: string | undefined;
  /** `--prompt-file` / `--negative-file`. */
  file?: string | undefined;
  /** The flag's name for messages (`--prompt-file`). */
  fileFlag: string;
  /** What the text is, for messages (`prompt`). */
  what: string;
  /** Read when the argument is `-`. */
  stdin?: (NodeJS.ReadableStream & { isTTY?: boolean }) | undefined;
}

function decodeUtf8(bytes: Uint8Array, source: string, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InvalidArgumentError({
      name: source,
      value: `${bytes.length} bytes`,
      expected: `the ${what} as UTF-8 text`,
      fix: 'save the file as UTF-8 (e.g. `iconv -t utf-8`)',
    });
  }
}

/** File or stdin text: UTF-8, one trailing newline dropped (as `$(cat file)` does), not empty. */
function promptText(bytes: Uint8Array, source: string, what: string): string {
  if (bytes.length > MAX_PROMPT_FILE_BYTES) {
    throw new LimitExceededError({
      name: source,
      value: `${bytes.length} bytes`,
      expected: `a ${what} of at most ${MAX_PROMPT_FILE_BYTES} bytes`,
      fix: `shorten the ${what}`,
    });
  }
  const text = decodeUtf8(bytes, source, what).replace(/\r?\n$/, '');
  if (text.trim() === '') {
    throw new InvalidArgumentError({
      name: source,
      value: text,
      expected: `the ${what} text (it is empty)`,
      fix: `write the ${what} into it, or pass "" as the prompt for an unconditional image`,
    });
  }
  return text;
}

async function readStdin(stdin: NodeJS.ReadableStream & { isTTY?: boolean }, what: string): Promise<string> {
  if (stdin.isTTY) {
    throw new InvalidArgumentError({
      name: 'stdin',
      value: 'a terminal',
      expected: `the ${what} piped in (\`-\` reads the ${what} from stdin)`,
      fix: `pipe it in: \`echo "a red circle" | latentkit generate -\`, or pass --prompt-file FILE`,
    });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    chunks.push(buffer);
    if (size > MAX_PROMPT_FILE_BYTES) break;
  }
  return promptText(Buffer.concat(chunks), 'stdin', what);
}

async function readTextFile(path: string, flag: string, what: string): Promise<string> {
  const stats = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw new InvalidArgumentError({
      name: flag,
      value: path,
      expected: `a readable file holding the ${what} (${error.code ?? error.message})`,
      fix: 'check the path',
    });
  });
  if (!stats.isFile()) {
    throw new InvalidArgumentError({
      name: flag,
      value: path,
      expected: `a file holding the ${what} (${resolve(path)} is a folder or device)`,
      fix: 'pass the path of a text file',
    });
  }
  if (stats.size > MAX_PROMPT_FILE_BYTES) {
    throw new LimitExceededError({
      name: flag,
      value: `${path} (${stats.size} bytes)`,
      expected: `a ${what} file of at most ${MAX_PROMPT_FILE_BYTES} bytes`,
      fix: `shorten the ${what}`,
    });
  }
  return promptText(await readFile(path), `${flag} ${path}`, what);
}

/**
 * The prompt from exactly one place: the argument, `-` (stdin) or a file. A prompt too long for the
 * command line (see `MAX_COMMAND_LINE_BYTES`) must come from a file or stdin.
 *
 * @returns the text, or `undefined` when no source was given.
 * @throws InvalidArgumentError when two sources are given, the file is missing, not UTF-8 or empty, or
 * `-` is used while stdin is a terminal; LimitExceededError over {@link MAX_PROMPT_FILE_BYTES}.
 */
export async function readPromptInput(sources: PromptSources): Promise<string | undefined> {
  const { argument, file, fileFlag, what } = sources;
  if (argument !== undefined && file !== undefined) {
    throw new InvalidArgumentError({
      name: fileFlag,
      value: file,
      expected: `one source for the ${what}: an argument, "-" (stdin) or ${fileFlag}, not two`,
      fix: `drop the ${what} argument ${JSON.stringify(argument.length > 30 ? `${argument.slice(0, 30)}…` : argument)} or ${fileFlag}`,
    });
  }
  if (file !== undefined) return readTextFile(file, fileFlag, what);
  if (argument === '-') {
    if (!sources.stdin) throw new InvalidArgumentError(`stdin is not available to read the ${what} from.`);
    return readStdin(sources.stdin, what);
  }
  return argument;
}
