import { InvalidArgumentError } from '../errors.js';

/**
 * Checks of the arguments of the LoRA methods (`loadLoraWeights`, `setAdapters`), shared by the pipelines
 * and by every `ModelAdapters` implementation so that both give the same errors.
 */

/**
 * Checks one LoRA scale: a finite number.
 *
 * @param name - The option, for the message (e.g. `scale` or `scales[1]`).
 * @throws {@link InvalidArgumentError} for anything else.
 */
export function checkLoraScale(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidArgumentError({
      name,
      value,
      expected: 'a finite number (the LoRA weight: 0 = off, 1 = as trained)',
      fix: 'pass e.g. 0.8',
    });
  }
  return value;
}

/**
 * Checks an adapter name given to `loadLoraWeights`: a non-empty string without `<`, `>` or `:` (so that
 * `<lora:name:weight>` can name it), not already loaded.
 *
 * @throws {@link InvalidArgumentError} for a bad or duplicate name, with the fix.
 */
export function checkNewAdapterName(name: unknown, loaded: readonly string[]): string {
  if (typeof name !== 'string' || name.trim() === '' || /[<>:]/.test(name) || name !== name.trim()) {
    throw new InvalidArgumentError({
      name: 'adapterName',
      value: name,
      expected:
        'a non-empty name without "<", ">", ":" or surrounding spaces (prompts name it as <lora:NAME:weight>)',
      fix: "pass e.g. { adapterName: 'pink' }",
    });
  }
  if (loaded.includes(name)) {
    throw new InvalidArgumentError({
      name: 'adapterName',
      value: name,
      expected: `a name that is not loaded yet (loaded: ${loaded.join(', ')})`,
      fix: `pass another adapterName, or call pipe.unloadLoraWeights() first to replace it`,
    });
  }
  return name;
}

/**
 * Checks the arguments of `setAdapters(names, scales)` (diffusers' `set_adapters`): names of loaded
 * adapters, each once; scales, when given, one finite number per name.
 *
 * @throws {@link InvalidArgumentError} naming the bad value, with the loaded names and the fix.
 */
export function checkAdapterNames(
  names: readonly unknown[],
  scales: readonly unknown[] | undefined,
  loaded: readonly string[],
): void {
  if (!Array.isArray(names)) {
    throw new InvalidArgumentError({
      name: 'names',
      value: names,
      expected: 'an adapter name or a list of them',
      fix: `pass names from pipe.loras (loaded: ${loaded.join(', ') || 'none'})`,
    });
  }
  names.forEach((name, i) => {
    if (typeof name !== 'string' || !loaded.includes(name)) {
      throw new InvalidArgumentError({
        name: `names[${i}]`,
        value: name,
        expected: `the name of a loaded LoRA adapter (${loaded.length === 0 ? 'none is loaded' : `loaded: ${loaded.join(', ')}`})`,
        fix: 'load it with pipe.loadLoraWeights(file, { adapterName }) first, or correct the name',
      });
    }
    if (names.indexOf(name) !== i) {
      throw new InvalidArgumentError({
        name: `names[${i}]`,
        value: name,
        expected: 'each adapter named once',
        fix: 'remove the repeated name',
      });
    }
  });
  if (scales === undefined) return;
  if (!Array.isArray(scales) || scales.length !== names.length) {
    throw new InvalidArgumentError({
      name: 'scales',
      value: scales,
      expected: `${names.length} scale${names.length === 1 ? '' : 's'}, one per name (or one number for all)`,
      fix: 'pass as many scales as names',
    });
  }
  scales.forEach((s, i) => {
    checkLoraScale(`scales[${i}]`, s);
  });
}
