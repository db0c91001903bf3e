import {
  InvalidArgumentError,
  ModelMismatchError,
  NotImplementedError,
  ShapeMismatchError,
  Tensor,
} from '@latentkit/core';
import type { InferenceSession } from 'onnxruntime-common';
import type { InitializerOverrides } from './initializer-overrides.js';
import { readOnnxWeights } from './onnx-initializers.js';
import {
  findOutput,
  fixedDim,
  intFeed,
  type OrtValueInfo,
  requireInput,
  runSession,
  sessionOutputs,
  toTensor,
} from './ort-io.js';
import type { SessionFactory, SessionRequest } from './session-factory.js';
import { SwappableSession } from './swappable-session.js';

/** Options of {@link OnnxTextEncoder}. */
export interface OnnxTextEncoderOptions {
  /** Where the session came from: the model file and folder (for messages and for reading weights). */
  request: SessionRequest;
  /** `layer_norm_eps` of the text encoder config (default 1e-5). */
  layerNormEps?: number;
}

/** What one text encoder run returns. */
export interface TextEncoderOutput {
  /** `[B, T, D]`: `last_hidden_state`, or with clip skip the chosen hidden state through the final layer norm. */
  hiddenStates: Tensor;
  /** `[B, D]` `pooler_output`, when the model has it. */
  pooled?: Tensor;
}

/** What {@link OnnxTextEncoder.encodeHiddenState} returns. */
export interface HiddenStateOutput {
  /** `[B, T, D]`: the chosen `hidden_states.N` output as the graph gives it (no final layer norm). */
  hiddenStates: Tensor;
  /** `[B, P]` `text_embeds` (CLIPTextModelWithProjection: the projected EOS state), when the model has it. */
  textEmbeds?: Tensor;
}

/**
 * A CLIP text encoder ONNX session (`text_encoder/model.onnx`): `input_ids` (int32 or int64, as the model
 * declares) → `last_hidden_state` `[B, T, D]`, `pooler_output`, and in exports made with
 * `output_hidden_states` also `hidden_states.0` … `hidden_states.N` (the embeddings and each layer's output,
 * before the final layer norm).
 */
export class OnnxTextEncoder {
  /** The hidden size D, when the model's metadata fixes it. */
  readonly hiddenSize: number | undefined;
  /** How many `hidden_states.N` outputs the model has (0 when it has none). */
  readonly hiddenStateCount: number;
  /** Whether the model has a `pooler_output` output (CLIP's pooled text embedding, GLIGEN's phrase embedding). */
  readonly hasPooledOutput: boolean;
  /** The width of `pooler_output`, when the model's metadata fixes it. */
  readonly pooledSize: number | undefined;
  /** Whether the model has a `text_embeds` output (CLIPTextModelWithProjection: SDXL's text_encoder_2). */
  readonly hasTextEmbeds: boolean;
  /** The width of `text_embeds` (`projection_dim`), when the model's metadata fixes it. */
  readonly textEmbedsSize: number | undefined;
  readonly #session: SwappableSession;
  readonly #factory: SessionFactory;
  readonly #request: SessionRequest;
  readonly #idsType: 'int32' | 'int64';
  readonly #eps: number;
  /** The file's own final layer norm (its initializer names and values), read once. */
  #finalNorm: Promise<FinalNorm> | undefined;

  /**
   * @param session - The text encoder session.
   * @param factory - Makes the runtime's tensors.
   * @param options - Where the model came from, and its layer-norm epsilon.
   */
  constructor(session: InferenceSession, factory: SessionFactory, options: OnnxTextEncoderOptions) {
    this.#session = new SwappableSession(session, factory, options.request);
    this.#factory = factory;
    this.#request = this.#session.request;
    this.#eps = options.layerNormEps ?? 1e-5;
    const ids = requireInput(session, 'input_ids', options.request.modelPath);
    this.#idsType = ids.type === 'int64' ? 'int64' : 'int32';
    const last = this.#output('last_hidden_state');
    this.hiddenSize = fixedDim(last, 2);
    this.hiddenStateCount = sessionOutputs(session).filter((o) => /^hidden_states\.\d+$/.test(o.name)).length;
    const pooled = findOutput(session, 'pooler_output');
    this.hasPooledOutput = pooled !== undefined;
    this.pooledSize = fixedDim(pooled, 1);
    const projected = findOutput(session, 'text_embeds');
    this.hasTextEmbeds = projected !== undefined;
    this.textEmbedsSize = fixedDim(projected, 1);
  }

  #output(name: string): OrtValueInfo {
    const found = findOutput(this.#session.session, name);
    if (found) return found;
    // exports with other output names: the first output is the last hidden state
    return sessionOutputs(this.#session.session)[0]!;
  }

  /**
   * Encodes a batch of token id rows.
   *
   * @param ids - `B·T` token ids, row-major.
   * @param batch - B.
   * @param clipSkip - A1111's clip skip: 1 (default) = the last layer; k > 1 = `hidden_states[-k]` through the
   *   final layer norm, as A1111 does (diffusers' `clip_skip = k − 1`).
   */
  async encode(ids: ArrayLike<number>, batch: number, clipSkip = 1): Promise<TextEncoderOutput> {
    // the weights this run uses (a swap during the run does not change them)
    const overrides = this.#session.overrides;
    const length = ids.length / batch;
    const feeds = { input_ids: intFeed(this.#factory, ids, [batch, length], this.#idsType) };
    const results = await this.#session.run((s) => runSession(s, feeds, this.#request.component));
    const lastName = this.#output('last_hidden_state').name;
    const pooled = results['pooler_output'] ? toTensor(results['pooler_output'], 'pooler_output') : undefined;
    if (clipSkip <= 1) {
      const hiddenStates = toTensor(results[lastName], `${this.#request.component} ${lastName}`);
      return pooled ? { hiddenStates, pooled } : { hiddenStates };
    }
    if (this.hiddenStateCount === 0) {
      throw new NotImplementedError(
        `clipSkip ${clipSkip} needs the text encoder's intermediate hidden states, but ${this.#request.modelPath} has no hidden_states.N outputs. ` +
          'Fix: re-export the text encoder with output_hidden_states=True (Optimum does this for SDXL), or use clipSkip 1.',
      );
    }
    const layers = this.hiddenStateCount - 1;
    if (clipSkip > layers) {
      throw new InvalidArgumentError({
        name: 'clipSkip',
        value: clipSkip,
        expected: `at most ${layers}, the number of text encoder layers`,
      });
    }
    const name = `hidden_states.${this.hiddenStateCount - clipSkip}`;
    const hidden = toTensor(results[name], `${this.#request.component} ${name}`);
    const hiddenStates = layerNorm(hidden, withOverrides(await this.#finalLayerNorm(), overrides), this.#eps);
    return pooled ? { hiddenStates, pooled } : { hiddenStates };
  }

  /**
   * Encodes a batch of token id rows to one raw hidden state, `hidden_states[-fromEnd]` as the graph gives it
   * (no final layer norm), and `text_embeds` when the model has it — what diffusers' SDXL `encode_prompt`
   * reads: `hidden_states[-2]` by default, `hidden_states[-(clip_skip + 2)]` with its clip_skip.
   *
   * @param ids - `B·T` token ids, row-major.
   * @param batch - B.
   * @param fromEnd - Which hidden state, counted from the last (1 = the last layer's output, 2 = the
   *   penultimate, SDXL's default).
   * @throws {@link @latentkit/core!ModelMismatchError} when the model has no `hidden_states.N` outputs;
   *   {@link @latentkit/core!InvalidArgumentError} when `fromEnd` lies beyond the embeddings.
   */
  async encodeHiddenState(
    ids: ArrayLike<number>,
    batch: number,
    fromEnd: number,
  ): Promise<HiddenStateOutput> {
    if (this.hiddenStateCount === 0) {
      throw new ModelMismatchError(
        `${this.#request.modelPath} has no hidden_states.N outputs, but SDXL takes the penultimate hidden state of each text encoder. ` +
          'Fix: export the text encoders with output_hidden_states=True (optimum-cli export onnx does this for SDXL models).',
      );
    }
    if (!Number.isInteger(fromEnd) || fromEnd < 1 || fromEnd > this.hiddenStateCount) {
      throw new InvalidArgumentError({
        name: 'clipSkip',
        value: fromEnd - 1,
        expected: `at most ${this.hiddenStateCount - 1} (${this.#request.modelPath} has ${this.hiddenStateCount - 1} layers; clip skip N takes hidden_states[-(N+1)])`,
        fix: 'use clipSkip 1 (the default: the penultimate layer) or 2',
      });
    }
    const length = ids.length / batch;
    const feeds = { input_ids: intFeed(this.#factory, ids, [batch, length], this.#idsType) };
    const results = await this.#session.run((s) => runSession(s, feeds, this.#request.component));
    const name = `hidden_states.${this.hiddenStateCount - fromEnd}`;
    const hiddenStates = toTensor(results[name], `${this.#request.component} ${name}`);
    const projected = results['text_embeds'];
    return projected
      ? { hiddenStates, textEmbeds: toTensor(projected, `${this.#request.component} text_embeds`) }
      : { hiddenStates };
  }

  // The final layer norm is not a separate graph in exports: read its weights from the ONNX file (once).
  #finalLayerNorm(): Promise<FinalNorm> {
    this.#finalNorm ??= (async () => {
      const { source, modelPath } = this.#request;
      const weights = await readOnnxWeights(source, modelPath, (n) =>
        /final_layer_norm\.(weight|bias)$/.test(n),
      );
      const weight = weights.find((w) => w.name.endsWith('final_layer_norm.weight'));
      const bias = weights.find((w) => w.name.endsWith('final_layer_norm.bias'));
      if (!weight || !bias) {
        this.#finalNorm = undefined;
        throw new NotImplementedError(
          `clip skip applies CLIP's final layer norm to an intermediate hidden state, but ${modelPath} has no initializers named *final_layer_norm.weight / *final_layer_norm.bias. ` +
            'Fix: export the text encoder without constant folding of the layer norm, or use clipSkip 1.',
        );
      }
      return { weightName: weight.name, biasName: bias.name, weight: weight.data, bias: bias.data };
    })();
    return this.#finalNorm;
  }

  /** The request this encoder was made from: its component, model file and folder (the file's own weights, no overrides). */
  get request(): SessionRequest {
    return this.#request;
  }

  /** The initializer overrides the current session runs with; undefined for the file's own weights. */
  get initializerOverrides(): InitializerOverrides | undefined {
    return this.#session.overrides;
  }

  /**
   * Re-creates the text encoder session with these weights replaced (LoRA; textual inversion's grown token
   * embedding), or with the file's own weights again (`undefined`): made through the backend's factory,
   * checked to have the same inputs and outputs, and swapped in; the old session is released once the
   * runs on it finish. Clip skip's final layer norm uses overridden values where they are overridden. The
   * model file is never rewritten.
   *
   * @param overrides - New values by initializer name (see {@link patchInitializers}), or undefined.
   * @throws the errors of {@link patchInitializers} for bad overrides (the current session stays);
   *   {@link @latentkit/core!ModelMismatchError} when the new session's inputs or outputs differ;
   *   {@link @latentkit/core!InferenceFailedError} after {@link release}.
   */
  setInitializerOverrides(overrides: InitializerOverrides | undefined): Promise<void> {
    return this.#session.setOverrides(overrides);
  }

  /** Releases the current session (after the runs on it); later runs fail. */
  release(): Promise<void> {
    return this.#session.release();
  }

  /** The same as {@link release}. */
  dispose(): Promise<void> {
    return this.release();
  }
}

/** CLIP's final layer norm: the names of its initializers and their values. */
interface FinalNorm {
  weightName: string;
  biasName: string;
  weight: Float32Array;
  bias: Float32Array;
}

/** The final layer norm with overridden values where the overrides replace its initializers. */
function withOverrides(
  norm: FinalNorm,
  overrides: InitializerOverrides | undefined,
): { weight: Float32Array; bias: Float32Array } {
  return {
    weight: overrides?.get(norm.weightName)?.data ?? norm.weight,
    bias: overrides?.get(norm.biasName)?.data ?? norm.bias,
  };
}

/** Layer norm over the last axis, statistics in float64, result rounded to float32. */
function layerNorm(x: Tensor, norm: { weight: Float32Array; bias: Float32Array }, eps: number): Tensor {
  const d = x.shape[x.shape.length - 1]!;
  if (norm.weight.length !== d || norm.bias.length !== d) {
    throw new ShapeMismatchError({
      name: 'final_layer_norm.weight',
      value: norm.weight.length,
      expected: `${d} values, the hidden size`,
    });
  }
  const out = new Float32Array(x.size);
  const src = x.data;
  for (let row = 0; row < x.size; row += d) {
    let mean = 0;
    for (let i = 0; i < d; i++) mean += src[row + i]!;
    mean /= d;
    let variance = 0;
    for (let i = 0; i < d; i++) variance += (src[row + i]! - mean) ** 2;
    variance /= d;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < d; i++) out[row + i] = (src[row + i]! - mean) * inv * norm.weight[i]! + norm.bias[i]!;
  }
  return new Tensor(out, x.shape);
}
