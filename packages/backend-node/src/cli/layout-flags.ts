import { type LayoutObject, LimitExceededError } from '@latentkit/core';
import { InvalidArgumentError as CommanderArgumentError } from 'commander';
import { UsageError } from './cli-error.js';

/** The layout-to-image flags of `latentkit generate`, as commander parsed them. */
export interface LayoutFlags {
  /** `--box "<phrase>@x0,y0,x1,y1"`, repeatable, in order. */
  box?: LayoutObject[];
  /** `--gligen-beta`: the fraction of denoiser calls that are grounded. */
  gligenBeta?: number;
}

/** GLIGEN's object slots: at most this many `--box` flags. */
export const MAX_BOXES = 30;

const SYNTAX =
  '"<phrase>@x0,y0,x1,y1" (fractions of width and height, origin top left), e.g. "a red circle@0.05,0.05,0.45,0.45"';

function bad(message: string): CommanderArgumentError {
  return new CommanderArgumentError(`${message} Fix: write it as ${SYNTAX}.`);
}

/**
 * Parses one `--box` value, `"<phrase>@x0,y0,x1,y1"` (split at the last `@`), and appends it to the boxes
 * before it (commander's repeatable-option parser). The phrase must not be empty; the four numbers are
 * fractions with `0 ≤ x0 < x1 ≤ 1` and `0 ≤ y0 < y1 ≤ 1`.
 *
 * @throws commander's InvalidArgumentError (shown as `option '--box …' argument '…' is invalid. …`).
 */
export function parseBox(value: string, previous: LayoutObject[] | undefined): LayoutObject[] {
  const at = value.lastIndexOf('@');
  if (at < 0) throw bad('no "@" between the phrase and the box.');
  const phrase = value.slice(0, at).trim();
  if (phrase === '') throw bad('the phrase before "@" is empty.');
  const parts = value.slice(at + 1).split(',');
  if (parts.length !== 4 || parts.some((p) => p.trim() === '')) {
    throw bad(`expected 4 numbers after "@", got ${parts.filter((p) => p.trim() !== '').length}.`);
  }
  const numbers = parts.map((p) => Number(p));
  const junk = parts.findIndex((_, i) => !Number.isFinite(numbers[i]));
  if (junk >= 0) throw bad(`"${parts[junk]!.trim()}" is not a number.`);
  const [x0, y0, x1, y1] = numbers as [number, number, number, number];
  const outside = numbers.find((v) => v < 0 || v > 1);
  if (outside !== undefined) {
    throw bad(`${outside} is outside [0, 1]: the coordinates are fractions of the width and height.`);
  }
  if (!(x0 < x1)) throw bad(`x0 = ${x0} must be less than x1 = ${x1}.`);
  if (!(y0 < y1)) throw bad(`y0 = ${y0} must be less than y1 = ${y1}.`);
  return [...(previous ?? []), { phrase, box: [x0, y0, x1, y1] }];
}

/** The flags `--box` cannot be combined with: layout-to-image is text-to-image at the model's size. */
const NOT_WITH_BOX: readonly [string, keyof ExclusiveFlags][] = [
  ['--image', 'image'],
  ['--mask', 'mask'],
  ['--strength', 'strength'],
  ['--hires-scale', 'hiresScale'],
  ['--upscale', 'upscale'],
];

/** The flags {@link checkLayoutFlags} looks at besides the layout ones. */
export interface ExclusiveFlags {
  image?: string;
  mask?: string;
  strength?: number;
  hiresScale?: number;
  upscale?: number;
}

/**
 * Checks the layout flags together, before any model is loaded: `--gligen-beta` needs `--box`; `--box` is
 * text-to-image (no `--image`, `--mask`, `--strength`), and takes neither `--hires-scale` nor `--upscale`;
 * at most {@link MAX_BOXES} boxes. Returns the layout, or undefined when there is no `--box`.
 */
export function checkLayoutFlags(flags: LayoutFlags & ExclusiveFlags): LayoutObject[] | undefined {
  const layout = flags.box;
  if (flags.gligenBeta !== undefined && layout === undefined) {
    throw new UsageError(
      '--gligen-beta needs --box "<phrase>@x0,y0,x1,y1" (the share of steps that are grounded in the boxes).',
    );
  }
  if (layout === undefined) return undefined;
  for (const [flag, key] of NOT_WITH_BOX) {
    if (flags[key] !== undefined) {
      throw new UsageError(
        `--box (layout-to-image) cannot take ${flag}: it generates a new image at the layout model's size. Drop ${flag}, or drop --box.`,
      );
    }
  }
  if (layout.length > MAX_BOXES) {
    throw new LimitExceededError({
      name: '--box',
      value: `${layout.length} boxes`,
      expected: `at most ${MAX_BOXES} boxes (GLIGEN has ${MAX_BOXES} object slots)`,
      fix: 'use fewer --box flags',
    });
  }
  return layout;
}

/** A box as `--box` writes it: `phrase@x0,y0,x1,y1`. */
export function formatBox(object: LayoutObject): string {
  return `${object.phrase}@${object.box.join(',')}`;
}
