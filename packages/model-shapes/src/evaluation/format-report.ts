import {
  type AdherenceCase,
  accuracy,
  SHAPE_ATTRIBUTES,
  type SplitAccuracy,
  summarizeAdherence,
  type Tally,
} from './adherence-score.js';
import type { AdherenceResult } from './evaluate-adherence.js';

/** Aligns rows of cells into a plain-text table: first row the header, a rule under it. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  // First column left-aligned (labels), the others right-aligned (numbers).
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const [header, ...body] = rows;
  if (!header) return '';
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...body.map(line)].join('\n');
}

/** `93.8% (135/144)`, or `–` when nothing was scored. */
export function formatTally(tally: Tally | undefined): string {
  if (!tally || tally.total === 0) return '–';
  return `${(100 * accuracy(tally)).toFixed(1)}% (${tally.correct}/${tally.total})`;
}

/** Per-attribute and all-attribute accuracy of one evaluation, seen vs held-out triples. */
export function formatAccuracyTable(result: AdherenceResult): string {
  const { seen, heldout } = result.splits;
  const both = summarizeAdherence(result.cases);
  const row = (label: string, pick: (s: SplitAccuracy) => Tally | undefined) => [
    label,
    formatTally(pick(seen)),
    formatTally(pick(heldout)),
    formatTally(pick(both)),
  ];
  return formatTable([
    ['attribute', 'seen triples', 'held-out triples', 'all'],
    ...SHAPE_ATTRIBUTES.map((key) => row(key, (s) => s.attributes[key])),
    row('ALL attributes', (s) => s.all),
  ]);
}

/** One row of a sweep: what was varied and what it measured. */
export interface SweepRow {
  /** The setting, e.g. `guidance 5` or `DPM++ 2M Karras`. */
  readonly label: string;
  /** The evaluation at that setting. */
  readonly result: AdherenceResult;
}

/**
 * A sweep as one table: all-attribute accuracy on seen and held-out triples, per-attribute accuracy
 * over both, and the wall time of each setting.
 */
export function formatSweepTable(rows: readonly SweepRow[], title = 'setting'): string {
  const shortPct = (t: Tally | undefined) => (t && t.total > 0 ? `${(100 * accuracy(t)).toFixed(1)}%` : '–');
  return formatTable([
    [title, 'ALL seen', 'ALL held-out', ...SHAPE_ATTRIBUTES, 'images', 'seconds'],
    ...rows.map(({ label, result }) => {
      const both = summarizeAdherence(result.cases);
      return [
        label,
        formatTally(result.splits.seen.all),
        formatTally(result.splits.heldout.all),
        ...SHAPE_ATTRIBUTES.map((key) => shortPct(both.attributes[key])),
        String(result.cases.length),
        result.seconds.toFixed(1),
      ];
    }),
  ]);
}

/** Accuracy per phrasing (all attributes), seen and held-out: which wordings the model follows. */
export function formatPhrasingTable(result: AdherenceResult): string {
  const phrasings = [...new Set(result.cases.map((c) => c.prompt.phrasing))];
  return formatTable([
    ['phrasing', 'seen', 'held-out'],
    ...phrasings.map((phrasing) => {
      const of = (split: string) =>
        summarizeAdherence(
          result.cases.filter((c) => c.prompt.phrasing === phrasing && c.prompt.split === split),
        ).all;
      return [phrasing, formatTally(of('seen')), formatTally(of('heldout'))];
    }),
  ]);
}

/** The wrong images, one line each: prompt, seed, and the attributes judged wrong (`want→got`). */
export function formatFailures(cases: readonly AdherenceCase[], limit = 20): string {
  const failed = cases.filter((c) => !c.allCorrect);
  const lines = failed.slice(0, limit).map((c) => {
    const wrong = SHAPE_ATTRIBUTES.filter((key) => c.correct[key] === false)
      .map((key) => `${key} ${c.prompt.expected[key]}→${c.judged[key] ?? 'none'}`)
      .join(', ');
    return `  [${c.prompt.split}] seed ${c.seed} "${c.prompt.prompt}": ${wrong}`;
  });
  if (failed.length > limit) lines.push(`  … and ${failed.length - limit} more`);
  return lines.join('\n');
}
