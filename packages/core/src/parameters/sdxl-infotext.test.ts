import { describe, expect, it } from 'vitest';
import type { ResolvedParameters } from '../pipeline/generate-options.js';
import { generationParametersFrom } from './generation-parameters-from.js';
import { formatGenerationParameters, parseGenerationParameters } from './infotext.js';
import { refinerGenerationParameters } from './refiner-parameters.js';

// SDXL calls' parameters written as infotext and read back by the infotext parser: the SDXL keys appear
// only where they carry information, quoted where they hold commas, and come back as written.

const sdxlBase: ResolvedParameters = {
  mode: 'txt2img',
  width: 1024,
  height: 768,
  numInferenceSteps: 40,
  guidanceScale: 5,
  guidanceRescale: 0,
  eta: 0,
  scheduler: 'EulerDiscreteScheduler',
  schedulerConfig: {},
  images: [{ prompt: 'a lion, at night', negativePrompt: 'blurry', seed: 42, batchIndex: 0 }],
  sdxl: {
    originalSize: [768, 1024],
    cropsCoordsTopLeft: [0, 0],
    targetSize: [768, 1024],
    timeIds: { positive: [768, 1024, 0, 0, 768, 1024], negative: [768, 1024, 0, 0, 768, 1024] },
  },
};

const roundTrip = (resolved: ResolvedParameters) =>
  parseGenerationParameters(
    formatGenerationParameters(generationParametersFrom(resolved, { model: 'sdxl' })),
  );

describe('SDXL infotext', () => {
  it('a plain SDXL call writes no SDXL key (the defaults say nothing)', () => {
    expect(generationParametersFrom(sdxlBase).extra).toBeUndefined();
    expect(formatGenerationParameters(generationParametersFrom(sdxlBase))).toBe(
      'a lion, at night\nNegative prompt: blurry\nSteps: 40, Sampler: EulerDiscreteScheduler, CFG scale: 5.0, Seed: 42, Size: 1024x768',
    );
  });

  it('prompt 2, micro-conditioning (WxH, x,y) and the schedule fraction round-trip through the parser', () => {
    const resolved: ResolvedParameters = {
      ...sdxlBase,
      images: [
        { ...sdxlBase.images[0]!, prompt2: 'oil painting, "golden" light', negativePrompt2: 'low quality' },
      ],
      sdxl: {
        ...sdxlBase.sdxl!,
        originalSize: [512, 640],
        targetSize: [1024, 1024],
        cropsCoordsTopLeft: [48, 16],
        negativeOriginalSize: [256, 256],
        negativeTargetSize: [512, 512],
        negativeCropsCoordsTopLeft: [0, 8],
        denoisingEnd: 0.8,
      },
    };
    const parsed = roundTrip(resolved);
    expect(parsed.prompt).toBe('a lion, at night');
    expect(parsed.negativePrompt).toBe('blurry');
    expect(parsed.settings).toEqual({
      Steps: '40',
      Sampler: 'EulerDiscreteScheduler',
      'CFG scale': '5.0',
      Seed: '42',
      Size: '1024x768',
      Model: 'sdxl',
      'Prompt 2': 'oil painting, "golden" light',
      'Negative prompt 2': 'low quality',
      'Original size': '640x512',
      'Target size': '1024x1024',
      'Crop top left': '16,48',
      'Negative original size': '256x256',
      'Negative target size': '512x512',
      'Negative crop top left': '8,0',
      'Denoising end': '0.8',
    });
  });

  it('a refiner call writes its aesthetic scores and denoising start', () => {
    const refiner: ResolvedParameters = {
      ...sdxlBase,
      mode: 'img2img',
      sdxl: { ...sdxlBase.sdxl!, aestheticScore: 6, negativeAestheticScore: 2.5, denoisingStart: 0.8 },
    };
    expect(roundTrip(refiner).settings).toMatchObject({
      'Aesthetic score': '6',
      'Negative aesthetic score': '2.5',
      'Denoising start': '0.8',
    });
  });

  it("base + refiner: the base's settings, A1111's Refiner / Refiner switch at, the refiner's scores; no Denoising end", () => {
    const handOff = { ...sdxlBase, sdxl: { ...sdxlBase.sdxl!, denoisingEnd: 0.75 } };
    const refined: ResolvedParameters = {
      ...sdxlBase,
      mode: 'img2img',
      sdxl: { ...sdxlBase.sdxl!, aestheticScore: 7, negativeAestheticScore: 2.5, denoisingStart: 0.75 },
    };
    const text = formatGenerationParameters(
      refinerGenerationParameters(
        generationParametersFrom(handOff, { model: 'sd_xl_base_1.0' }),
        generationParametersFrom(refined, { model: 'sd_xl_base_1.0' }),
        { name: 'sd_xl_refiner_1.0', switchAt: 0.75 },
      ),
    );
    expect(text).toBe(
      'a lion, at night\nNegative prompt: blurry\nSteps: 40, Sampler: EulerDiscreteScheduler, CFG scale: 5.0, Seed: 42, Size: 1024x768, Model: sd_xl_base_1.0, Aesthetic score: 7, Negative aesthetic score: 2.5, Refiner: sd_xl_refiner_1.0, Refiner switch at: 0.75',
    );
    expect(parseGenerationParameters(text).settings).toMatchObject({
      Refiner: 'sd_xl_refiner_1.0',
      'Refiner switch at': '0.75',
    });
  });

  it('SD 1.x parameters are untouched (no sdxl block)', () => {
    const { sdxl: _, ...sd } = sdxlBase;
    expect(generationParametersFrom(sd).extra).toBeUndefined();
  });
});
