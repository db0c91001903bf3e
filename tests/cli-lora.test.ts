/**
 * `latentkit generate --lora FILE[:SCALE]` (issue 17) end to end: the real CLI as a child process on the
 * shipped shapes model with a LoRA of tests/fixtures/lora-shapes, its PNG compared with the pipeline run in
 * this process with the LoRA loaded at that scale; `<lora:name:w>` in the CLI prompt sets the weight for the
 * run (the name is the file stem). Bad flags: tests/lora-pipeline.bad-input.test.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBackend, parseGenerationParameters, readPng } from '@latentkit/backend-node';
import { type RgbaImage, StableDiffusionPipeline, TorchGenerator } from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGenerate } from './support/run-node.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const red = join(root, 'tests/fixtures/lora-shapes/red.safetensors');

const cli = runGenerate;

const PROMPT = 'a blue square on a white background';
const SETTINGS = ['--steps', '4', '--guidance', '5', '--seed', '7', '--json'];

describe('latentkit generate --lora', () => {
  let dir: string;
  let pipe: StableDiffusionPipeline;
  const inProcess = async (prompt: string): Promise<RgbaImage> => {
    const { images } = await pipe.generate({
      prompt,
      negativePrompt: '',
      numInferenceSteps: 4,
      guidanceScale: 5,
      generator: new TorchGenerator(7),
    });
    return images[0]!;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latentkit-cli-lora-'));
    pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
  });
  afterAll(async () => {
    await pipe?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('--lora FILE:0.5 gives the pixels of pipe.loadLoraWeights(FILE, { scale: 0.5 }); the summary names it', async () => {
    const out = join(dir, 'half.png');
    const run = await cli([PROMPT, '--lora', `${red}:0.5`, ...SETTINGS, '-o', out]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout) as { adapters: unknown };
    expect(summary.adapters).toEqual({ loras: [{ name: 'red', scale: 0.5, file: red }], embeddings: [] });
    await pipe.loadLoraWeights(red, { scale: 0.5 });
    const expected = await inProcess(PROMPT);
    await pipe.unloadLoraWeights();
    const base = await inProcess(PROMPT);
    const png = await readPng(out);
    expect(Array.from(png.data)).toEqual(Array.from(expected.data));
    expect(Array.from(png.data)).not.toEqual(Array.from(base.data));
  });

  it('<lora:red:0> in the prompt gives the model without the LoRA; the prompt is written as given', async () => {
    const out = join(dir, 'tag.png');
    const prompt = `${PROMPT} <lora:red:0>`;
    const run = await cli([prompt, '--lora', red, ...SETTINGS, '-o', out]);
    expect(run.code, run.stderr).toBe(0);
    const base = await inProcess(PROMPT);
    const png = await readPng(out);
    expect(Array.from(png.data)).toEqual(Array.from(base.data));
    expect(parseGenerationParameters(png.text['parameters']!).prompt).toBe(prompt);
  });
});
