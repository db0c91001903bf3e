import { InvalidArgumentError, LimitExceededError, ShapeMismatchError } from '../errors.js';
import type { GroundingSpec } from '../interfaces/denoiser.js';
import { checkFinite } from '../pipeline/validate-options.js';
import { Tensor } from '../tensor.js';
import type { CheckedLayout, LayoutInput } from './layout-input.js';
import type { LayoutBox } from './layout-object.js';

/** The names a layout's values go by in error messages (the pipeline's option names, or the encoder's). */
export interface LayoutNames {
  /** The list of objects, e.g. `layout`. */
  objects: string;
  /** The phrases, e.g. `gligenPhrases`. */
  phrases: string;
  /** The boxes, e.g. `gligenBoxes`. */
  boxes: string;
  /** The phrase embeddings, e.g. `gligenPhraseEmbeds`. */
  phraseEmbeds: string;
}

/** The names {@link LayoutEncoder.encode}'s errors use. */
export const LAYOUT_INPUT_NAMES: LayoutNames = Object.freeze({
  objects: 'layout',
  phrases: 'phrases',
  boxes: 'boxes',
  phraseEmbeds: 'phraseEmbeds',
});

const BOX_FIX =
  'give [x0, y0, x1, y1] as fractions of the width and height, origin top left, e.g. [0.05, 0.05, 0.45, 0.45]';

/**
 * Checks one box: an array of 4 finite numbers with 0 ≤ x0 < x1 ≤ 1 and 0 ≤ y0 < y1 ≤ 1 (diffusers does not
 * check; a box outside the image or of zero size gives the model nothing to ground). Returns a copy.
 */
export function checkBox(name: string, box: unknown): LayoutBox {
  if (
    !Array.isArray(box) ||
    box.length !== 4 ||
    !box.every((v) => typeof v === 'number' && Number.isFinite(v))
  ) {
    throw new InvalidArgumentError({
      name,
      value: box,
      expected: 'a box [x0, y0, x1, y1] of 4 finite numbers',
      fix: BOX_FIX,
    });
  }
  const [x0, y0, x1, y1] = box as LayoutBox;
  if (!(x0 >= 0 && x0 < x1 && x1 <= 1 && y0 >= 0 && y0 < y1 && y1 <= 1)) {
    throw new InvalidArgumentError({
      name,
      value: box,
      expected: 'a box inside the image with positive size: 0 ≤ x0 < x1 ≤ 1 and 0 ≤ y0 < y1 ≤ 1',
      fix: `${BOX_FIX}; pixels are divided by the width and height first`,
    });
  }
  return [x0, y0, x1, y1];
}

/** Checks one phrase: a string with at least one non-space character. */
export function checkPhrase(name: string, phrase: unknown): string {
  if (typeof phrase !== 'string' || phrase.trim() === '') {
    throw new InvalidArgumentError({
      name,
      value: phrase,
      expected: 'a non-empty string saying what belongs in the box',
      fix: 'give each box a phrase such as "a red circle"',
    });
  }
  return phrase;
}

/** The object count must be 1 … `maxObjects`. */
function checkCount(name: string, count: number, maxObjects: number): void {
  if (count === 0) {
    throw new InvalidArgumentError({
      name,
      value: [],
      expected: 'at least one object (a phrase and its box)',
      fix: 'give one or more objects; for an image without a layout use StableDiffusionPipeline',
    });
  }
  if (count > maxObjects) {
    throw new LimitExceededError({
      name: `${name} count`,
      value: count,
      expected: `at most ${maxObjects} objects (the grounded UNet's object slots; diffusers silently keeps the first ${maxObjects})`,
      fix: `drop objects, or merge several into one phrase and box, to at most ${maxObjects}`,
    });
  }
}

function checkArray(name: string, value: unknown, expected: string, fix: string): readonly unknown[] {
  if (!Array.isArray(value)) throw new InvalidArgumentError({ name, value, expected, fix });
  return value;
}

function checkBoxes(name: string, value: unknown, maxObjects: number): LayoutBox[] {
  const list = checkArray(name, value, 'an array of boxes [x0, y0, x1, y1]', BOX_FIX);
  checkCount(name, list.length, maxObjects);
  return list.map((b, i) => checkBox(`${name}[${i}]`, b));
}

function checkSameCount(names: LayoutNames, key: 'phrases' | 'phraseEmbeds', count: number, boxes: number) {
  if (count !== boxes) {
    throw new ShapeMismatchError({
      name: `${names[key]} count`,
      value: count,
      expected: `${boxes}, one ${key === 'phrases' ? 'phrase' : 'embedding row'} per box of ${names.boxes}`,
      fix: `give ${names[key]} and ${names.boxes} the same length: item i of one belongs to item i of the other`,
    });
  }
}

/**
 * Checks a layout in any of its forms against the denoiser's {@link GroundingSpec}, before anything is
 * encoded: 1 … `maxObjects` objects, each box valid ({@link checkBox}), each phrase non-empty, as many
 * phrases (or embedding rows) as boxes, embeddings `[n, embeddingDim]` and finite.
 *
 * @throws {@link InvalidArgumentError}, {@link ShapeMismatchError} or {@link LimitExceededError} naming the
 *   value, what was expected and the fix.
 */
export function checkLayout(
  layout: LayoutInput,
  spec: GroundingSpec,
  names: LayoutNames = LAYOUT_INPUT_NAMES,
): CheckedLayout {
  const max = spec.maxObjects;
  if (Array.isArray(layout)) {
    checkCount(names.objects, layout.length, max);
    const phrases: string[] = [];
    const boxes: LayoutBox[] = [];
    layout.forEach((o: unknown, i) => {
      if (typeof o !== 'object' || o === null) {
        throw new InvalidArgumentError({
          name: `${names.objects}[${i}]`,
          value: o,
          expected: 'an object { phrase, box }',
          fix: 'write each object as { phrase: "a red circle", box: [0.05, 0.05, 0.45, 0.45] }',
        });
      }
      const { phrase, box, ...rest } = o as Record<string, unknown>;
      const extra = Object.keys(rest)[0];
      if (extra !== undefined) {
        throw new InvalidArgumentError({
          name: `${names.objects}[${i}] key ${JSON.stringify(extra)}`,
          value: rest[extra],
          expected: 'only the keys phrase and box',
          fix: 'remove the key, or check its spelling',
        });
      }
      phrases.push(checkPhrase(`${names.objects}[${i}].phrase`, phrase));
      boxes.push(checkBox(`${names.objects}[${i}].box`, box));
    });
    return { phrases, boxes };
  }
  if (typeof layout !== 'object' || layout === null) {
    throw new InvalidArgumentError({
      name: names.objects,
      value: layout,
      expected: 'a list of { phrase, box }, or { phrases, boxes }, or { phraseEmbeds, boxes }',
      fix: 'pass e.g. [{ phrase: "a red circle", box: [0.05, 0.05, 0.45, 0.45] }]',
    });
  }
  const form = layout as Partial<Record<'phrases' | 'boxes' | 'phraseEmbeds', unknown>>;
  if ((form.phrases === undefined) === (form.phraseEmbeds === undefined)) {
    throw new InvalidArgumentError({
      name: `${names.phrases} / ${names.phraseEmbeds}`,
      value: form.phrases === undefined ? undefined : 'both',
      expected: `exactly one of ${names.phrases} (texts to encode) and ${names.phraseEmbeds} (their pooled embeddings)`,
      fix: `give ${names.phrases} with ${names.boxes}, or ${names.phraseEmbeds} with ${names.boxes}`,
    });
  }
  const boxes = checkBoxes(names.boxes, form.boxes, max);
  if (form.phrases !== undefined) {
    const list = checkArray(
      names.phrases,
      form.phrases,
      'an array of phrases',
      'pass e.g. ["a red circle", "a blue square"]',
    );
    checkSameCount(names, 'phrases', list.length, boxes.length);
    return { phrases: list.map((p, i) => checkPhrase(`${names.phrases}[${i}]`, p)), boxes };
  }
  const embeds = form.phraseEmbeds;
  const D = spec.embeddingDim;
  if (!(embeds instanceof Tensor) || embeds.shape.length !== 2) {
    throw new ShapeMismatchError({
      name: names.phraseEmbeds,
      value: embeds instanceof Tensor ? embeds.shape : embeds,
      expected: `a Tensor [n, ${D}]: one pooled text embedding per box`,
      fix: "pass the text encoder's pooled output of the phrases (promptEncoder.encodePooled(phrases))",
    });
  }
  checkSameCount(names, 'phraseEmbeds', embeds.shape[0]!, boxes.length);
  if (embeds.shape[1] !== D) {
    throw new ShapeMismatchError({
      name: `${names.phraseEmbeds} width`,
      value: embeds.shape[1],
      expected: `${D}, the denoiser's grounding embedding width (its cross_attention_dim)`,
      fix: 'encode the phrases with the text encoder of the same model',
    });
  }
  checkFinite(names.phraseEmbeds, embeds, 'compute the phrase embeddings again; they must be finite');
  return { phraseEmbeds: embeds, boxes };
}
