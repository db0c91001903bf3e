/**
 * Custom conditioning modules: two `PromptEncoder`s that wrap the model's own CLIP encoder.
 *
 * - `BlendPromptEncoder` blends prompts: `"a red circle on a blue background @0.7 | a green square on a white
 *   background @0.3"` conditions on 0.7 × the first prompt's embedding + 0.3 × the second's.
 * - `StylePromptEncoder` adds a fixed style embedding to every prompt (the way a textual-inversion
 *   embedding or a learned style vector would be applied).
 *
 *   npx tsx examples/custom-conditioning.ts [OUT_DIR]
 *
 * Writes OUT_DIR/blend-0.png, blend-50.png, blend-100.png (0 %, 50 %, 100 % of the second prompt) and
 * OUT_DIR/style.png (default examples/out/, or $LATENTKIT_EXAMPLES_OUT). Guide: docs/custom-conditioning.md.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBackend, writePng } from '@latentkit/backend-node';
import {
  type Conditioning,
  InvalidArgumentError,
  type PromptEncodeOptions,
  type PromptEncoder,
  StableDiffusionPipeline,
  Tensor,
} from '@latentkit/core';
import { shapesModelPath } from '@latentkit/model-shapes';

/** One part of a blended prompt: its text and its share of the blend. */
interface BlendPart {
  text: string;
  weight: number;
}

/**
 * Parses `"A @0.7 | B @0.3"` into parts whose weights sum to 1. Parts without `@w` weigh 1 before the
 * weights are normalised, so `"A | B"` is an even blend; a prompt without `|` is one part of weight 1.
 */
function parseBlend(prompt: string): BlendPart[] {
  const parts = prompt.split('|').map((part) => {
    const match = /^(.*?)\s*@\s*([-+.\d]+)\s*$/s.exec(part);
    const text = (match ? match[1]! : part).trim();
    const weight = match ? Number(match[2]) : 1;
    if (!Number.isFinite(weight) || weight < 0) {
      throw new InvalidArgumentError({
        name: 'blend weight',
        value: match?.[2],
        expected: 'a number ≥ 0, as in "a red circle @0.7 | a blue square @0.3"',
      });
    }
    return { text, weight };
  });
  const total = parts.reduce((sum, p) => sum + p.weight, 0);
  if (total === 0) {
    throw new InvalidArgumentError({
      name: 'blend weights',
      value: prompt,
      expected: 'weights that are not all 0',
    });
  }
  return parts.map((p) => ({ text: p.text, weight: p.weight / total }));
}

/**
 * A conditioning module that blends prompts. It asks the model's encoder for every distinct part in one
 * batch, then mixes each prompt's parts row by row. Prompts without `|` (such as the empty negative prompt
 * the pipeline adds for classifier-free guidance) come out exactly as the inner encoder made them.
 */
export class BlendPromptEncoder implements PromptEncoder {
  constructor(private readonly inner: PromptEncoder) {}

  async encode(prompts: string[], options?: PromptEncodeOptions): Promise<Conditioning> {
    const blends = prompts.map(parseBlend);
    const texts = [...new Set(blends.flat().map((part) => part.text))];
    // One call: the ONNX encoder pads every prompt of a batch to the same length (77 tokens, or more
    // for long prompts), so all rows have the same shape and can be added.
    const { encoderHiddenStates: encoded } = await this.inner.encode(texts, options);
    const rows = blends.map((parts) => {
      let mixed: Tensor | undefined;
      for (const { text, weight } of parts) {
        const i = texts.indexOf(text);
        const row = encoded.slice(i, i + 1); // [1, tokens, D]
        const scaled = parts.length === 1 ? row : row.mul(weight);
        mixed = mixed ? mixed.add(scaled) : scaled;
      }
      return mixed!;
    });
    // One row per prompt, in order: what the pipeline expects of every PromptEncoder.
    return { encoderHiddenStates: Tensor.cat(rows) };
  }
}

/**
 * A conditioning module that adds a fixed style embedding `[1, tokens, D]` × `strength` to every
 * non-empty prompt. The empty prompt (the unconditional side of guidance) is left alone, so guidance
 * pushes towards the style.
 */
export class StylePromptEncoder implements PromptEncoder {
  constructor(
    private readonly inner: PromptEncoder,
    private readonly style: Tensor,
    private readonly strength = 1,
  ) {}

  async encode(prompts: string[], options?: PromptEncodeOptions): Promise<Conditioning> {
    const { encoderHiddenStates } = await this.inner.encode(prompts, options);
    const [, tokens, dim] = encoderHiddenStates.shape;
    if (this.style.shape.join() !== [1, tokens, dim].join()) {
      throw new InvalidArgumentError({
        name: 'style embedding shape',
        value: this.style.shape,
        expected: `[1, ${tokens}, ${dim}], the shape of one encoded prompt`,
      });
    }
    const shift = this.style.mul(this.strength);
    const rows = prompts.map((prompt, i) => {
      const row = encoderHiddenStates.slice(i, i + 1);
      return prompt === '' ? row : row.add(shift);
    });
    return { encoderHiddenStates: Tensor.cat(rows) };
  }
}

const outDir =
  process.argv[2] ?? process.env.LATENTKIT_EXAMPLES_OUT ?? fileURLToPath(new URL('./out/', import.meta.url));
const modelDir = process.env.LATENTKIT_MODEL ?? shapesModelPath;

const loaded = await StableDiffusionPipeline.fromPretrained(modelDir, { backend: nodeBackend });
try {
  await mkdir(outDir, { recursive: true });
  const clip = loaded.promptEncoder!; // the model's own CLIP tokenizer + text encoder

  // A pipeline is its parts: reuse the loaded UNet, VAE and scheduler, and put our encoder in front.
  const blending = new StableDiffusionPipeline({
    promptEncoder: new BlendPromptEncoder(clip),
    denoiser: loaded.denoiser,
    codec: loaded.codec,
    scheduler: loaded.scheduler,
  });
  const from = 'a red circle on a blue background';
  const to = 'a yellow triangle on a purple background';
  for (const percent of [0, 50, 100]) {
    const prompt = `${from} @${100 - percent} | ${to} @${percent}`;
    // Same seed and settings as examples/basic.ts: blend-0 is basic's image.
    const { images } = await blending.generate({
      prompt,
      numInferenceSteps: 20,
      guidanceScale: 5,
      seed: 42,
    });
    const file = join(outDir, `blend-${percent}.png`);
    await writePng(file, images[0]!);
    console.log(`custom-conditioning: "${prompt}" → ${file}`);
  }

  // A style embedding: here the difference the words "on a white background" make to the empty prompt.
  // It could as well be loaded from a file (a learned embedding).
  const { encoderHiddenStates: both } = await clip.encode(['on a white background', '']);
  const style = both.slice(0, 1).sub(both.slice(1, 2));
  const styled = new StableDiffusionPipeline({
    promptEncoder: new StylePromptEncoder(clip, style, 0.8),
    denoiser: loaded.denoiser,
    codec: loaded.codec,
    scheduler: loaded.scheduler,
  });
  const { images } = await styled.generate({
    prompt: from,
    numInferenceSteps: 20,
    guidanceScale: 5,
    seed: 42,
  });
  const file = join(outDir, 'style.png');
  await writePng(file, images[0]!);
  console.log(`custom-conditioning: "${from}" + style "on a white background" × 0.8 → ${file}`);
} finally {
  await loaded.dispose(); // the pipelines built from its parts share its sessions
}
