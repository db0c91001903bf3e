import { InvalidArgumentError } from '@latentkit/core';

/**
 * Checks a clip skip value (A1111's meaning, the same for every model: 1 = the model's default layer, N = N−1
 * layers further back).
 *
 * @throws {@link @latentkit/core!InvalidArgumentError} for anything but an integer ≥ 1.
 */
export function checkClipSkip(value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError({
      name: 'clipSkip',
      value,
      expected:
        "an integer ≥ 1 (1 = the model's default layer: the last for SD 1.x/2.x, the penultimate for SDXL; 2 = one layer further back)",
    });
  }
  return value;
}
