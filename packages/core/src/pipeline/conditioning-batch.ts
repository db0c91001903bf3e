import type { Conditioning } from '../interfaces/conditioning.js';
import { Tensor } from '../tensor.js';

/** Batch size of a conditioning (rows of `encoderHiddenStates`). */
export function conditioningBatch(c: Conditioning): number {
  return c.encoderHiddenStates.shape[0]!;
}

/** Repeats each row `times` times in a row, as diffusers' `repeat(1, n, 1).view(b·n, …)` does. */
export function repeatConditioning(c: Conditioning, times: number): Conditioning {
  if (times === 1) return c;
  const out: Conditioning = { encoderHiddenStates: c.encoderHiddenStates.repeatInterleave(times) };
  if (c.textEmbeds) out.textEmbeds = c.textEmbeds.repeatInterleave(times);
  if (c.timeIds) out.timeIds = c.timeIds.repeatInterleave(times);
  return out;
}

/**
 * Concatenates conditionings along the batch (`[first; second]`), field by field; optional fields are
 * kept only when every part has them (validation makes sure they agree).
 */
export function concatConditioning(parts: readonly Conditioning[]): Conditioning {
  const out: Conditioning = { encoderHiddenStates: Tensor.cat(parts.map((p) => p.encoderHiddenStates)) };
  if (parts.every((p) => p.textEmbeds)) out.textEmbeds = Tensor.cat(parts.map((p) => p.textEmbeds!));
  if (parts.every((p) => p.timeIds)) out.timeIds = Tensor.cat(parts.map((p) => p.timeIds!));
  return out;
}

/** Splits a conditioning into its first `n` rows and the rest (the inverse of {@link concatConditioning}). */
export function splitConditioning(c: Conditioning, n: number): [Conditioning, Conditioning] {
  const total = conditioningBatch(c);
  const part = (start: number, end: number): Conditioning => {
    const out: Conditioning = { encoderHiddenStates: c.encoderHiddenStates.slice(start, end) };
    if (c.textEmbeds) out.textEmbeds = c.textEmbeds.slice(start, end);
    if (c.timeIds) out.timeIds = c.timeIds.slice(start, end);
    return out;
  };
  return [part(0, n), part(n, total)];
}
