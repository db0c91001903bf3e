import { decodePng, encodePng } from '@latentkit/backend-node';
import { formatInfotext } from '@latentkit/backend-web';
import type { ResolvedParameters } from '@latentkit/core';
import { describe, expect, it } from 'vitest';

// Node's writePng/encodePng and the browser's toPngBlob/formatInfotext write one infotext (one formatter
// in @latentkit/core, the A1111 sampler name from @latentkit/schedulers): the same text for the same
// generate() parameters, the eta included (the browser's former copy left it out).

const base: ResolvedParameters = {
  mode: 'txt2img',
  width: 64,
  height: 48,
  numInferenceSteps: 25,
  guidanceScale: 7,
  guidanceRescale: 0,
  eta: 0,
  scheduler: 'DPMSolverMultistepScheduler',
  schedulerConfig: { use_karras_sigmas: true },
  images: [
    { prompt: 'a red circle, 50mm', negativePrompt: 'blurry', seed: 42, batchIndex: 0 },
    { prompt: '一只猫', seed: 43, batchIndex: 1 },
    { batchIndex: 0 },
  ],
};
const image = { width: 2, height: 1, data: new Uint8ClampedArray([255, 0, 0, 255, 0, 0, 255, 255]) };

describe('one A1111 infotext for Node and the browser', () => {
  it.each([
    ['DPM++ 2M Karras', base],
    [
      'DDIM with eta, img2img, clip skip',
      { ...base, scheduler: 'DDIMScheduler', schedulerConfig: {}, eta: 0.5, strength: 0.75, clipSkip: 2 },
    ],
    [
      'Euler a with guidance rescale',
      {
        ...base,
        scheduler: 'EulerAncestralDiscreteScheduler',
        schedulerConfig: {},
        guidanceRescale: 0.7,
        eta: 1,
      },
    ],
    ['an unnamed scheduler', { ...base, scheduler: 'MyScheduler' }],
  ])('%s', (_what, parameters) => {
    for (let imageIndex = 0; imageIndex < 3; imageIndex++) {
      const web = formatInfotext(parameters as ResolvedParameters, { imageIndex, model: 'shapes' });
      const png = encodePng(image, {
        parameters: parameters as ResolvedParameters,
        imageIndex,
        model: 'shapes',
      });
      expect(decodePng(png).text['parameters']).toBe(web);
    }
  });

  it('writes eta in the browser too (Eta DDIM for DDIM)', () => {
    expect(formatInfotext({ ...base, scheduler: 'DDIMScheduler', schedulerConfig: {}, eta: 0.5 })).toMatch(
      /Sampler: DDIM, .*, Eta DDIM: 0\.5$/,
    );
  });
});
