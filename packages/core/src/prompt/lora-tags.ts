import { InvalidArgumentError, NotImplementedError } from '../errors.js';

/**
 * AUTOMATIC1111's LoRA prompt tags: `<lora:name>` and `<lora:name:weight>` in a prompt or negative prompt
 * choose the LoRA adapters of one call and their weights. They are taken out of the text before it is
 * encoded (the text encoder never sees them), as A1111's extra-network syntax `<type:args>` is.
 */

/** One `<lora:…>` tag found in a prompt. */
export interface LoraTag {
  /** The adapter's name (as loaded: `adapterName`, or the file name without its extension). */
  readonly name: string;
  /** Its weight for this call (1 when the tag gives none, as A1111's default multiplier). */
  readonly scale: number;
  /** The tag as written, for messages. */
  readonly text: string;
}

/** A prompt with its LoRA tags taken out. */
export interface PromptWithoutLoraTags {
  /** The prompt without the tags (the rest of the text unchanged). */
  readonly prompt: string;
  /** The tags, in order. */
  readonly tags: readonly LoraTag[];
}

// A1111's extra-network syntax: `<type:args>`; only `lora` is read here, other types stay text.
const TAG = /<lora:([^>]*)>/g;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function tagError(text: string, expected: string, fix: string): InvalidArgumentError {
  return new InvalidArgumentError({ name: 'LoRA prompt tag', value: text, expected, fix });
}

function parseTag(text: string, body: string): LoraTag {
  const args = body.split(':').map((a) => a.trim());
  const name = args[0]!;
  if (name === '') {
    throw tagError(
      text,
      "an adapter name after 'lora:'",
      'write <lora:NAME> or <lora:NAME:WEIGHT>, NAME as loaded (see pipe.loras)',
    );
  }
  if (args.length > 2 || args.slice(1).some((a) => a.includes('='))) {
    throw new NotImplementedError(
      `The LoRA prompt tag ${text} gives separate text-encoder and UNet weights (A1111's <lora:name:te:unet> or te=/unet= form); latentkit has one weight per adapter. Fix: write <lora:${name}:WEIGHT>.`,
    );
  }
  if (args.length === 1) return { name, scale: 1, text };
  const raw = args[1]!;
  const scale = Number(raw);
  if (!NUMBER.test(raw) || !Number.isFinite(scale)) {
    throw tagError(
      text,
      `a finite number as the weight after '${name}:' (got ${JSON.stringify(raw)})`,
      `write e.g. <lora:${name}:0.8>`,
    );
  }
  return { name, scale, text };
}

/**
 * Takes the `<lora:name>` / `<lora:name:weight>` tags out of one prompt (A1111's extra-network syntax:
 * the tag is removed, the text around it is left as written). Tags of other types (`<hypernet:…>`) and
 * textual-inversion tokens such as `<pink>` are not tags here and stay in the text.
 *
 * @example
 * extractLoraTags('a pink circle <lora:pink:0.8>')
 * // { prompt: 'a pink circle ', tags: [{ name: 'pink', scale: 0.8, text: '<lora:pink:0.8>' }] }
 *
 * @throws {@link InvalidArgumentError} for a tag without a name or with a weight that is not a finite
 *   number; {@link NotImplementedError} for A1111's separate text-encoder/UNet weights (`<lora:n:0.5:1>`).
 */
export function extractLoraTags(prompt: string): PromptWithoutLoraTags {
  const tags: LoraTag[] = [];
  const stripped = prompt.replace(TAG, (text, body: string) => {
    tags.push(parseTag(text, body));
    return '';
  });
  return { prompt: tags.length === 0 ? prompt : stripped, tags };
}

/**
 * The adapter scales one call asks for: the tags of all its prompts and negative prompts together (one
 * set of weights per call; A1111 also applies the tags of the negative prompt). The same adapter named
 * twice must have the same weight.
 *
 * @throws {@link InvalidArgumentError} for two tags naming one adapter with different weights, and the
 *   errors of {@link extractLoraTags}.
 */
export function loraTagScales(prompts: readonly string[]): Map<string, number> {
  const scales = new Map<string, number>();
  const first = new Map<string, string>();
  for (const prompt of prompts) {
    for (const tag of extractLoraTags(prompt).tags) {
      const seen = scales.get(tag.name);
      if (seen !== undefined && seen !== tag.scale) {
        throw tagError(
          tag.text,
          `one weight per adapter in a call, but ${first.get(tag.name)} gives ${tag.name} the weight ${seen}`,
          `give ${tag.name} one weight in every prompt and negative prompt of the call`,
        );
      }
      scales.set(tag.name, tag.scale);
      if (!first.has(tag.name)) first.set(tag.name, tag.text);
    }
  }
  return scales;
}

/**
 * Checks that every tag names a loaded adapter.
 *
 * @param scales - From {@link loraTagScales}.
 * @param loaded - The names of the loaded adapters.
 * @throws {@link InvalidArgumentError} naming the unknown adapter and listing the loaded ones.
 */
export function checkLoraTagNames(scales: ReadonlyMap<string, number>, loaded: readonly string[]): void {
  for (const name of scales.keys()) {
    if (loaded.includes(name)) continue;
    throw new InvalidArgumentError({
      name: 'LoRA prompt tag',
      value: `<lora:${name}>`,
      expected: `the name of a loaded LoRA adapter (${loaded.length === 0 ? 'none is loaded' : `loaded: ${loaded.join(', ')}`})`,
      fix: `load it first with pipe.loadLoraWeights(file, { adapterName: '${name}' }) (CLI: --lora ${name}.safetensors), or correct the name`,
    });
  }
}
