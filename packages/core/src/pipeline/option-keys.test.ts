import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors.js';
import { checkKnownKeys, closestName, editDistance, snakeToCamel } from './option-keys.js';

const known = ['prompt', 'numInferenceSteps', 'guidanceScale', 'guidanceRescale', 'width', 'maskImage'];

describe('option keys', () => {
  it('snake_case and kebab-case to camelCase', () => {
    expect(snakeToCamel('num_inference_steps')).toBe('numInferenceSteps');
    expect(snakeToCamel('guidance-scale')).toBe('guidanceScale');
    expect(snakeToCamel('prompt')).toBe('prompt');
  });
  it('edit distance, case-insensitive', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('Width', 'width')).toBe(0);
    expect(editDistance('', 'abc')).toBe(3);
  });
  it('closest name: camelCase form, then edit distance, then a containing name', () => {
    expect(closestName('num_inference_steps', known)).toBe('numInferenceSteps');
    expect(closestName('guidanceScal', known)).toBe('guidanceScale');
    expect(closestName('guidance_rescale', known)).toBe('guidanceRescale');
    expect(closestName('promt', known)).toBe('prompt');
    expect(closestName('steps', known)).toBe('numInferenceSteps');
    expect(closestName('mask', known)).toBe('maskImage');
    expect(closestName('sampler', known)).toBeUndefined();
    expect(closestName('n', known)).toBeUndefined();
  });
  it('checkKnownKeys passes known keys and names the first unknown one', () => {
    expect(() => checkKnownKeys('x', { prompt: 'a', width: 8 }, known)).not.toThrow();
    expect(() => checkKnownKeys('x', { prompt: 'a', promt: 'b' }, known)).toThrow(InvalidArgumentError);
    expect(() => checkKnownKeys('x', { promt: 'b' }, known)).toThrow(/x key "promt".*did you mean prompt\?/);
  });
});
