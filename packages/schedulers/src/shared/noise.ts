import {
  type Generator,
  InvalidArgumentError,
  ShapeMismatchError,
  Tensor,
  TorchGenerator,
} from '@latentkit/core';

/** Throws a typed error unless `a` and `b` have the same shape. */
export function checkSameShape(className: string, name: string, a: Tensor, b: Tensor): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeMismatchError({
      name: `${className} ${name}`,
      value: b.shape,
      expected: `shape [${a.shape.join(', ')}]`,
      fix: 'pass the model output and the sample of one step, with the same shape',
    });
  }
}

/** Stands in for torch's global generator when a step that draws noise gets no generator. */
let fallbackGenerator: Generator | null = null;

/**
 * Standard normal noise of `shape` from `generator`, as diffusers' `randn_tensor(shape, generator)` draws
 * it (the noise of every stochastic step: DDPM, DDIM with eta, LCM, TCD, the ancestral and SDE solvers).
 * Without a generator, diffusers draws from torch's global generator; here one randomly seeded
 * {@link TorchGenerator}, shared by all schedulers, stands in for it (pass a generator for reproducible
 * results).
 */
export function drawNoise(shape: readonly number[], generator: Generator | undefined): Float32Array {
  let g = generator;
  if (g === undefined) {
    fallbackGenerator ??= new TorchGenerator(Math.floor(Math.random() * 2 ** 32));
    g = fallbackGenerator;
  }
  const noise = g.randn(shape);
  if (noise.data.length !== shape.reduce((a, b) => a * b, 1)) {
    throw new ShapeMismatchError({
      name: 'generator.randn result',
      value: noise.shape,
      expected: `shape [${shape.join(', ')}]`,
    });
  }
  return noise.data;
}

/**
 * diffusers' `add_noise` of the DDPM family: `√ᾱ_t·x₀ + √(1−ᾱ_t)·ε`, with ᾱ_t at the integer `timestep`.
 * Each operation rounds to float32, as torch computes it (`ᾱ**0.5`, `(1 − ᾱ)**0.5`, two products, a sum).
 */
export function addNoiseWithAlphas(
  className: string,
  alphasCumprod: Float32Array,
  original: Tensor,
  noise: Tensor,
  timestep: number,
): Tensor {
  checkSameShape(className, 'addNoise noise', original, noise);
  if (!Number.isInteger(timestep) || timestep < 0 || timestep >= alphasCumprod.length) {
    throw new InvalidArgumentError({
      name: `${className}.addNoise timestep`,
      value: timestep,
      expected: `an integer timestep from 0 to ${alphasCumprod.length - 1}`,
    });
  }
  const fr = Math.fround;
  const a = alphasCumprod[timestep]!;
  const sa = fr(Math.sqrt(a));
  const sb = fr(Math.sqrt(fr(1 - a)));
  const x = original.data;
  const n = noise.data;
  const out = new Float32Array(x.length);
  for (let i = 0; i < out.length; i++) out[i] = fr(sa * x[i]!) + fr(sb * n[i]!);
  return new Tensor(out, original.shape);
}
