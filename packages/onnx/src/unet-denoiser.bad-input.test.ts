import { InvalidArgumentError, ModelInvalidError } from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { fakeFactory, fakeSession, memorySource } from './test-support/fake-session.js';
import { UnetDenoiser, unetSizeMultiple } from './unet-denoiser.js';

describe('unet/config.json block_out_channels that give no size multiple', () => {
  it.each([
    ['a number', 320],
    ['an empty list', []],
    ['a list with a string', [320, '640']],
    ['a list with 0', [320, 0]],
    ['a list with a fraction', [320, 640.5]],
    ['9 levels (2^8 = a 256× down-sampling)', [1, 2, 3, 4, 5, 6, 7, 8, 9]],
  ])('%s', (_, blocks) => {
    expect(() => unetSizeMultiple({ block_out_channels: blocks })).toThrow(ModelInvalidError);
    expect(() => unetSizeMultiple({ block_out_channels: blocks })).toThrow(/block_out_channels/);
  });
});

describe('UnetDenoiser sizeMultiple option', () => {
  const session = fakeSession(
    [
      ['sample', 'float32', ['batch', 4, 'h', 'w']],
      ['timestep', 'float32', ['batch']],
      ['encoder_hidden_states', 'float32', ['batch', 'seq', 8]],
    ],
    [['out_sample', 'float32', ['batch', 4, 'h', 'w']]],
    (feeds) => ({ out_sample: feeds['sample']! }),
  );
  const request = { component: 'unet', modelPath: 'unet/model.onnx', source: memorySource({}) };
  it.each([0, -2, 1.5, Number.NaN])('%s', (sizeMultiple) => {
    expect(() => new UnetDenoiser(session, fakeFactory({}), { request, sizeMultiple })).toThrow(
      InvalidArgumentError,
    );
  });
});
