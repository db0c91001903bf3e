import {
  InvalidArgumentError,
  LimitExceededError,
  ModelMismatchError,
  NotImplementedError,
  type Tensor,
  type TextualInversionInfo,
} from '@latentkit/core';
import type { ClipTokenizer } from '../clip-tokenizer.js';
import type { InitializerOverride, InitializerOverrides } from '../initializer-overrides.js';
import type { OnnxGraph } from '../onnx-graph.js';
import { readOnnxWeights } from '../onnx-initializers.js';
import type { SessionRequest } from '../session-factory.js';
import { parseTextualInversionFile } from './textual-inversion-file.js';
import { findTokenEmbedding } from './token-embedding.js';

/**
 * Loads a textual-inversion embedding into a tokenizer and its text encoder, as diffusers'
 * `load_textual_inversion`: the embedding's n vectors become n new tokens (`<tok>`, `<tok>_1`, …) with the
 * next free ids, and the text encoder's token embedding grows by n rows holding the vectors. The ONNX file is
 * not rewritten: the grown embedding is an initializer override the backend applies in memory.
 */

/** Where {@link loadTextualInversionInto} puts an embedding: a CLIP tokenizer and its text encoder. */
export interface TextualInversionTarget {
  /** The tokenizer that gets the new tokens (once the text encoder has the grown embedding). */
  readonly tokenizer: ClipTokenizer;
  /**
   * The text encoder's model: the file and folder the token embedding is read from, and its graph when the
   * caller has it read already (else the graph is read from the file).
   */
  readonly textEncoder: { readonly request: SessionRequest; readonly graph?: OnnxGraph };
  /**
   * The text encoder's overrides in force (LoRA merges, embeddings loaded before): a second embedding grows
   * the embedding already grown by the first.
   */
  readonly overrides: InitializerOverrides;
  /**
   * Gives the text encoder the grown token embedding: the caller adds it to the text encoder's overrides
   * (next to any LoRA merges) and re-creates its session. The tokens are added only after it resolves, so a
   * failure leaves the tokenizer as it was.
   */
  setTokenEmbedding(name: string, value: InitializerOverride): Promise<void>;
}

/** Options of {@link loadTextualInversionInto}. */
export interface LoadTextualInversionOptions {
  /** The token for prompts; default the file's (diffusers' key, A1111's `name`), else `fileStem`. */
  token?: string;
  /** The file's name without directory or extension (the default token of an A1111 file), if it has one. */
  fileStem?: string;
  /** The file's name or URL, for messages. */
  what: string;
}

/**
 * Loads an embedding file into a tokenizer and text encoder (the text encoder's token embedding grows by the
 * embedding's rows, the tokenizer gets `token`, `token_1`, …).
 *
 * @param target - The tokenizer, the text encoder and how to give it the grown embedding.
 * @param bytes - The embedding file (see {@link parseTextualInversionFile}: safetensors or a torch zip).
 * @param options - The token to use, and the file's name.
 * @returns The token, the tokens it expands to, and the file's format.
 * @throws {@link @latentkit/core!InvalidArgumentError} when no token is given or found, or the token (or one
 *   of `token_1`, …) is empty, has spaces or is already in the tokenizer;
 *   {@link @latentkit/core!LimitExceededError} for more vectors than one prompt chunk holds (75);
 *   {@link @latentkit/core!ModelMismatchError} when the vectors' width is not the text encoder's embedding
 *   width, or the tokenizer has more ids than the embedding has rows;
 *   {@link @latentkit/core!ModelInvalidError} for a file that is not an embedding, or holds non-finite values;
 *   {@link @latentkit/core!NotImplementedError} for legacy (torch < 1.6) pickles and text encoders whose
 *   token embedding cannot be found.
 */
export async function loadTextualInversionInto(
  target: TextualInversionTarget,
  bytes: Uint8Array,
  options: LoadTextualInversionOptions,
): Promise<TextualInversionInfo> {
  const { what } = options;
  const file = parseTextualInversionFile(bytes, what);
  const token = tokenOf(file, options);
  const tokens = tokensFor(token, file.vectors, [target.tokenizer], what);
  const about = file.sdxl
    ? ` (an SDXL embedding: its clip_l vectors are ${file.sdxl.clipL.shape[1]} wide, clip_g ${file.sdxl.clipG.shape[1]}; an SD 1.x/2.x model takes clip_l)`
    : '';
  const grown = await growTokenEmbedding(target, file.vectors, what, about);
  await target.setTokenEmbedding(grown.name, grown.value);
  target.tokenizer.addTokens(tokens);
  return { token, tokens, format: file.format };
}

/** SDXL's two text encoders as textual inversion sees them: the first is absent in the refiner. */
export interface SdxlTextualInversionTargets {
  /** `tokenizer` + `text_encoder` (CLIP ViT-L): gets the file's `clip_l` vectors; absent in the refiner. */
  readonly first?: Omit<TextualInversionTarget, 'setTokenEmbedding'>;
  /** `tokenizer_2` + `text_encoder_2` (OpenCLIP bigG): gets the file's `clip_g` vectors. */
  readonly second: Omit<TextualInversionTarget, 'setTokenEmbedding'>;
  /**
   * Gives the text encoders their grown token embeddings in one go (index 0 the first encoder's when it is
   * there, then the second's); the tokens are added to both tokenizers only after it resolves.
   */
  setTokenEmbeddings(
    values: readonly { encoder: 'first' | 'second'; name: string; value: InitializerOverride }[],
  ): Promise<void>;
}

/**
 * Loads an SDXL embedding file (`clip_l` `[n, 768]` and `clip_g` `[n, 1280]`, as A1111 and kohya write
 * them) into both of SDXL's tokenizers and text encoders: `clip_l` grows text_encoder's token embedding,
 * `clip_g` text_encoder_2's, and both tokenizers get the same tokens (`<tok>`, `<tok>_1`, …). The refiner,
 * without text_encoder, takes `clip_g` only. Everything is checked before anything changes.
 *
 * @throws {@link @latentkit/core!ModelMismatchError} for an SD 1.x/2.x embedding (one set of vectors) or
 *   vectors whose widths are not the encoders'; the other errors of {@link loadTextualInversionInto}.
 */
export async function loadSdxlTextualInversionInto(
  targets: SdxlTextualInversionTargets,
  bytes: Uint8Array,
  options: LoadTextualInversionOptions,
): Promise<TextualInversionInfo> {
  const { what } = options;
  const file = parseTextualInversionFile(bytes, what);
  if (!file.sdxl) {
    throw new ModelMismatchError(
      `${what} holds one set of vectors (${file.vectors.shape[0]} × ${file.vectors.shape[1]}): an SD 1.x/2.x embedding, but this is an SDXL model, whose two text encoders need an SDXL embedding with "clip_l" (768 wide) and "clip_g" (1280 wide) vectors. Fix: use an embedding trained for SDXL.`,
    );
  }
  const token = tokenOf(file, options);
  const first = targets.first;
  const tokenizers = first ? [first.tokenizer, targets.second.tokenizer] : [targets.second.tokenizer];
  const tokens = tokensFor(token, file.sdxl.clipG, tokenizers, what);
  const values: { encoder: 'first' | 'second'; name: string; value: InitializerOverride }[] = [];
  if (first)
    values.push({
      encoder: 'first',
      ...(await growTokenEmbedding(
        first,
        file.sdxl.clipL,
        what,
        ' (the file\'s "clip_l" vectors, for text_encoder)',
      )),
    });
  values.push({
    encoder: 'second',
    ...(await growTokenEmbedding(
      targets.second,
      file.sdxl.clipG,
      what,
      ' (the file\'s "clip_g" vectors, for text_encoder_2)',
    )),
  });
  await targets.setTokenEmbeddings(values);
  for (const t of tokenizers) t.addTokens(tokens);
  return { token, tokens, format: file.format };
}

/** The token: the option's, else the file's, else the file name's stem. */
function tokenOf(file: { token?: string }, options: LoadTextualInversionOptions): string {
  const token = options.token ?? file.token ?? options.fileStem;
  if (typeof token !== 'string' || token.trim().length === 0) {
    throw new InvalidArgumentError({
      name: 'token',
      value: token,
      expected: `a non-empty token for prompts (${options.what} names none)`,
      fix: 'pass one: loadTextualInversion(file, { token: "<my-concept>" })',
    });
  }
  return token;
}

/** `token`, `token_1`, … for n vectors, checked to fit one chunk and to be new in every tokenizer. */
function tokensFor(
  token: string,
  vectors: Tensor,
  tokenizers: readonly ClipTokenizer[],
  what: string,
): string[] {
  const n = vectors.shape[0]!;
  const perChunk = tokenizers[0]!.modelMaxLength - 2;
  if (n > perChunk) {
    throw new LimitExceededError({
      name: `the embedding in ${what}`,
      value: `${n} vectors`,
      expected: `at most ${perChunk} vectors (its tokens must fit in one ${perChunk}-token prompt chunk)`,
      fix: 'use an embedding with fewer vectors (textual-inversion embeddings have 1 to a few dozen)',
    });
  }
  const tokens = n > 1 ? [token, ...Array.from({ length: n - 1 }, (_, i) => `${token}_${i + 1}`)] : [token];
  for (const t of tokenizers) t.checkNewTokens(tokens);
  return tokens;
}

/**
 * The text encoder's token embedding grown by `vectors` (as diffusers' `resize_token_embeddings(len(tokenizer)
 * + n)`: the rows of the tokenizer's ids, then the new ones), checked against its width.
 *
 * @param about - What the vectors are, for messages (empty for a plain SD embedding).
 */
async function growTokenEmbedding(
  target: Omit<TextualInversionTarget, 'setTokenEmbedding'>,
  vectors: Tensor,
  what: string,
  about: string,
): Promise<{ name: string; value: InitializerOverride }> {
  const [n, width] = vectors.shape as [number, number];
  const { request, graph } = target.textEncoder;
  const name = await findTokenEmbedding(request, graph);
  const current = target.overrides.get(name) ?? (await readEmbedding(request, name));
  const [rows, d] = current.dims as [number, number];
  if (width !== d) {
    throw new ModelMismatchError(
      `${what} holds vectors of width ${width}${about}, but the text encoder ${request.modelPath} embeds tokens in ${d} dimensions (${name} is [${rows}, ${d}]). ` +
        'Fix: use an embedding trained for this model family (768 for SD 1.x, 1024 for SD 2.x, clip_l 768 + clip_g 1280 for SDXL).',
    );
  }
  const first = target.tokenizer.maxTokenId + 1;
  if (first > rows) {
    throw new ModelMismatchError(
      `The tokenizer has ids up to ${first - 1}, but the text encoder's token embedding ${name} in ${request.modelPath} has only ${rows} rows. Fix: use the tokenizer that belongs to the text encoder.`,
    );
  }
  const data = new Float32Array((first + n) * d);
  data.set(current.data.subarray(0, first * d));
  data.set(vectors.data, first * d);
  return { name, value: { dims: [first + n, d], data } };
}

async function readEmbedding(request: SessionRequest, name: string): Promise<InitializerOverride> {
  const [weight] = await readOnnxWeights(request.source, request.modelPath, (n) => n === name);
  if (weight?.dims.length !== 2) {
    throw new NotImplementedError(
      `The token embedding ${name} of ${request.modelPath} is not a float matrix [vocab_size, D] (it is ${weight ? `[${weight.dims.join(', ')}]` : 'not a float32/float16 weight'}), so textual inversion cannot grow it. Fix: use a float32 or float16 export of the text encoder.`,
    );
  }
  return { dims: weight.dims, data: weight.data };
}
