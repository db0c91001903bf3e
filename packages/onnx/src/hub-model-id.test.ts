import { describe, expect, it } from 'vitest';
import { parseHubModelId } from './hub-model-id.js';

describe('parseHubModelId', () => {
  it.each([
    ['onnx-community/sd-turbo', { repo: 'onnx-community/sd-turbo' }],
    ['runwayml/stable-diffusion-v1-5', { repo: 'runwayml/stable-diffusion-v1-5' }],
    ['https://huggingface.co/org/name', { repo: 'org/name' }],
    ['https://huggingface.co/org/name/', { repo: 'org/name' }],
    ['https://huggingface.co/org/name/tree/v1.0', { repo: 'org/name', revision: 'v1.0' }],
    ['https://huggingface.co/org/name/tree/refs%2Fpr%2F3', { repo: 'org/name', revision: 'refs/pr/3' }],
    [
      'https://huggingface.co/org/name/tree/main/onnx',
      { repo: 'org/name', revision: 'main', subfolder: 'onnx' },
    ],
    [
      'https://huggingface.co/org/name/tree/main/a/b/',
      { repo: 'org/name', revision: 'main', subfolder: 'a/b' },
    ],
  ])('%s is a hub repository', (source, expected) => {
    expect(parseHubModelId(source)).toEqual(expected);
  });

  it('reads URLs on another hub (a mirror)', () => {
    expect(parseHubModelId('http://127.0.0.1:9/org/name/tree/dev', 'http://127.0.0.1:9/')).toEqual({
      repo: 'org/name',
      revision: 'dev',
    });
  });

  it.each([
    './model',
    '/models/sd',
    'models',
    'a/b/c',
    'C:\\models\\sd',
    '../x',
    'a--b/c',
    'org/-name',
    'org/name.',
    'https://example.com/org/name',
    'https://huggingface.co/org/name/blob/main/x',
    'https://huggingface.co/org/name/tree/',
  ])('%s is not a hub repository', (source) => {
    expect(parseHubModelId(source)).toBeUndefined();
  });
});
