import { fileURLToPath } from 'node:url';
import {
  InvalidArgumentError,
  LatentkitError,
  LimitExceededError,
  ModelMismatchError,
} from '@latentkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectInProcess } from '../test-support/in-process-worker.js';
import { type StaticServer, startStaticServer } from '../test-support/static-server.js';
import type { GenerationWorker, WorkerLayoutCallOptions } from './generation-worker-client.js';

// Bad input to the worker's `layout` request (generateLayout): each is a typed LatentkitError that crosses
// the worker with its class, naming the value, what was expected and the fix. The layout itself (a box
// outside [0, 1], no phrase, more than 30 boxes, …) is refused before any download.

const models = fileURLToPath(new URL('../../../../tests/fixtures/models/', import.meta.url));
type ErrorClass = new (...args: never[]) => Error;
const wasm = { providers: ['wasm' as const], numThreads: 1 };
const box = (i: number): [number, number, number, number] => [0, 0, 0.5 + i / 100, 0.5];

describe('generation worker: bad layout input', () => {
  let server: StaticServer;
  let gen: GenerationWorker;
  let model: string;
  beforeAll(async () => {
    server = await startStaticServer({ '/models/': models });
    gen = connectInProcess();
    model = `${server.origin}/models/sd-gligen-tiny/`;
  });
  afterAll(async () => {
    await gen.dispose();
    await server.close();
  });

  const base = (): WorkerLayoutCallOptions => ({
    model,
    layout: [
      { phrase: 'a red circle', box: [0.05, 0.05, 0.45, 0.45] },
      { phrase: 'a blue square', box: [0.55, 0.55, 0.95, 0.95] },
    ],
    prompt: 'on a white background',
    numInferenceSteps: 2,
    loadOptions: wasm,
  });
  const withObject = (object: unknown) => ({
    ...base(),
    layout: [{ phrase: 'a red circle', box: [0.05, 0.05, 0.45, 0.45] }, object],
  });

  // Refused before any download: the worker fetches nothing.
  const early: {
    name: string;
    options: () => unknown;
    error?: ErrorClass;
    message: RegExp;
  }[] = [
    {
      name: 'no model',
      options: () => ({ ...base(), model: undefined }),
      message: /^layout model = undefined/,
    },
    {
      name: 'empty model URL',
      options: () => ({ ...base(), model: '' }),
      message: /^layout model = "" .*grounded model folder/,
    },
    {
      name: 'model URL not http(s)',
      options: () => ({ ...base(), model: 'ftp://host/m/' }),
      message: /model URL/,
    },
    {
      name: 'no layout',
      options: () => ({ ...base(), layout: undefined }),
      message: /^layout = undefined.*phrase, box/,
    },
    {
      name: 'layout a single object, not an array',
      options: () => ({ ...base(), layout: { phrase: 'a red circle', box: [0, 0, 1, 1] } }),
      message: /^layout = .*an array of \{ phrase, box \}/,
    },
    {
      name: 'no boxes (empty layout)',
      options: () => ({ ...base(), layout: [] }),
      message: /^layout = \[\].*at least one object/,
    },
    {
      name: '31 boxes',
      options: () => ({
        ...base(),
        layout: Array.from({ length: 31 }, (_, i) => ({ phrase: `shape ${i}`, box: box(i) })),
      }),
      error: LimitExceededError,
      message: /^layout count = 31 .*at most 30 objects.*Fix: /,
    },
    {
      name: 'an object that is null',
      options: () => withObject(null),
      message: /^layout\[1\] = null .*\{ phrase, box \}/,
    },
    {
      name: 'an object with an unknown key',
      options: () => withObject({ phrase: 'a blue square', box: [0.5, 0.5, 1, 1], label: 'x' }),
      message: /^layout\[1\] key "label" = "x" .*only the keys phrase and box/,
    },
    {
      name: 'a box with no phrase',
      options: () => withObject({ box: [0.5, 0.5, 1, 1] }),
      message: /^layout\[1\]\.phrase = undefined .*non-empty string/,
    },
    {
      name: 'an empty phrase',
      options: () => withObject({ phrase: '', box: [0.5, 0.5, 1, 1] }),
      message: /^layout\[1\]\.phrase = "" /,
    },
    {
      name: 'a phrase of spaces',
      options: () => withObject({ phrase: '   ', box: [0.5, 0.5, 1, 1] }),
      message: /^layout\[1\]\.phrase = " {3}" /,
    },
    {
      name: 'a phrase that is a number',
      options: () => withObject({ phrase: 7, box: [0.5, 0.5, 1, 1] }),
      message: /^layout\[1\]\.phrase = 7 /,
    },
    {
      name: 'a box past the right edge (x1 = 1.2)',
      options: () => withObject({ phrase: 'a blue square', box: [0.5, 0, 1.2, 1] }),
      message: /^layout\[1\]\.box = \[0\.5, 0, 1\.2, 1\] .*0 ≤ x0 < x1 ≤ 1/,
    },
    {
      name: 'a box above the top (y0 = -0.1)',
      options: () => withObject({ phrase: 'a blue square', box: [0.5, -0.1, 1, 1] }),
      message: /^layout\[1\]\.box = \[0\.5, -0\.1, 1, 1\] /,
    },
    {
      name: 'a box in pixels',
      options: () => withObject({ phrase: 'a blue square', box: [10, 10, 40, 40] }),
      message: /^layout\[1\]\.box = \[10, 10, 40, 40\] .*pixels are divided by the width and height/,
    },
    {
      name: 'a box with its corners swapped (x0 > x1)',
      options: () => withObject({ phrase: 'a blue square', box: [0.9, 0.5, 0.5, 1] }),
      message: /^layout\[1\]\.box = \[0\.9, 0\.5, 0\.5, 1\] .*positive size/,
    },
    {
      name: 'a box of zero height (y0 = y1)',
      options: () => withObject({ phrase: 'a blue square', box: [0.5, 0.5, 1, 0.5] }),
      message: /^layout\[1\]\.box = \[0\.5, 0\.5, 1, 0\.5\] /,
    },
    {
      name: 'a box of 3 numbers',
      options: () => withObject({ phrase: 'a blue square', box: [0.5, 0.5, 1] }),
      message: /^layout\[1\]\.box = \[0\.5, 0\.5, 1\] .*4 finite numbers/,
    },
    {
      name: 'a box with NaN',
      options: () => withObject({ phrase: 'a blue square', box: [0.5, Number.NaN, 1, 1] }),
      message: /^layout\[1\]\.box = \[0\.5, NaN, 1, 1\] .*finite/,
    },
    {
      name: 'a box as a string',
      options: () => withObject({ phrase: 'a blue square', box: '0.5,0.5,1,1' }),
      message: /^layout\[1\]\.box = "0\.5,0\.5,1,1" /,
    },
    {
      name: "diffusers' gligenPhrases instead of layout",
      options: () => ({ ...base(), gligenPhrases: ['a red circle'] }),
      message: /^layout request key "gligenPhrases" .*layout: \[\{ phrase, box \}/,
    },
    {
      name: 'a phrase that is a function (postMessage cannot copy it)',
      options: () => withObject({ phrase: () => 'a blue square', box: [0.5, 0.5, 1, 1] }),
      message: /^layout options = .*could not be cloned.*postMessage can copy/,
    },
    {
      name: 'vaeTiling a string',
      options: () => ({ ...base(), vaeTiling: 'yes' }),
      message: /^layout vaeTiling = "yes"/,
    },
    {
      name: 'loadOptions.vaeTiling an array',
      options: () => ({ ...base(), loadOptions: { ...wasm, vaeTiling: [256] } }),
      message: /^layout loadOptions\.vaeTiling = /,
    },
  ];
  for (const row of early) {
    it(`generateLayout: ${row.name} → ${(row.error ?? InvalidArgumentError).name} before any download`, async () => {
      const before = server.requests.length;
      const err = await gen.generateLayout(row.options() as WorkerLayoutCallOptions).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(row.error ?? InvalidArgumentError);
      expect((err as Error).message).toMatch(row.message);
      expect((err as Error).message).toMatch(/Fix: /);
      expect(server.requests.length).toBe(before);
    });
  }

  // Refused by the grounded pipeline (once loaded) before it runs: its own checks, through the worker.
  const late: {
    name: string;
    options: () => unknown;
    error: ErrorClass;
    message: RegExp;
  }[] = [
    {
      name: 'gligenScheduledSamplingBeta 1.5',
      options: () => ({ ...base(), gligenScheduledSamplingBeta: 1.5 }),
      error: InvalidArgumentError,
      message: /gligenScheduledSamplingBeta = 1\.5/,
    },
    {
      name: 'snake_case option',
      options: () => ({ ...base(), gligen_scheduled_sampling_beta: 0.3 }),
      error: InvalidArgumentError,
      message: /"gligen_scheduled_sampling_beta".*did you mean gligenScheduledSamplingBeta/,
    },
    {
      name: 'numInferenceSteps 0',
      options: () => ({ ...base(), numInferenceSteps: 0 }),
      error: InvalidArgumentError,
      message: /numInferenceSteps = 0/,
    },
    {
      name: 'a grounded-model file over maxFileBytes',
      options: () => ({ ...base(), loadOptions: { ...wasm, maxFileBytes: 10 } }),
      error: LimitExceededError,
      message: /maxFileBytes = 10/,
    },
  ];
  for (const row of late) {
    it(`generateLayout: ${row.name} → ${row.error.name}`, async () => {
      const err = await gen.generateLayout(row.options() as WorkerLayoutCallOptions).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(row.error);
      expect((err as Error).message).toMatch(row.message);
    }, 60_000);
  }

  it('generateLayout: a text-to-image model as the grounded model → ModelMismatchError', async () => {
    const err = await gen
      .generateLayout({ ...base(), model: `${server.origin}/models/sd1/` })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelMismatchError);
    expect((err as Error).message).toMatch(/is not a grounded \(GLIGEN\) model.*Fix: /);
  }, 60_000);

  it('generateLayout: an x4 upscaler as the grounded model → ModelMismatchError naming the upscaler', async () => {
    const err = await gen
      .generateLayout({ ...base(), model: `${server.origin}/models/sd-x4-upscaler/` })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelMismatchError);
    expect((err as Error).message).toMatch(/it is an x4 upscaler/);
  }, 60_000);

  it('generateLayout: a model URL with nothing there → a typed LatentkitError naming the URL', async () => {
    const err = await gen
      .generateLayout({ ...base(), model: `${server.origin}/models/no-such-layout-model/` })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LatentkitError);
    expect((err as Error).message).toContain('no-such-layout-model');
  }, 60_000);

  it('generateLayout: after all of the above, a good layout still runs', async () => {
    const out = await gen.generateLayout(base());
    expect([out.images[0]?.width, out.images[0]?.height]).toEqual([64, 64]);
  }, 60_000);
});
