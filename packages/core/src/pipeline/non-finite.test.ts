import { describe, expect, it } from 'vitest';
import { NonFiniteOutputError } from '../errors.js';
import { Tensor } from '../tensor.js';
import { checkFinite, checkStepLatents, firstNonFinite } from './non-finite.js';

const F32_MAX = 3.4028234663852886e38;

describe('firstNonFinite', () => {
  it('finite extremes pass: ±float32 max, ±0, the smallest subnormal', () => {
    expect(firstNonFinite(new Float32Array([F32_MAX, -F32_MAX, 0, -0, 1.4e-45, -1.4e-45]))).toBe(-1);
    expect(firstNonFinite(new Float32Array(0))).toBe(-1);
  });

  it('finds the first NaN, +Infinity or −Infinity, wherever it is', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      for (const at of [0, 7, 99]) {
        const data = new Float32Array(100).fill(0.5);
        data[at] = bad;
        if (at < 99) data[99] = Number.NaN;
        expect(firstNonFinite(data)).toBe(at);
      }
    }
  });

  it('float32 overflow of a finite double is caught (1e39 rounds to Infinity)', () => {
    expect(firstNonFinite(new Float32Array([1, 1e39]))).toBe(1);
  });
});

describe('checkFinite / checkStepLatents', () => {
  it('returns the tensor itself when finite', () => {
    const t = new Tensor(new Float32Array([1, 2]), [2]);
    expect(checkFinite(t, { where: 'x', causes: 'c', fix: 'f' })).toBe(t);
  });

  it('the message counts the non-finite values and shows the first; .step is the step', () => {
    const t = new Tensor(new Float32Array([0, Number.NEGATIVE_INFINITY, 1, Number.NaN]), [1, 1, 2, 2]);
    let error: unknown;
    try {
      checkStepLatents(t, 3, 20, 801, 7.5);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NonFiniteOutputError);
    const e = error as NonFiniteOutputError;
    expect(e.step).toBe(3);
    expect(e.message).toBe(
      'Non-finite values in the latents after step 3 of 20 (0-based; timestep 801): 2 of 4 values are NaN ' +
        'or ±Infinity (the first, at flat index 1, is -Infinity). Likely causes: a guidance scale too large ' +
        'for float32 (guidanceScale = 7.5), prompt weights far from 1 (e.g. "(word:90)"; the parser ' +
        'refuses weights beyond ±100), or a model or scheduler config that produces NaN (betas outside ' +
        '(0, 1), a broken UNet export); NaN from step 0 on often means the inputs (latents, promptEmbeds) ' +
        'already held it. Fix: use a usual guidance scale (1–15) and prompt weights near 1 (e.g. ' +
        '"(word:1.3)"), and check the model\'s scheduler_config.json and UNet',
    );
  });
});
