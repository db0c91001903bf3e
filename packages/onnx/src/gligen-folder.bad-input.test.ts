/**
 * GLIGEN model folders that do not fit together, one row each: a copy of the grounded fixture
 * (tests/fixtures/models/sd-gligen-tiny) or of the plain sd1 fixture with one file changed, loaded with the
 * real onnxruntime-node factory; and the session-level checks with values that no fixture has.
 */
import { fileURLToPath } from 'node:url';
import {
  type LatentkitError,
  ModelInvalidError,
  ModelMismatchError,
  NotImplementedError,
} from '@latentkit/core';
import { describe, expect, it } from 'vitest';
import { checkGroundedSessions, type GroundingFound } from './check-grounding.js';
import { loadOnnxPipeline } from './load-onnx-pipeline.js';
import {
  CountingSessionFactory,
  copyModelFolder,
  editJson,
  folderSource,
} from './test-support/model-copy.js';

const fixture = (name: string) =>
  fileURLToPath(new URL(`../../../tests/fixtures/models/${name}`, import.meta.url));
type ErrorClass = new (...args: never[]) => LatentkitError;

const folderCases: [string, string, (dir: string) => void, ErrorClass, RegExp, 'before' | 'after'][] = [
  [
    'a plain UNet under model_index.json StableDiffusionGLIGENPipeline',
    'sd1',
    (d) => editJson(d, 'model_index.json', { _class_name: 'StableDiffusionGLIGENPipeline' }),
    ModelMismatchError,
    /model_index\.json names StableDiffusionGLIGENPipeline, but unet\/model\.onnx has no grounding inputs \(gligen_\*\)\. Fix: export the UNet with the inputs gligen_boxes/,
    'after',
  ],
  [
    'a plain UNet whose config says "attention_type": "gated"',
    'sd1',
    (d) => editJson(d, 'unet/config.json', { attention_type: 'gated' }),
    ModelMismatchError,
    /unet\/config\.json has "attention_type": "gated", but unet\/model\.onnx has no grounding inputs/,
    'after',
  ],
  [
    'a GLIGEN folder whose UNet config says "attention_type": "default"',
    'sd-gligen-tiny',
    (d) => editJson(d, 'unet/config.json', { attention_type: 'default' }),
    ModelMismatchError,
    /model_index\.json names StableDiffusionGLIGENPipeline, but unet\/config\.json has "attention_type": "default"/,
    'before',
  ],
  [
    '"attention_type": "gated-text-image" (GLIGEN grounded on images)',
    'sd-gligen-tiny',
    (d) => editJson(d, 'unet/config.json', { attention_type: 'gated-text-image' }),
    NotImplementedError,
    /"attention_type": "gated-text-image".*only text-box grounding \("gated"\) is supported/,
    'before',
  ],
  [
    '"attention_type": 3',
    'sd-gligen-tiny',
    (d) => editJson(d, 'unet/config.json', { attention_type: 3 }),
    ModelInvalidError,
    /"attention_type" is 3; expected a string/,
    'before',
  ],
  [
    'model_index.json StableDiffusionGLIGENTextImagePipeline',
    'sd-gligen-tiny',
    (d) => editJson(d, 'model_index.json', { _class_name: 'StableDiffusionGLIGENTextImagePipeline' }),
    NotImplementedError,
    /GLIGEN text-image model \(StableDiffusionGLIGENTextImagePipeline.*only text-box grounding is supported/,
    'before',
  ],
];

describe('loadOnnxPipeline: GLIGEN folders that do not fit together', () => {
  it.each(folderCases)('%s', async (_, base, breakIt, errorClass, message, when) => {
    const copy = copyModelFolder(fixture(base));
    try {
      breakIt(copy.dir);
      const sessions = new CountingSessionFactory();
      const err = await loadOnnxPipeline(folderSource(copy.dir), sessions).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(errorClass);
      expect((err as Error).message).toMatch(message);
      if (when === 'before') expect(sessions.created).toBe(0);
    } finally {
      copy.remove();
    }
  });
});

const found = (change: Partial<GroundingFound>): GroundingFound => ({
  unetFile: 'unet/model.onnx',
  grounding: { maxObjects: 30, embeddingDim: 768 },
  textEncoderLoaded: true,
  textEncoderFile: 'text_encoder/model.onnx',
  hasPooledOutput: true,
  pooledSize: 768,
  pooledFrom: 'text_encoder/model.onnx output pooler_output',
  ...change,
});

describe('checkGroundedSessions: sessions that do not fit together', () => {
  it.each([
    [
      'phrase embeddings 768 wide, pooled output 1024 wide (an SD 2.x text encoder)',
      found({ pooledSize: 1024 }),
      /takes phrase embeddings of width 768 \(gligen_positive_embeddings\), but the text encoder's pooled output is 1024 wide \(text_encoder\/model\.onnx output pooler_output\)/,
    ],
    [
      'a GLIGEN folder whose text encoder has no pooler_output',
      found({ hasPooledOutput: false, pooledSize: undefined }),
      /text_encoder\/model\.onnx has no "pooler_output" output\. Fix: re-export the text encoder with pooler_output/,
    ],
  ])('%s', (_, sessions, message) => {
    const check = () => checkGroundedSessions({ pipeline: true, config: true }, sessions, '/models/x');
    expect(check).toThrow(ModelMismatchError);
    expect(check).toThrow(message);
  });

  it('a grounded UNet without a declared GLIGEN pipeline, no text encoder, or matching widths passes', () => {
    expect(() =>
      checkGroundedSessions({ pipeline: false, config: false }, found({ hasPooledOutput: false }), '/m'),
    ).not.toThrow();
    expect(() =>
      checkGroundedSessions({ pipeline: true, config: true }, found({ textEncoderLoaded: false }), '/m'),
    ).not.toThrow();
    expect(() => checkGroundedSessions({ pipeline: true, config: true }, found({}), '/m')).not.toThrow();
  });
});
