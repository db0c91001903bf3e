import { InvalidArgumentError } from '../errors.js';

/** `num_inference_steps` → `numInferenceSteps`; names without `_` or `-` come back unchanged. */
export function snakeToCamel(name: string): string {
  return name.replace(/[_-]+([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Levenshtein distance between two strings, case-insensitive (insertions, deletions, substitutions). */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  let previous = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const current = [i];
    for (let j = 1; j <= t.length; j++) {
      const substitution = previous[j - 1]! + (s[i - 1] === t[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[t.length]!;
}

/**
 * The known name a misspelt one most likely meant: the camelCase form of a snake_case or kebab-case name
 * when it is known (`num_inference_steps` → `numInferenceSteps`), else the nearest name by edit distance
 * (case-insensitive) within a third of the name's length (at least 2 edits), else the first known name
 * that contains it (`steps` → `numInferenceSteps`); undefined when nothing is that close.
 */
export function closestName(name: string, known: readonly string[]): string | undefined {
  const camel = snakeToCamel(name);
  const exact = known.find((k) => k.toLowerCase() === camel.toLowerCase());
  if (exact !== undefined) return exact;
  const allowed = Math.max(2, Math.floor(camel.length / 3));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = editDistance(camel, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  if (bestDistance <= allowed) return best;
  // A short form of a longer name: `steps` → numInferenceSteps, `mask` → maskImage.
  if (camel.length < 4) return undefined;
  return known.find((k) => k.toLowerCase().includes(camel.toLowerCase()));
}

/**
 * Rejects keys of `object` that are not in `known` (a plain-JS caller's `num_inference_steps` or a typo
 * would otherwise be ignored), with a "did you mean" when a known key is close. Keys whose value is
 * `undefined` are rejected too: they are still misspellings.
 *
 * @param what - What the object is, for the message, e.g. `generate() options`.
 * @throws {@link InvalidArgumentError} naming the first unknown key.
 */
export function checkKnownKeys(what: string, object: object, known: readonly string[]): void {
  for (const key of Object.keys(object)) {
    if (known.includes(key)) continue;
    const suggestion = closestName(key, known);
    throw new InvalidArgumentError({
      name: `${what} key ${JSON.stringify(key)}`,
      value: (object as Record<string, unknown>)[key],
      expected: `one of the known options (${known.join(', ')})`,
      fix: suggestion
        ? `did you mean ${suggestion}? Options are camelCase, as in diffusers but without underscores`
        : 'remove the key, or check its spelling against the documented options',
    });
  }
}
