import { describe, expect, it } from 'vitest';
import type { ResolvedParameters } from '../pipeline/generate-options.js';
import { generationParametersFrom, isResolvedParameters } from './generation-parameters-from.js';
import { formatGenerationParameters } from './infotext.js';

const resolved: ResolvedParameters = {
  mode: 'txt2img',
  width: 64,
  height: 48,
  numInferenceSteps: 20,
  guidanceScale: 7.5,
  guidanceRescale: 0,
  eta: 0,
  scheduler: 'DPMSolverMultistepScheduler',
  schedulerConfig: { use_karras_sigmas: true },
  images: [
    { prompt: 'a red circle', negativePrompt: 'blurry', seed: 42, batchIndex: 0 },
    { prompt: 'a red circle', negativePrompt: 'blurry', seed: 42, batchIndex: 1 },
    { batchIndex: 0 },
  ],
};

describe('generationParametersFrom', () => {
  it("takes one image's prompt and seed and the call's settings", () => {
    expect(generationParametersFrom(resolved, { model: 'shapes', sampler: 'DPM++ 2M Karras' })).toEqual({
      prompt: 'a red circle',
      negativePrompt: 'blurry',
      steps: 20,
      sampler: 'DPM++ 2M Karras',
      cfgScale: 7.5,
      seed: 42,
      width: 64,
      height: 48,
      model: 'shapes',
    });
  });

  it('names the sampler by the class name, a string, or a function of class name and config', () => {
    expect(generationParametersFrom(resolved).sampler).toBe('DPMSolverMultistepScheduler');
    expect(generationParametersFrom(resolved, { sampler: 'Mine' }).sampler).toBe('Mine');
    const seen: unknown[] = [];
    const named = generationParametersFrom(resolved, {
      sampler: (className, config) => {
        seen.push(className, config);
        return config['use_karras_sigmas'] ? `${className} Karras` : className;
      },
    });
    expect(named.sampler).toBe('DPMSolverMultistepScheduler Karras');
    expect(seen).toEqual(['DPMSolverMultistepScheduler', { use_karras_sigmas: true }]);
  });

  it('writes Batch pos, -1 for no seed, and no prompt as empty', () => {
    expect(generationParametersFrom(resolved, { imageIndex: 1 }).extra).toEqual({ 'Batch pos': 1 });
    const embedded = generationParametersFrom(resolved, { imageIndex: 2 });
    expect(embedded.seed).toBe(-1);
    expect(embedded.prompt).toBe('');
    expect(embedded).not.toHaveProperty('negativePrompt');
  });

  it('writes strength, clip skip > 1, guidance rescale and eta (Eta DDIM for DDIM) as A1111 does', () => {
    const img2img = {
      ...resolved,
      mode: 'img2img' as const,
      strength: 0.6,
      clipSkip: 2,
      guidanceRescale: 0.7,
    };
    expect(formatGenerationParameters(generationParametersFrom({ ...img2img, eta: 0.5 }))).toBe(
      'a red circle\nNegative prompt: blurry\n' +
        'Steps: 20, Sampler: DPMSolverMultistepScheduler, CFG scale: 7.5, Seed: 42, Size: 64x48, ' +
        'Denoising strength: 0.6, Clip skip: 2, CFG Rescale phi: 0.7, Eta: 0.5',
    );
    const ddim = { ...resolved, scheduler: 'DDIMScheduler', eta: 1, clipSkip: 1 };
    expect(formatGenerationParameters(generationParametersFrom(ddim))).toMatch(
      /Sampler: DDIMScheduler, .*Size: 64x48, Eta DDIM: 1$/,
    );
  });

  it('writes a layout as --box takes it, and the GLIGEN beta', () => {
    const layout = {
      phrases: ['a red circle', 'a blue square'],
      boxes: [
        [0.05, 0.05, 0.45, 0.45],
        [0.55, 0.5, 0.95, 1],
      ] as [number, number, number, number][],
      scheduledSamplingBeta: 0.3,
    };
    const text = formatGenerationParameters(generationParametersFrom({ ...resolved, layout }));
    expect(text).toContain(
      'Layout: "a red circle@0.05,0.05,0.45,0.45; a blue square@0.55,0.5,0.95,1", GLIGEN beta: 0.3',
    );
    const { phrases: _, ...embedded } = layout;
    expect(generationParametersFrom({ ...resolved, layout: embedded }).extra?.['Layout']).toBe(
      '(embedding)@0.05,0.05,0.45,0.45; (embedding)@0.55,0.5,0.95,1',
    );
  });

  it('tells generate() parameters from GenerationParameters', () => {
    expect(isResolvedParameters(resolved)).toBe(true);
    expect(isResolvedParameters(generationParametersFrom(resolved))).toBe(false);
  });
});
