/**
 * The shipped model's pink adapters (issue 17 item 4; packages/model-shapes/adapters, trained by
 * tools/shapes-adapters/): the files are what the model card says, they load through the public API onto
 * the shipped model, and they make it draw pink. 24 pink prompts (`makeConceptPrompts`, one per shape ×
 * background) × seed 0 at the model's recommended steps and the adapters' recommended guidance (adapters.json: 3),
 * judged with pink added to the judge's palette. The full evaluation (48 prompts × 4 seeds, and the base
 * vocabulary with the LoRA at scale 1 vs 0) is `npm run eval:adapters`.
 *
 * Seeds are fixed, so on one machine the result is deterministic; onnxruntime's kernels may round
 * differently on other CPUs, so the guards sit a few images below what this subset measures (MEASURED).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { nodeBackend } from '@latentkit/backend-node';
import { StableDiffusionPipeline } from '@latentkit/core';
import { shapesAdapterFiles, shapesAdaptersPath, shapesModelPath } from '@latentkit/model-shapes';
import { parseSafetensors } from '@latentkit/onnx';
import { describe, expect, it } from 'vitest';
import {
  accuracy,
  conceptAccuracy,
  evaluateAdherence,
  formatFailures,
  makeConceptPrompts,
  parseShapesWorld,
  recommendedSampling,
  type ShapePrompt,
  withExtraColors,
} from '../packages/model-shapes/src/evaluation/index.js';
import { decodeFixtureImage } from '../packages/model-shapes/src/test-support/fixture-image.js';

// Pink + shape right out of 24 on this machine (see the model card for the full evaluation), and the guards.
// Issue 17's target (≥ 80 % with the adapter): eval:adapters measures the LoRA at 85.4 % (guidance 3, seeds 0–3)
// and the embedding far below it (34.4 %); these guards hold what the shipped files do.
const MEASURED = { bare: '0/24', lora: '20/24', tokenBare: '0/24', embedding: '7/24' };
const MAX_BARE = 2 / 24;
const MIN_LORA = 17 / 24;
const MIN_EMBEDDING = 5 / 24;

const manifest = JSON.parse(readFileSync(join(shapesAdaptersPath, 'adapters.json'), 'utf8')) as {
  pink: {
    rgb: [number, number, number];
    lora: string;
    embedding: string;
    embedding_token: string;
    lora_prompt_word: string;
    recommended: { guidance_scale: number };
  };
};
const world = parseShapesWorld(JSON.parse(readFileSync(join(shapesModelPath, 'heldout.json'), 'utf8')));
const pinkWorld = withExtraColors(world, { pink: manifest.pink.rgb });
const settings = recommendedSampling(world);

describe('the shipped pink adapters: files', () => {
  it('lists exactly the files of the adapters folder', () => {
    expect([...shapesAdapterFiles].sort()).toEqual(
      readdirSync(shapesAdaptersPath)
        .filter((f) => !f.startsWith('.'))
        .sort(),
    );
    expect([manifest.pink.lora, manifest.pink.embedding].every((f) => shapesAdapterFiles.includes(f))).toBe(
      true,
    );
  });

  it('ships a tiny kohya LoRA: rank 4 on q/k/v/o of 7 UNet transformer blocks (attn1, attn2) and 3 text-encoder layers, rank 8 on the 16 ResNet convs (LoCon)', () => {
    const bytes = readFileSync(join(shapesAdaptersPath, manifest.pink.lora));
    expect(bytes.length).toBeLessThan(512 * 1024);
    const { tensors, metadata } = parseSafetensors(new Uint8Array(bytes), manifest.pink.lora);
    const layers = [...tensors.keys()]
      .filter((k) => k.endsWith('.lora_down.weight'))
      .map((k) => k.slice(0, -'.lora_down.weight'.length));
    expect(layers.filter((k) => k.startsWith('lora_unet_'))).toHaveLength(72);
    expect(layers.filter((k) => k.startsWith('lora_te_'))).toHaveLength(12);
    expect(layers).toContain('lora_unet_down_0_att_0_attn2_k');
    expect(layers).toContain('lora_unet_mid_att_attn1_q');
    expect(layers).toContain('lora_te_layers_2_o');
    const convs = layers.filter((k) => /_conv[12]$/.test(k));
    expect(convs).toHaveLength(16);
    expect(convs).toContain('lora_unet_mid_res1_conv2');
    // LoCon: down is a 3×3 conv [rank, in, 3, 3], up a 1×1 conv [out, rank, 1, 1].
    expect(tensors.get('lora_unet_up_0_res_1_conv1.lora_down.weight')!.shape).toEqual([8, 96, 3, 3]);
    expect(tensors.get('lora_unet_up_0_res_1_conv1.lora_up.weight')!.shape).toEqual([64, 8, 1, 1]);
    for (const k of layers) {
      const rank = convs.includes(k) ? 8 : 4;
      expect(tensors.get(`${k}.lora_down.weight`)!.shape[0]).toBe(rank);
      expect(tensors.get(`${k}.lora_up.weight`)!.shape[1]).toBe(rank);
      expect(tensors.get(`${k}.alpha`)!.data).toEqual(new Float32Array([rank])); // a scalar: alpha = rank
    }
    expect(tensors.size).toBe(3 * 84);
    expect(metadata.format).toBe('kohya');
  });

  it('ships a one-vector diffusers embedding of <pink> for the 64-wide text encoder', () => {
    const bytes = readFileSync(join(shapesAdaptersPath, manifest.pink.embedding));
    const { tensors } = parseSafetensors(new Uint8Array(bytes), manifest.pink.embedding);
    expect([...tensors.keys()]).toEqual([manifest.pink.embedding_token]);
    expect(tensors.get('<pink>')!.shape).toEqual([1, 64]);
    expect(statSync(join(shapesAdaptersPath, manifest.pink.embedding)).size).toBeLessThan(1024);
  });
});

describe('the shipped pink adapters on the shipped model', () => {
  const pinkPrompts = makeConceptPrompts(pinkWorld, 'pink', {
    word: manifest.pink.lora_prompt_word,
    repeats: 1,
  });
  const tokenPrompts = makeConceptPrompts(pinkWorld, 'pink', {
    word: manifest.pink.embedding_token,
    repeats: 1,
  });
  const judge = async (pipe: StableDiffusionPipeline, prompts: ShapePrompt[]) => {
    const result = await evaluateAdherence(pipe, {
      world: pinkWorld,
      prompts,
      seeds: [0],
      numInferenceSteps: settings.numInferenceSteps,
      guidanceScale: manifest.pink.recommended.guidance_scale, // the adapters' recommendation (3), not the model's 5
    });
    return { rate: accuracy(conceptAccuracy(result.cases)), report: formatFailures(result.cases, 24) };
  };

  it(`draws pink shapes with the LoRA (≥ ${Math.round(MIN_LORA * 24)}/24, measured ${MEASURED.lora}) and with the embedding (≥ ${Math.round(MIN_EMBEDDING * 24)}/24, measured ${MEASURED.embedding}), not without (≤ ${Math.round(MAX_BARE * 24)}/24, measured ${MEASURED.bare} and ${MEASURED.tokenBare})`, async () => {
    const pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
    try {
      const bare = await judge(pipe, pinkPrompts);
      const tokenBare = await judge(pipe, tokenPrompts);
      const lora = await pipe.loadLoraWeights(join(shapesAdaptersPath, manifest.pink.lora));
      expect(lora).toMatchObject({
        name: 'pink-lora',
        format: 'kohya',
        targets: { unet: 72, text_encoder: 12 },
      });
      const withLora = await judge(pipe, pinkPrompts);
      await pipe.unloadLoraWeights();
      const emb = await pipe.loadTextualInversion(join(shapesAdaptersPath, manifest.pink.embedding));
      expect(emb).toMatchObject({ token: '<pink>', tokens: ['<pink>'], format: 'diffusers' });
      const withEmbedding = await judge(pipe, tokenPrompts);
      expect(bare.rate, bare.report).toBeLessThanOrEqual(MAX_BARE);
      expect(tokenBare.rate, tokenBare.report).toBeLessThanOrEqual(MAX_BARE);
      expect(withLora.rate, withLora.report).toBeGreaterThanOrEqual(MIN_LORA);
      expect(withEmbedding.rate, withEmbedding.report).toBeGreaterThanOrEqual(MIN_EMBEDDING);
    } finally {
      await pipe.dispose();
    }
  });
});

// torch's images of the same model with the LoRA merged into its weights / the embedding appended to its token
// table (tools/shapes-adapters/reference_images.py: evaluate.py's DDIM + CFG, same initial noise). Measured on
// this machine: 0 levels of difference on all three; the tolerance allows another CPU's rounding.
const reference = JSON.parse(
  readFileSync(
    new URL('../packages/model-shapes/test-fixtures/adapters-reference.json', import.meta.url),
    'utf8',
  ),
) as {
  steps: number;
  guidance: number;
  seed: number;
  cases: {
    adapter: 'bare' | 'lora' | 'embedding';
    prompt: string;
    width: number;
    height: number;
    rgb: string;
  }[];
};
const MAX_LEVELS = 3;

describe('the shipped pink adapters match torch', () => {
  it(`gives torch's pixels (within ${MAX_LEVELS} of 255 levels) without an adapter, with the LoRA merged and with the embedding`, async () => {
    const pipe = await StableDiffusionPipeline.fromPretrained(shapesModelPath, { backend: nodeBackend });
    try {
      const errors: Record<string, number> = {};
      for (const c of reference.cases) {
        if (c.adapter === 'lora') await pipe.loadLoraWeights(join(shapesAdaptersPath, manifest.pink.lora));
        if (c.adapter === 'embedding') {
          await pipe.unloadLoraWeights();
          await pipe.loadTextualInversion(join(shapesAdaptersPath, manifest.pink.embedding));
        }
        const { images } = await pipe.generate({
          prompt: c.prompt,
          seed: reference.seed,
          numInferenceSteps: reference.steps,
          guidanceScale: reference.guidance,
          width: c.width,
          height: c.height,
        });
        const torch = decodeFixtureImage(c).data;
        const image = images[0]!;
        let max = 0;
        for (let i = 0; i < torch.length; i++) max = Math.max(max, Math.abs(image.data[i]! - torch[i]!));
        errors[c.adapter] = max;
      }
      expect(Object.keys(errors)).toEqual(['bare', 'lora', 'embedding']);
      for (const [adapter, max] of Object.entries(errors))
        expect(max, adapter).toBeLessThanOrEqual(MAX_LEVELS);
    } finally {
      await pipe.dispose();
    }
  });
});
