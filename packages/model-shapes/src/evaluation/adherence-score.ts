import type { JudgedImage } from './judge-image.js';
import type { ExpectedAttributes, PromptSplit, ShapePrompt } from './shape-prompts.js';

/** The attributes the evaluator scores, in report order. */
export const SHAPE_ATTRIBUTES = ['color', 'shape', 'background', 'size', 'position'] as const;

/** One of {@link SHAPE_ATTRIBUTES}. */
export type ShapeAttribute = (typeof SHAPE_ATTRIBUTES)[number];

/** How many of `total` scored images were right. */
export interface Tally {
  /** Images right on the attribute (or on all of them). */
  correct: number;
  /** Images where the prompt specified the attribute. */
  total: number;
}

/** One generated image, its verdicts and how they compare with the prompt. */
export interface AdherenceCase {
  /** The prompt it was generated from, with the expected attributes. */
  readonly prompt: ShapePrompt;
  /** The seed it was generated with. */
  readonly seed: number;
  /** What the judge saw. */
  readonly judged: JudgedImage;
  /** Per attribute the prompt specifies: whether the image shows it. */
  readonly correct: Readonly<Partial<Record<ShapeAttribute, boolean>>>;
  /** True when every specified attribute is right. */
  readonly allCorrect: boolean;
}

/** Accuracy of one split: per attribute (only where specified) and on all attributes at once. */
export interface SplitAccuracy {
  /** Per attribute; absent when no prompt of the split specifies it. */
  readonly attributes: Readonly<Partial<Record<ShapeAttribute, Tally>>>;
  /** Images right on every attribute their prompt specifies. */
  readonly all: Tally;
}

/**
 * Compares a judgement with what the prompt asked for. Only the attributes the prompt specifies are
 * scored (a prompt without a size word accepts either size); a `null` verdict is wrong.
 */
export function scoreJudgement(
  expected: ExpectedAttributes,
  judged: JudgedImage,
): { correct: Partial<Record<ShapeAttribute, boolean>>; allCorrect: boolean } {
  const correct: Partial<Record<ShapeAttribute, boolean>> = {};
  for (const key of SHAPE_ATTRIBUTES) {
    const want = expected[key];
    if (want !== undefined) correct[key] = judged[key] === want;
  }
  return { correct, allCorrect: Object.values(correct).every(Boolean) };
}

/** Tallies cases into per-attribute and all-attribute accuracy. */
export function summarizeAdherence(cases: readonly AdherenceCase[]): SplitAccuracy {
  const attributes: Partial<Record<ShapeAttribute, Tally>> = {};
  const all: Tally = { correct: 0, total: 0 };
  for (const c of cases) {
    for (const key of SHAPE_ATTRIBUTES) {
      const ok = c.correct[key];
      if (ok === undefined) continue;
      const tally = attributes[key] ?? { correct: 0, total: 0 };
      attributes[key] = tally;
      tally.total += 1;
      if (ok) tally.correct += 1;
    }
    all.total += 1;
    if (c.allCorrect) all.correct += 1;
  }
  return { attributes, all };
}

/** {@link summarizeAdherence} of each split. */
export function summarizeBySplit(cases: readonly AdherenceCase[]): Record<PromptSplit, SplitAccuracy> {
  return {
    seen: summarizeAdherence(cases.filter((c) => c.prompt.split === 'seen')),
    heldout: summarizeAdherence(cases.filter((c) => c.prompt.split === 'heldout')),
  };
}

/** `correct / total`, or `NaN` for an empty tally. */
export function accuracy(tally: Tally): number {
  return tally.total === 0 ? Number.NaN : tally.correct / tally.total;
}
