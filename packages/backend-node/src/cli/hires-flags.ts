import {
  DEFAULT_HIRES_STRENGTH,
  type HiresFixOptions,
  type HiresUpscaler,
  InvalidArgumentError,
} from '@latentkit/core';
import { UsageError } from './cli-error.js';

/** The hires-fix flags of `latentkit generate`, as commander parsed them. */
export interface HiresFlags {
  hiresScale?: number;
  hiresStrength?: number;
  hiresSteps?: number;
  hiresUpscaler?: HiresUpscaler;
  image?: string;
  mask?: string;
}

/**
 * Checks the hires flags together, before the model is loaded: `--hires-strength`, `--hires-steps` and
 * `--hires-upscaler` need `--hires-scale`; hires fix is text-to-image (no `--image`); the strength is in
 * (0, 1]. Returns whether hires fix is on.
 */
export function checkHiresFlags(flags: HiresFlags): boolean {
  const on = flags.hiresScale !== undefined;
  for (const [flag, value] of [
    ['--hires-strength', flags.hiresStrength],
    ['--hires-steps', flags.hiresSteps],
    ['--hires-upscaler', flags.hiresUpscaler],
  ] as const) {
    if (value !== undefined && !on) {
      throw new UsageError(`${flag} needs --hires-scale X (the hires fix's "upscale by", e.g. 2).`);
    }
  }
  if (!on) return false;
  if (flags.image !== undefined) {
    throw new UsageError(
      '--hires-scale is a text-to-image hires fix and cannot take --image: drop --image, or upscale an image with --upscale 4.',
    );
  }
  if (flags.hiresStrength === 0) {
    throw new InvalidArgumentError({
      name: '--hires-strength',
      value: 0,
      expected: 'a number in (0, 1] (the hires pass runs img2img at this denoising strength)',
      fix: `use e.g. --hires-strength ${DEFAULT_HIRES_STRENGTH} (A1111's default); 0 would keep the upscaled image unchanged`,
    });
  }
  return true;
}

/** The hiresFix() options the flags give (the hires settings only). */
export function hiresOptions(
  flags: HiresFlags,
): Pick<HiresFixOptions, 'hiresScale' | 'hiresStrength' | 'hiresSteps' | 'hiresUpscaler'> {
  return {
    ...(flags.hiresScale !== undefined ? { hiresScale: flags.hiresScale } : {}),
    ...(flags.hiresStrength !== undefined ? { hiresStrength: flags.hiresStrength } : {}),
    ...(flags.hiresSteps !== undefined ? { hiresSteps: flags.hiresSteps } : {}),
    ...(flags.hiresUpscaler !== undefined ? { hiresUpscaler: flags.hiresUpscaler } : {}),
  };
}
