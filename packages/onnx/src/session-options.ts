import { InvalidArgumentError } from '@latentkit/core';

/** onnxruntime's graph optimisation levels (`sessionOptions.graphOptimizationLevel`). */
export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

/** Every {@link GraphOptimizationLevel}, from none to all. */
export const GRAPH_OPTIMIZATION_LEVELS: readonly GraphOptimizationLevel[] = [
  'disabled',
  'basic',
  'extended',
  'all',
];

/** Throws an {@link InvalidArgumentError} unless `value` is absent or a {@link GraphOptimizationLevel}. */
export function checkGraphOptimizationLevel(value: string | undefined): void {
  if (value !== undefined && !(GRAPH_OPTIMIZATION_LEVELS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError({
      name: 'graphOptimizationLevel',
      value,
      expected: `one of ${GRAPH_OPTIMIZATION_LEVELS.join(', ')}`,
    });
  }
}

/**
 * Checks a list of execution provider names against the ones a backend knows, e.g.
 * `checkProviderList(['cuda', 'cpu'], ['cuda', 'cpu'], 'providers', '"cuda,cpu"')`; returns it typed.
 * `example` is a valid list as the user would write it, for the error's fix; `given` is the value as
 * the user gave it (e.g. the `"cuda,cpu"` string a list was split from), for the error.
 */
export function checkProviderList<P extends string>(
  value: readonly string[],
  known: readonly P[],
  name: string,
  example: string,
  given: unknown = value,
): P[] {
  if (!Array.isArray(value) || value.length === 0 || value.some((p) => p === '')) {
    throw new InvalidArgumentError({
      name,
      value: given,
      expected: `a non-empty list of ${known.join(', ')}`,
      fix: `e.g. ${example}`,
    });
  }
  for (const provider of value) {
    if (!(known as readonly string[]).includes(provider)) {
      throw new InvalidArgumentError({
        name,
        value: provider,
        expected: `one of ${known.join(', ')}`,
        fix: `list providers in order of preference, e.g. ${example}`,
      });
    }
  }
  return [...value] as P[];
}

/** The provider options both backends share: one list for all components, lists per component. */
export interface ProviderOptions {
  readonly providers?: readonly string[];
  readonly componentProviders?: Readonly<Record<string, readonly string[]>>;
}

/** Checks `providers` and every `componentProviders.<component>` list with {@link checkProviderList}. */
export function checkProviderOptions(
  options: ProviderOptions,
  known: readonly string[],
  example: string,
): void {
  if (options.providers) checkProviderList(options.providers, known, 'providers', example);
  for (const [component, list] of Object.entries(options.componentProviders ?? {})) {
    checkProviderList(list, known, `componentProviders.${component}`, example);
  }
}
