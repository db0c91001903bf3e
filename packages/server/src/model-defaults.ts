import type { ServablePipeline } from './run-generation.js';
import type { ModelDefaults } from './server-options.js';

/**
 * The defaults a server uses for a pipeline: its native size (the UNet's `sample_size` × the VAE's
 * downscale, 512 when the graph does not say), the given steps and guidance (diffusers' 50 and 7.5 unless
 * told), and img2img strength 0.75 (A1111's `denoising_strength` default).
 */
export function modelDefaults(pipe: ServablePipeline, overrides: Partial<ModelDefaults> = {}): ModelDefaults {
  const sampleSize = pipe.denoiser.sampleSize;
  const side = sampleSize ? sampleSize * pipe.codec.downscale : 512;
  return { width: side, height: side, steps: 50, guidanceScale: 7.5, strength: 0.75, ...overrides };
}
