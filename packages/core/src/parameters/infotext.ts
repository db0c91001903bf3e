/**
 * Generation parameters in the "infotext" format that AUTOMATIC1111's web UI writes into a PNG's
 * `parameters` text chunk, so that tools which read A1111 images (its own PNG Info tab, image
 * browsers, civitai) show ours too:
 *
 * ```text
 * a red circle
 * Negative prompt: blurry
 * Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 42, Size: 64x64, Model: shapes
 * ```
 *
 * The prompt comes first, the negative prompt line only when there is one, then `key: value` pairs
 * joined by `, ` in A1111's order. A value holding `,`, `:` or a newline is written as a JSON string,
 * as A1111's `quote()` does; floats print like Python (`7.0`, not `7`).
 *
 * Pure string work with no dependencies, shared by `@latentkit/backend-node` (`writePng`) and
 * `@latentkit/backend-web` (`toPngBlob`); `generationParametersFrom` makes the parameters of one image
 * from a `generate()` result.
 */
import { InvalidArgumentError } from '../errors.js';

/** What one image was made with. */
export interface GenerationParameters {
  /** The prompt. */
  prompt: string;
  /** The negative prompt; omitted from the text when empty. */
  negativePrompt?: string;
  /** Number of inference steps. */
  steps: number;
  /** The sampler, by its A1111 name (e.g. `DPM++ 2M Karras`) or a diffusers class name. */
  sampler: string;
  /** The classifier-free guidance scale. */
  cfgScale: number;
  /** The seed of this image. */
  seed: number | bigint;
  /** Image width in pixels. */
  width: number;
  /** Image height in pixels. */
  height: number;
  /** The model's name. */
  model?: string;
  /** img2img / inpaint strength. */
  denoisingStrength?: number;
  /** More `key: value` pairs, written after the standard ones in insertion order. */
  extra?: Readonly<Record<string, string | number | boolean>>;
}

/** Formats a number as Python's `str(float)` would for the floats A1111 writes (7.0, 7.5, 0.75). */
function pythonFloat(value: number): string {
  return Number.isInteger(value) && Math.abs(value) < 1e16 ? value.toFixed(1) : String(value);
}

/** A1111's `quote()`: JSON-quote a value that holds `,`, `:` or a newline, else leave it as is. */
export function quoteInfotextValue(value: string): string {
  return /[,:\n]/.test(value) ? JSON.stringify(value) : value;
}

function bad(name: string, value: unknown, expected: string): InvalidArgumentError {
  return new InvalidArgumentError({
    name,
    value,
    expected,
    fix: 'pass the GenerationParameters of the image, or generationParametersFrom(result.parameters)',
  });
}

/** Checks the fields the settings line needs, so that no `Steps: undefined` or `Seed: NaN` is written. */
function checkGenerationParameters(params: GenerationParameters): void {
  if (typeof params !== 'object' || params === null) throw bad('parameters', params, 'an object');
  if (typeof params.prompt !== 'string') throw bad('parameters.prompt', params.prompt, 'a string');
  if (params.negativePrompt !== undefined && typeof params.negativePrompt !== 'string') {
    throw bad('parameters.negativePrompt', params.negativePrompt, 'a string or undefined');
  }
  if (!Number.isInteger(params.steps) || params.steps < 1) {
    throw bad('parameters.steps', params.steps, 'a positive integer');
  }
  if (typeof params.sampler !== 'string' || params.sampler.trim() === '') {
    throw bad('parameters.sampler', params.sampler, 'a non-empty string (e.g. "DPM++ 2M Karras")');
  }
  if (!Number.isFinite(params.cfgScale)) throw bad('parameters.cfgScale', params.cfgScale, 'a finite number');
  if (typeof params.seed !== 'bigint' && !Number.isInteger(params.seed)) {
    throw bad('parameters.seed', params.seed, 'an integer or a bigint (-1 for "random")');
  }
  for (const key of ['width', 'height'] as const) {
    if (!Number.isInteger(params[key]) || params[key] < 1) {
      throw bad(`parameters.${key}`, params[key], 'a positive integer (pixels)');
    }
  }
  if (params.denoisingStrength !== undefined && !Number.isFinite(params.denoisingStrength)) {
    throw bad('parameters.denoisingStrength', params.denoisingStrength, 'a finite number or undefined');
  }
}

/**
 * Formats parameters as A1111's infotext (see the module comment for the layout).
 *
 * @throws InvalidArgumentError when a field the settings line needs is missing or not a usable value
 *   (e.g. `steps` not a positive integer, `seed` NaN).
 */
export function formatGenerationParameters(params: GenerationParameters): string {
  checkGenerationParameters(params);
  const pairs: [string, string | undefined][] = [
    ['Steps', String(params.steps)],
    ['Sampler', params.sampler],
    ['CFG scale', pythonFloat(params.cfgScale)],
    ['Seed', String(params.seed)],
    ['Size', `${params.width}x${params.height}`],
    ['Model', params.model],
    [
      'Denoising strength',
      params.denoisingStrength === undefined ? undefined : pythonFloat(params.denoisingStrength),
    ],
  ];
  for (const [key, value] of Object.entries(params.extra ?? {})) {
    pairs.push([
      key,
      typeof value === 'number' && !Number.isInteger(value) ? pythonFloat(value) : String(value),
    ]);
  }
  const settings = pairs
    .filter((pair): pair is [string, string] => pair[1] !== undefined)
    .map(([key, value]) => (key === value ? key : `${key}: ${quoteInfotextValue(value)}`))
    .join(', ');
  const negative = params.negativePrompt ? `\nNegative prompt: ${params.negativePrompt}` : '';
  return `${params.prompt}${negative}\n${settings}`.trim();
}

/** Infotext read back: the prompts and every `key: value` pair as text. */
export interface ParsedGenerationParameters {
  /** The prompt (may span several lines). */
  prompt: string;
  /** The negative prompt, `''` when there is none. */
  negativePrompt: string;
  /** The settings line's pairs, values unquoted (e.g. `{ Steps: '20', 'CFG scale': '7.5' }`). */
  settings: Record<string, string>;
}

// A1111's settings-line pattern: key, then a JSON string or a value up to the next comma.
const PAIR = /\s*([\w ]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/g;

/**
 * Parses A1111 infotext (the inverse of {@link formatGenerationParameters}): the last line is the
 * settings line when it has at least three `key: value` pairs, as A1111's own parser decides.
 */
export function parseGenerationParameters(text: string): ParsedGenerationParameters {
  const lines = text.trim().split('\n');
  let settingsLine = '';
  const last = lines.at(-1) ?? '';
  if ([...last.matchAll(PAIR)].length >= 3) {
    settingsLine = last;
    lines.pop();
  }
  const promptLines: string[] = [];
  const negativeLines: string[] = [];
  let inNegative = false;
  for (const line of lines) {
    if (!inNegative && line.startsWith('Negative prompt:')) {
      inNegative = true;
      negativeLines.push(line.slice('Negative prompt:'.length).trimStart());
    } else (inNegative ? negativeLines : promptLines).push(line);
  }
  const settings: Record<string, string> = {};
  for (const match of settingsLine.matchAll(PAIR)) {
    const key = match[1]!.trim();
    const raw = match[2]!.trim();
    settings[key] = raw.startsWith('"') && raw.endsWith('"') ? (JSON.parse(raw) as string) : raw;
  }
  return { prompt: promptLines.join('\n'), negativePrompt: negativeLines.join('\n'), settings };
}
