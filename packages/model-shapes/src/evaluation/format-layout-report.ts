import { accuracy } from './adherence-score.js';
import { formatTable, formatTally } from './format-report.js';
import {
  LAYOUT_TARGETS,
  type LayoutCase,
  type LayoutSummary,
  summarizeByObjectCount,
  summarizeLayouts,
} from './layout-score.js';

/** `≥ 85% met` / `≥ 85% MISSED` for a group with a target, `–` without one. */
export function formatTarget(summary: LayoutSummary, target: number | undefined): string {
  if (target === undefined || summary.objects.total === 0) return '–';
  const met = accuracy(summary.objects) >= target;
  return `≥ ${Math.round(100 * target)}% ${met ? 'met' : 'MISSED'}`;
}

/**
 * The layout evaluation as one table, a row per number of objects per layout (and one for all):
 * objects right (colour and shape), colour right, shape right, images clean outside the boxes,
 * layouts entirely right, and the target on objects right ({@link LAYOUT_TARGETS}).
 */
export function formatLayoutTable(
  cases: readonly LayoutCase[],
  targets: Readonly<Record<number, number>> = LAYOUT_TARGETS,
): string {
  const groups = summarizeByObjectCount(cases);
  const row = (label: string, s: LayoutSummary, target: number | undefined) => [
    label,
    formatTally(s.objects),
    formatTally(s.color),
    formatTally(s.shape),
    formatTally(s.clean),
    formatTally(s.layouts),
    formatTarget(s, target),
  ];
  const rows = [...groups].map(([n, s]) => row(`${n} object${n === 1 ? '' : 's'}`, s, targets[n]));
  if (groups.size > 1) rows.push(row('all', summarizeLayouts(cases), undefined));
  return formatTable([
    [
      'layouts',
      'objects right',
      'colour right',
      'shape right',
      'clean outside boxes',
      'layout all right',
      'target (objects right)',
    ],
    ...rows,
  ]);
}

/** The layouts with a wrong object or a dirty background, one line each (`want→got` per wrong object). */
export function formatLayoutFailures(cases: readonly LayoutCase[], limit = 20): string {
  const failed = cases.filter((c) => !c.judged.allRight);
  const lines = failed.slice(0, limit).map(({ index, seed, layout, judged }) => {
    const wrong = judged.objects
      .map((o, i) =>
        o.right ? undefined : `${layout.objects[i]?.phrase}→${o.color ?? 'none'} ${o.shape ?? 'none'}`,
      )
      .filter((s) => s !== undefined);
    if (!judged.clean)
      wrong.push(`${(100 * judged.outsideShare).toFixed(1)}% not background outside the boxes`);
    return `  #${index} seed ${seed} "${layout.prompt}": ${wrong.join('; ')}`;
  });
  if (failed.length > limit) lines.push(`  … and ${failed.length - limit} more`);
  return lines.join('\n');
}
