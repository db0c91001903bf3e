import { formatValue, InvalidArgumentError, ModelInvalidError } from '@latentkit/core';
import type { ShapeName, ShapesWorld, ShapeTriple } from './shapes-world.js';

/** A box `[x0, y0, x1, y1]` as fractions of the image's width and height, origin top left (as core's `LayoutBox`). */
export type EvalBox = readonly [number, number, number, number];

/** One object of an evaluation layout: the phrase the model gets, its box and (optionally) its truth. */
export interface EvalLayoutObject {
  /** What the box holds, e.g. `"a red circle"`: passed to the pipeline as a GLIGEN phrase. */
  readonly phrase: string;
  /** Where it goes. */
  readonly box: EvalBox;
  /** The colour name the box must show; read from the phrase when absent. */
  readonly color?: string;
  /** The shape the box must show; read from the phrase when absent. */
  readonly shape?: ShapeName;
}

/** One evaluation layout: the prompt for the whole image and its objects (1–30). */
export interface EvalLayout {
  /** The prompt for the whole image, e.g. `"on a white background"`. */
  readonly prompt: string;
  /** The background's colour name; read from the prompt (`… <colour> background`) when absent. */
  readonly background?: string;
  /** The objects, each in its box. */
  readonly objects: readonly EvalLayoutObject[];
}

/** The contents of a grounded model's `heldout-layouts.json`. */
export interface EvalLayoutSet {
  /** The side of the generated images in pixels, when recorded. */
  readonly resolution?: number;
  /** Colour name → `[r, g, b]`, when recorded. */
  readonly colors?: ShapesWorld['colors'];
  /** The (colour, shape, background) triples held out of training, when recorded (`heldout_triples`). */
  readonly heldoutTriples?: readonly ShapeTriple[];
  /** The layouts. */
  readonly layouts: readonly EvalLayout[];
}

/** What a layout asks for, resolved: the background and each object's colour and shape. */
export interface LayoutTruth {
  /** The background's colour name. */
  readonly background: string;
  /** Per object, in the layout's order. */
  readonly objects: readonly { readonly color: string; readonly shape: ShapeName; readonly box: EvalBox }[];
}

/** GLIGEN's slot count: a layout has at most this many objects (diffusers pads to 30). */
export const MAX_LAYOUT_OBJECTS = 30;

const SHAPES: readonly ShapeName[] = ['circle', 'square', 'triangle'];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why a box is not `0 ≤ x0 < x1 ≤ 1, 0 ≤ y0 < y1 ≤ 1` of finite numbers, or undefined when it is fine. */
export function boxProblem(box: unknown): string | undefined {
  if (!Array.isArray(box) || box.length !== 4) return 'an array [x0, y0, x1, y1]';
  if (!box.every((v) => typeof v === 'number' && Number.isFinite(v))) return 'four finite numbers';
  const [x0, y0, x1, y1] = box as number[];
  if (!(x0! >= 0 && x1! <= 1 && x0! < x1!) || !(y0! >= 0 && y1! <= 1 && y0! < y1!)) {
    return 'fractions of the side with 0 ≤ x0 < x1 ≤ 1 and 0 ≤ y0 < y1 ≤ 1';
  }
  return undefined;
}

/** The one word of `text` that is in `words` (whole words, case-insensitive), or undefined if none or several differ. */
function theWord<T extends string>(text: string, words: readonly T[]): T | undefined {
  const found = new Set(
    text
      .toLowerCase()
      .split(/[^a-z]+/)
      .filter((w): w is T => (words as readonly string[]).includes(w)),
  );
  return found.size === 1 ? [...found][0] : undefined;
}

/**
 * The background colour named by a prompt: the colour word right before `background`
 * (`"on a white background"`, `"white background"`), or undefined.
 */
export function backgroundFromPrompt(prompt: string, colorNames: readonly string[]): string | undefined {
  const match = /([a-z]+)\s+background\b/i.exec(prompt);
  const word = match?.[1]?.toLowerCase();
  return word !== undefined && colorNames.includes(word) ? word : undefined;
}

/**
 * Resolves what `layout` asks for: the background (`background` argument, else the layout's
 * `background`, else the colour word before "background" in its prompt) and each object's colour and
 * shape (its fields, else the one colour word and shape word of its phrase). Throws
 * `InvalidArgumentError` naming the first value that is missing, unknown or impossible to judge
 * (an object of the background's colour, a bad box, no objects or more than 30).
 */
export function layoutTruth(
  layout: EvalLayout,
  colorNames: readonly string[],
  background?: string,
): LayoutTruth {
  if (!isRecord(layout)) {
    throw new InvalidArgumentError({
      name: 'layout',
      value: layout,
      expected: '{ prompt, background?, objects: [{ phrase, box, color?, shape? }] }',
    });
  }
  const objects = layout.objects as unknown;
  if (!Array.isArray(objects) || objects.length === 0 || objects.length > MAX_LAYOUT_OBJECTS) {
    throw new InvalidArgumentError({
      name: 'layout.objects',
      value: Array.isArray(objects) ? `${objects.length} objects` : objects,
      expected: `an array of 1–${MAX_LAYOUT_OBJECTS} objects (GLIGEN's slots)`,
      fix: 'give each object { phrase, box }; split bigger layouts',
    });
  }
  const prompt = typeof layout.prompt === 'string' ? layout.prompt : '';
  const bg = background ?? layout.background ?? backgroundFromPrompt(prompt, colorNames);
  if (bg === undefined || !colorNames.includes(bg)) {
    throw new InvalidArgumentError({
      name: background !== undefined ? 'background' : 'layout.background',
      value: bg ?? prompt,
      expected: `one of the world's colours (${colorNames.join(', ')})`,
      fix: 'pass { background } or write the prompt as "on a <colour> background"',
    });
  }
  const resolved = objects.map((o: unknown, i) => {
    const name = `layout.objects[${i}]`;
    if (!isRecord(o)) {
      throw new InvalidArgumentError({ name, value: o, expected: '{ phrase, box, color?, shape? }' });
    }
    const problem = boxProblem(o.box);
    if (problem) throw new InvalidArgumentError({ name: `${name}.box`, value: o.box, expected: problem });
    const phrase = typeof o.phrase === 'string' ? o.phrase : '';
    const color = o.color ?? theWord(phrase, colorNames);
    if (typeof color !== 'string' || !colorNames.includes(color)) {
      throw new InvalidArgumentError({
        name: `${name}.color`,
        value: o.color ?? o.phrase,
        expected: `one of ${colorNames.join(', ')}, or a phrase with exactly one colour word`,
      });
    }
    if (color === bg) {
      throw new InvalidArgumentError({
        name: `${name}.color`,
        value: color,
        expected: `a colour other than the background (${bg}): such an object cannot be seen`,
      });
    }
    const shape = o.shape ?? theWord(phrase, SHAPES);
    if (typeof shape !== 'string' || !(SHAPES as readonly string[]).includes(shape)) {
      throw new InvalidArgumentError({
        name: `${name}.shape`,
        value: o.shape ?? o.phrase,
        expected: `one of ${SHAPES.join(', ')}, or a phrase with exactly one shape word`,
      });
    }
    return { color, shape: shape as ShapeName, box: o.box as EvalBox };
  });
  return { background: bg, objects: resolved };
}

function invalid(name: string, value: unknown, expected: string): ModelInvalidError {
  return new ModelInvalidError(
    `heldout-layouts.json: ${name} = ${formatValue(value)} is invalid: expected ${expected}. ` +
      'Fix: rewrite it with tools/shapes-layout/write_heldout.py.',
  );
}

/**
 * Checks and types a `heldout-layouts.json` (`{ resolution?, colors?, heldout_triples?, layouts: [{ prompt,
 * background?, objects: [{ phrase, box, color?, shape? }] }] }`, written by `tools/shapes-layout/write_heldout.py`).
 * Extra keys are kept out. Throws `ModelInvalidError` naming the first field that is wrong.
 */
export function parseEvalLayouts(json: unknown): EvalLayoutSet {
  if (!isRecord(json)) throw invalid('(root)', json, 'an object');
  const { resolution, colors, layouts } = json;
  const triples = json.heldout_triples;
  if (resolution !== undefined && (!Number.isInteger(resolution) || (resolution as number) < 8)) {
    throw invalid('resolution', resolution, 'an integer ≥ 8');
  }
  if (colors !== undefined) {
    const ok =
      isRecord(colors) &&
      Object.keys(colors).length >= 2 &&
      Object.values(colors).every(
        (c) =>
          Array.isArray(c) &&
          c.length === 3 &&
          c.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 255),
      );
    if (!ok) throw invalid('colors', colors, 'an object of ≥ 2 colour name → [r, g, b] (0–255)');
  }
  if (triples !== undefined) {
    const ok =
      Array.isArray(triples) &&
      triples.every(
        (t) =>
          isRecord(t) &&
          typeof t.color === 'string' &&
          typeof t.background === 'string' &&
          (SHAPES as readonly unknown[]).includes(t.shape),
      );
    if (!ok) throw invalid('heldout_triples', triples, 'an array of { color, shape, background }');
  }
  if (!Array.isArray(layouts) || layouts.length === 0) throw invalid('layouts', layouts, 'a non-empty array');
  const parsed = layouts.map((l: unknown, i): EvalLayout => {
    if (!isRecord(l)) throw invalid(`layouts[${i}]`, l, '{ prompt, background?, objects }');
    if (typeof l.prompt !== 'string') throw invalid(`layouts[${i}].prompt`, l.prompt, 'a string');
    if (l.background !== undefined && typeof l.background !== 'string') {
      throw invalid(`layouts[${i}].background`, l.background, 'a colour name');
    }
    const objects = l.objects;
    if (!Array.isArray(objects) || objects.length === 0 || objects.length > MAX_LAYOUT_OBJECTS) {
      throw invalid(`layouts[${i}].objects`, objects, `an array of 1–${MAX_LAYOUT_OBJECTS} objects`);
    }
    return {
      prompt: l.prompt,
      ...(l.background === undefined ? {} : { background: l.background }),
      objects: objects.map((o: unknown, j): EvalLayoutObject => {
        const name = `layouts[${i}].objects[${j}]`;
        if (!isRecord(o) || typeof o.phrase !== 'string' || o.phrase.trim() === '') {
          throw invalid(name, o, '{ phrase (non-empty), box, color?, shape? }');
        }
        const problem = boxProblem(o.box);
        if (problem) throw invalid(`${name}.box`, o.box, problem);
        if (o.color !== undefined && typeof o.color !== 'string') {
          throw invalid(`${name}.color`, o.color, 'a colour name');
        }
        if (o.shape !== undefined && !(SHAPES as readonly unknown[]).includes(o.shape)) {
          throw invalid(`${name}.shape`, o.shape, `one of ${SHAPES.join(', ')}`);
        }
        return {
          phrase: o.phrase,
          box: [...(o.box as number[])] as unknown as EvalBox,
          ...(o.color === undefined ? {} : { color: o.color as string }),
          ...(o.shape === undefined ? {} : { shape: o.shape as ShapeName }),
        };
      }),
    };
  });
  return {
    ...(resolution === undefined ? {} : { resolution: resolution as number }),
    ...(colors === undefined ? {} : { colors: colors as ShapesWorld['colors'] }),
    ...(triples === undefined
      ? {}
      : {
          heldoutTriples: (triples as ShapeTriple[]).map(({ color, shape, background }) => ({
            color,
            shape,
            background,
          })),
        }),
    layouts: parsed,
  };
}

/**
 * The indices of the first `limit` layouts of each object count, in the set's order (all of them without a
 * limit): a quick run that still fills every row of the report.
 */
export function selectLayouts(layouts: readonly EvalLayout[], limit?: number): number[] {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new InvalidArgumentError({ name: 'limit', value: limit, expected: 'a positive integer' });
  }
  const taken = new Map<number, number>();
  const indices: number[] = [];
  layouts.forEach((l, i) => {
    const n = l.objects.length;
    const k = taken.get(n) ?? 0;
    taken.set(n, k + 1);
    if (limit === undefined || k < limit) indices.push(i);
  });
  return indices;
}
