/**
 * @packageDocumentation
 * `@latentkit/schedulers`: diffusers' schedulers, one class per file, each numerically equal to diffusers,
 * plus a registry by diffusers class name and by A1111 sampler name.
 */
export * from './shared/config.js';
export * from './shared/betas.js';
