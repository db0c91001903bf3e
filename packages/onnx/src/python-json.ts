import { ModelInvalidError } from '@latentkit/core';

// Placeholders for the non-finite tokens: JSON strings cannot hold a raw U+0000 (it must be escaped as
// \u0000 in JSON text), so a parsed string equal to one of these can only come from a placeholder
// we inserted, or from a file that spells out this exact escaped text, which no config does.
const NAN = '\u0000latentkit:NaN';
const POS_INF = '\u0000latentkit:Infinity';
const NEG_INF = '\u0000latentkit:-Infinity';
const PLACEHOLDERS: Record<string, string> = {
  NaN: JSON.stringify(NAN),
  Infinity: JSON.stringify(POS_INF),
  '-Infinity': JSON.stringify(NEG_INF),
};

function reviver(_key: string, value: unknown): unknown {
  if (value === NAN) return Number.NaN;
  if (value === POS_INF) return Number.POSITIVE_INFINITY;
  if (value === NEG_INF) return Number.NEGATIVE_INFINITY;
  return value;
}

/**
 * Parses JSON as Python's `json` module writes it: like `JSON.parse`, plus the tokens `NaN`, `Infinity`
 * and `-Infinity` that Python emits for non-finite floats (diffusers configs contain them, e.g.
 * `"clip_sample_range": Infinity`). The tokens are only recognised outside strings.
 *
 * @param text - The JSON text.
 * @param fileName - The file's name, for the error message.
 * @throws {@link @latentkit/core!ModelInvalidError} when the text is not valid JSON.
 */
export function parsePythonJson(text: string, fileName = 'JSON'): unknown {
  let out = '';
  let last = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // skip the string, honouring backslash escapes
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i += 2;
        else if (d === 0x22) break;
        else i++;
      }
      i++;
      continue;
    }
    if (c === 0x4e /* N */ || c === 0x49 /* I */ || c === 0x2d /* - */) {
      const token = text.startsWith('NaN', i)
        ? 'NaN'
        : text.startsWith('Infinity', i)
          ? 'Infinity'
          : text.startsWith('-Infinity', i)
            ? '-Infinity'
            : undefined;
      if (token) {
        out += text.slice(last, i) + PLACEHOLDERS[token];
        i += token.length;
        last = i;
        continue;
      }
    }
    i++;
  }
  const source = last === 0 ? text : out + text.slice(last);
  try {
    return last === 0 ? JSON.parse(source) : JSON.parse(source, reviver);
  } catch (err) {
    throw new ModelInvalidError(`${fileName} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}
