/**
 * @packageDocumentation
 * `@latentkit/core`: tensors, a torch-compatible generator, the interfaces every part implements, and
 * the Stable Diffusion pipeline loop. No runtime dependencies.
 */
export * from './errors.js';
export * from './image/rgba-image.js';
export type * from './interfaces/backend.js';
export type * from './interfaces/conditioning.js';
export type * from './interfaces/denoiser.js';
export type * from './interfaces/latent-codec.js';
export type * from './interfaces/prompt-encoder.js';
export type * from './interfaces/scheduler.js';
export type { Generator } from './random/generator.js';
export { TorchGenerator } from './random/torch-generator.js';
export * from './tensor.js';
