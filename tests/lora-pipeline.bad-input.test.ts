/**
 * Bad input to the LoRA API, the `<lora:…>` prompt tags and the CLI's `--lora` / `--embedding` flags, on the
 * real shipped shapes model (onnxruntime-node): each a typed error naming the value, what was expected and
 * the fix — and after each, the adapters and the images are as they were.
 */

import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBackend } from '@latentkit/backend-node';
import {
  DownloadFailedError,
  InvalidArgumentError,
  type LatentkitError,
  ModelInvalidError,
  ModelMismatchError,
  ModelNotFoundError,
  NonFiniteOutputError,
  NotImplementedError,
  StableDiffusionPipeline,
} from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../packages/backend-node/src/cli/cli-error.js';
import { checkLoraFlags, parseEmbedding, parseLora } from '../packages/backend-node/src/cli/lora-flags.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const red = here('./fixtures/lora-shapes/red.safetensors');
const blue = here('./fixtures/lora-shapes/blue.safetensors');
const otherModelLora = here('./fixtures/lora/peft.safetensors');
const call = { prompt: 'a red circle', seed: 3, numInferenceSteps: 2, outputType: 'tensor' } as const;

type ErrorClass = new (...args: never[]) => LatentkitError;

async function thrownBy(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (e) {
    return e;
  }
  return undefined;
}

let pipe: StableDiffusionPipeline;
let server: Server;
let baseUrl: string;
let base: number[];

beforeAll(async () => {
  pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
  await pipe.loadLoraWeights(red, { scale: 0 }); // loaded, scale 0: the images are the model's own
  base = Array.from((await pipe.generate(call)).images.data);
  server = createServer((req, res) => {
    if (req.url === '/red.safetensors') res.end(readFileSync(red));
    else {
      res.statusCode = 404;
      res.end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await pipe?.dispose();
  await new Promise((resolve) => server?.close(resolve));
});

// One row per bad call: [what it is, the call, error class, message pattern].
const cases: [string, () => unknown, ErrorClass, RegExp][] = [
  [
    'a second adapter with the same name',
    () => pipe.loadLoraWeights(red),
    InvalidArgumentError,
    /adapterName = "red" is invalid: expected a name that is not loaded yet \(loaded: red\)\. Fix: pass another adapterName, or call pipe\.unloadLoraWeights\(\)/,
  ],
  [
    'an adapter name with ":"',
    () => pipe.loadLoraWeights(blue, { adapterName: 'a:b' }),
    InvalidArgumentError,
    /adapterName = "a:b" is invalid: expected a non-empty name without "<", ">", ":"/,
  ],
  [
    'an empty adapter name',
    () => pipe.loadLoraWeights(blue, { adapterName: '' }),
    InvalidArgumentError,
    /adapterName = "" is invalid/,
  ],
  [
    'scale NaN',
    () => pipe.loadLoraWeights(blue, { scale: Number.NaN }),
    InvalidArgumentError,
    /scale = NaN is invalid: expected a finite number \(the LoRA weight/,
  ],
  [
    'scale Infinity',
    () => pipe.loadLoraWeights(blue, { scale: Number.POSITIVE_INFINITY }),
    InvalidArgumentError,
    /scale = Infinity is invalid/,
  ],
  [
    'scale as a string',
    () => pipe.loadLoraWeights(blue, { scale: '0.5' as unknown as number }),
    InvalidArgumentError,
    /scale = "0\.5" is invalid/,
  ],
  [
    'a file that does not exist',
    () => pipe.loadLoraWeights(here('./fixtures/lora-shapes/nope.safetensors')),
    ModelNotFoundError,
    /The adapter file .*nope\.safetensors does not exist.*Fix: pass the path of a \.safetensors/,
  ],
  [
    'a folder',
    () => pipe.loadLoraWeights(here('./fixtures/lora-shapes')),
    ModelNotFoundError,
    /is not a file/,
  ],
  [
    'a number as the source',
    () => pipe.loadLoraWeights(42 as unknown as string),
    InvalidArgumentError,
    /source = 42 is invalid: expected a file path, a URL or the file bytes/,
  ],
  ['an empty path', () => pipe.loadLoraWeights(''), InvalidArgumentError, /source = "" is invalid/],
  [
    'a file that is not safetensors',
    () => pipe.loadLoraWeights(join(shapesModelPath, 'model_index.json')),
    ModelInvalidError,
    /could not be read as a safetensors file/,
  ],
  [
    'bytes that are not safetensors',
    () => pipe.loadLoraWeights(new Uint8Array([1, 2, 3])),
    ModelInvalidError,
    /fewer than the 8-byte header length/,
  ],
  [
    'a LoRA for another model',
    () => pipe.loadLoraWeights(otherModelLora),
    ModelMismatchError,
    /none of its .* LoRA layers is in this model.*Fix: use a LoRA trained for this model's base/,
  ],
  [
    'a URL with a user name and password (never shown)',
    () => pipe.loadLoraWeights(`${baseUrl.replace('//', '//me:hunter2@')}/other.safetensors`),
    InvalidArgumentError,
    /^adapter URL = "http:\/\/…@127\.0\.0\.1:\d+\/other\.safetensors" is invalid: expected an http\(s\) URL without user name or password(?![\s\S]*hunter2)/,
  ],
  [
    'a URL that answers 404',
    () => pipe.loadLoraWeights(`${baseUrl}/missing.safetensors`),
    DownloadFailedError,
    /HTTP 404.*Fix: check the URL/,
  ],
  [
    'a scale that overflows the merged weights',
    () => pipe.setAdapters('red', 1e39),
    NonFiniteOutputError,
    /Merging the LoRA adapters red × 1e\+39 .* gives (-)?Infinity.*Fix: use smaller scales/,
  ],
  [
    'setAdapters: an adapter that is not loaded',
    () => pipe.setAdapters(['red', 'pink']),
    InvalidArgumentError,
    /names\[1\] = "pink" is invalid: expected the name of a loaded LoRA adapter \(loaded: red\)/,
  ],
  [
    'setAdapters: a name twice',
    () => pipe.setAdapters(['red', 'red'], [1, 0.5]),
    InvalidArgumentError,
    /names\[1\] = "red" is invalid: expected each adapter named once/,
  ],
  [
    'setAdapters: fewer scales than names',
    () => pipe.setAdapters(['red'], []),
    InvalidArgumentError,
    /scales = \[\] is invalid: expected 1 scale, one per name/,
  ],
  [
    'setAdapters: a scale NaN',
    () => pipe.setAdapters(['red'], [Number.NaN]),
    InvalidArgumentError,
    /scales\[0\] = NaN is invalid: expected a finite number/,
  ],
  [
    'setAdapters: names not a list',
    () => pipe.setAdapters(7 as unknown as string),
    InvalidArgumentError,
    /names = 7 is invalid: expected an adapter name or a list of them/,
  ],
  [
    'generate: a tag naming an adapter that is not loaded',
    () => pipe.generate({ ...call, prompt: 'a red circle <lora:pink:1>' }),
    InvalidArgumentError,
    /"<lora:pink>" is invalid: expected the name of a loaded LoRA adapter \(loaded: red\).*--lora pink\.safetensors/,
  ],
  [
    'generate: a tag in the negative prompt with a bad weight',
    () => pipe.generate({ ...call, negativePrompt: '<lora:red:lots>', guidanceScale: 5 }),
    InvalidArgumentError,
    /weight after 'red:' \(got "lots"\)/,
  ],
  [
    'generate: two weights for one adapter',
    () => pipe.generate({ ...call, prompt: ['<lora:red:1> a', '<lora:red:0.5> b'] }),
    InvalidArgumentError,
    /one weight per adapter in a call/,
  ],
  [
    'loadTextualInversion: a LoRA file',
    () => pipe.loadTextualInversion(red),
    ModelInvalidError,
    /red\.safetensors/,
  ],
];

describe('LoRA API on the shipped model: bad input is a typed error, and nothing changes', () => {
  it.each(cases)('%s', async (_what, run, error, message) => {
    const thrown = await thrownBy(run);
    expect(thrown).toBeInstanceOf(error);
    expect((thrown as Error).message).toMatch(message);
    expect(pipe.loras.map((l) => [l.name, l.scale])).toEqual([['red', 0]]);
  });

  it('after all of them the images are the model’s own', async () => {
    expect(Array.from((await pipe.generate(call)).images.data)).toEqual(base);
  });
});

describe('a pipeline built from parts without adapters', () => {
  let handMade: StableDiffusionPipeline;
  beforeAll(async () => {
    const { adapters: _dropped, ...parts } = await nodeBackend.load(shapesModelPath);
    handMade = new StableDiffusionPipeline(parts);
  });
  afterAll(async () => {
    await handMade?.dispose();
  });

  it.each([
    ['loadLoraWeights', () => handMade.loadLoraWeights(red)],
    ['setAdapters', () => handMade.setAdapters('red')],
    ['unloadLoraWeights', () => handMade.unloadLoraWeights()],
    ['loadTextualInversion', () => handMade.loadTextualInversion(red)],
  ] as const)('%s → NotImplementedError saying why and the fix', async (method, run) => {
    const thrown = await thrownBy(run);
    expect(thrown).toBeInstanceOf(NotImplementedError);
    expect((thrown as Error).message).toMatch(
      new RegExp(
        `${method}\\(\\) needs a pipeline loaded with fromPretrained.*Fix: load the model with StableDiffusionPipeline\\.fromPretrained`,
      ),
    );
    expect(handMade.loras).toEqual([]);
  });

  it('a <lora:…> tag → InvalidArgumentError (none is loaded)', async () => {
    const thrown = await thrownBy(() => handMade.generate({ ...call, prompt: 'x <lora:red>' }));
    expect(thrown).toBeInstanceOf(InvalidArgumentError);
    expect((thrown as Error).message).toMatch(/none is loaded/);
  });
});

describe('CLI --lora / --embedding', () => {
  it.each([
    ['--lora with an empty file name', () => parseLora(':0.5', undefined), /the LoRA file name is empty/],
    [
      '--lora with a scale that overflows',
      () => parseLora('a.safetensors:1e999', undefined),
      /the scale 1e999 is not a finite number/,
    ],
    [
      '--embedding with an empty token',
      () => parseEmbedding('pink.safetensors:', undefined),
      /the token after "pink\.safetensors:" is empty/,
    ],
    [
      '--embedding with an empty file name',
      () => parseEmbedding('', undefined),
      /the embedding file name is empty/,
    ],
  ])('%s', (_what, run, message) => {
    expect(run).toThrow(message);
  });

  it.each([
    [
      '--lora FILE that does not exist',
      { lora: [{ file: 'nope.safetensors', scale: 1 }] },
      /--lora nope\.safetensors: no such file/,
    ],
    [
      '--embedding FILE that does not exist',
      { embedding: [{ file: 'nope.safetensors' }] },
      /--embedding nope\.safetensors: no such file/,
    ],
    [
      'two --lora files with one name',
      {
        lora: [
          { file: red, scale: 1 },
          { file: here('./fixtures/lora-shapes/../lora-shapes/red.safetensors'), scale: 0.5 },
        ],
      },
      /have the same adapter name "red".*Fix: rename one of the files/,
    ],
  ])('%s → UsageError before the model loads', async (_what, flags, message) => {
    const thrown = await thrownBy(() => checkLoraFlags(flags));
    expect(thrown).toBeInstanceOf(UsageError);
    expect((thrown as Error).message).toMatch(message);
  });
});
