import { accuracy, type Tally } from './adherence-score.js';
import type { EvalLayout } from './eval-layouts.js';
import type { JudgedLayout } from './judge-layout.js';
import type { ShapeTriple } from './shapes-world.js';

/** One generated layout image: which layout, the seed and what the judge saw. */
export interface LayoutCase {
  /** Index of the layout in the evaluation set. */
  readonly index: number;
  /** The layout it was generated from. */
  readonly layout: EvalLayout;
  /** The seed it was generated with. */
  readonly seed: number;
  /** The layout judge's verdicts. */
  readonly judged: JudgedLayout;
}

/** The tallies of a group of layout images (e.g. all with 2 objects). */
export interface LayoutSummary {
  /** Objects with colour and shape right, of all objects. */
  readonly objects: Tally;
  /** Objects with the right colour. */
  readonly color: Tally;
  /** Objects with the right shape. */
  readonly shape: Tally;
  /** Images with nothing but background outside all boxes. */
  readonly clean: Tally;
  /** Images with every object right and clean outside the boxes. */
  readonly layouts: Tally;
}

/**
 * The targets: share of objects right on held-out layouts, by objects per layout
 * (≥ 85 % with 2 objects, ≥ 70 % with 3).
 */
export const LAYOUT_TARGETS: Readonly<Record<number, number>> = Object.freeze({ 2: 0.85, 3: 0.7 });

/** Tallies layout images into object, colour, shape, clean-image and whole-layout accuracy. */
export function summarizeLayouts(cases: readonly LayoutCase[]): LayoutSummary {
  const tally = (): Tally => ({ correct: 0, total: 0 });
  const s = { objects: tally(), color: tally(), shape: tally(), clean: tally(), layouts: tally() };
  const count = (t: Tally, ok: boolean) => {
    t.total += 1;
    if (ok) t.correct += 1;
  };
  for (const { judged } of cases) {
    for (const o of judged.objects) {
      count(s.objects, o.right);
      count(s.color, o.colorRight);
      count(s.shape, o.shapeRight);
    }
    count(s.clean, judged.clean);
    count(s.layouts, judged.allRight);
  }
  return s;
}

/** {@link summarizeLayouts} per number of objects in the layout, in ascending order of that number. */
export function summarizeByObjectCount(cases: readonly LayoutCase[]): Map<number, LayoutSummary> {
  const counts = [...new Set(cases.map((c) => c.layout.objects.length))].sort((a, b) => a - b);
  return new Map(
    counts.map((n) => [n, summarizeLayouts(cases.filter((c) => c.layout.objects.length === n))]),
  );
}

/** Whether every group with a target met it (false when a targeted group has no objects). */
export function targetsMet(
  cases: readonly LayoutCase[],
  targets: Readonly<Record<number, number>> = LAYOUT_TARGETS,
): boolean {
  const groups = summarizeByObjectCount(cases);
  return Object.entries(targets).every(([n, target]) => {
    const s = groups.get(Number(n));
    return s !== undefined && s.objects.total > 0 && accuracy(s.objects) >= target;
  });
}

/** One row of {@link layoutEvaluationSummary}: a group's tallies, its objects-right share and its target. */
export interface LayoutGroupSummary extends LayoutSummary {
  /** Objects per layout in the group. */
  readonly objectsPerLayout: number;
  /** `objects.correct / objects.total`. */
  readonly objectsRight: number;
  /** The target on `objectsRight`, or null without one. */
  readonly target: number | null;
  /** Whether the target is met, or null without one. */
  readonly met: boolean | null;
}

/**
 * The evaluation as plain data (what `npm run eval:layout --json` writes): per object count the tallies
 * and the target, all layouts together, and each layout's verdicts.
 */
export function layoutEvaluationSummary(
  cases: readonly LayoutCase[],
  targets: Readonly<Record<number, number>> = LAYOUT_TARGETS,
) {
  const groups: LayoutGroupSummary[] = [...summarizeByObjectCount(cases)].map(([n, s]) => {
    const target = targets[n] ?? null;
    const objectsRight = accuracy(s.objects);
    return {
      objectsPerLayout: n,
      ...s,
      objectsRight,
      target,
      met: target === null ? null : objectsRight >= target,
    };
  });
  return {
    targetsMet: targetsMet(cases, targets),
    groups,
    all: summarizeLayouts(cases),
    cases: cases.map(({ index, seed, layout, judged }) => ({
      index,
      seed,
      prompt: layout.prompt,
      background: judged.background,
      objects: judged.objects.map((o, i) => ({
        phrase: layout.objects[i]?.phrase,
        box: layout.objects[i]?.box,
        expected: o.expected,
        color: o.color,
        shape: o.shape,
        right: o.right,
      })),
      outsideShare: judged.outsideShare,
      clean: judged.clean,
      allRight: judged.allRight,
    })),
  };
}

/**
 * Objects right, split by whether the object's (colour, shape, background) triple is one of `heldout`
 * (never an object on that background in training) or was seen.
 */
export function objectsByTriple(
  cases: readonly LayoutCase[],
  heldout: readonly ShapeTriple[],
): { heldout: Tally; seen: Tally } {
  const held = new Set(heldout.map((t) => `${t.color} ${t.shape} ${t.background}`));
  const split = { heldout: { correct: 0, total: 0 }, seen: { correct: 0, total: 0 } };
  for (const { judged } of cases) {
    for (const o of judged.objects) {
      const t = held.has(`${o.expected.color} ${o.expected.shape} ${judged.background}`)
        ? split.heldout
        : split.seen;
      t.total += 1;
      if (o.right) t.correct += 1;
    }
  }
  return split;
}
