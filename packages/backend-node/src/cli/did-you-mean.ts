/** Edit distance (Levenshtein: insertions, deletions, substitutions) between two strings. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The candidates closest to `input` (case and spaces ignored), for a "did you mean" hint: those at the
 * smallest edit distance, if that distance is at most a third of the input's length (at least 2), or
 * candidates that contain the input or are contained in it. Empty when nothing is close.
 */
export function closestNames(input: string, candidates: readonly string[]): string[] {
  const norm = (s: string) => s.toLowerCase().replace(/[\s_-]+/g, '');
  const wanted = norm(input);
  if (wanted === '') return [];
  const scored = candidates.map((name) => ({ name, distance: editDistance(wanted, norm(name)) }));
  const best = Math.min(...scored.map((s) => s.distance));
  if (best <= Math.max(2, Math.floor(wanted.length / 3))) {
    return scored.filter((s) => s.distance === best).map((s) => s.name);
  }
  return candidates.filter((name) => norm(name).includes(wanted) || wanted.includes(norm(name)));
}
