import {
  type Denoiser,
  type DenoiserInput,
  InvalidArgumentError,
  ModelInvalidError,
  ShapeMismatchError,
  type Tensor,
} from '@latentkit/core';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import { toFloat16Bits } from './float16.js';
import {
  findInput,
  findOutput,
  fixedDim,
  floatFeed,
  floatType,
  intFeed,
  type OrtValueInfo,
  requireInput,
  runSession,
  sessionOutputs,
  toTensor,
} from './ort-io.js';
import type { SessionFactory, SessionRequest } from './session-factory.js';

/** Options of {@link UnetDenoiser}. */
export interface UnetDenoiserOptions {
  /** Where the session came from (for messages). */
  request: SessionRequest;
  /** `in_channels` (4, or 9 for inpainting); default: from the model's `sample` input, else 4. */
  inChannels?: number;
  /** `sample_size` of the UNet config: the latent size the model was trained at. */
  sampleSize?: number;
  /** `cross_attention_dim`: the hidden size the model expects; default from the model's metadata. */
  crossAttentionDim?: number;
  /**
   * Latent height and width must be multiples of this (see {@link unetSizeMultiple}); default 1 (no
   * constraint known).
   */
  sizeMultiple?: number;
}

/** The most down-sampling stages accepted from a config (SD 1.x–SDXL have 3 or 4 block levels). */
const MAX_UNET_LEVELS = 8;

/**
 * The size multiple of a diffusers `UNet2DConditionModel` from its `unet/config.json`: the UNet halves the
 * latent once per block level but the last (`len(block_out_channels) − 1` times) and its exported
 * up-sampling doubles it back with a fixed ×2, so latent sizes must be multiples of
 * `2 ** (block_out_channels.length − 1)` — 8 for SD 1.5 (images in multiples of 64 px), 2 for the shipped
 * shapes model. Returns undefined when the config has no `block_out_channels`.
 *
 * @throws {@link @latentkit/core!ModelInvalidError} when `block_out_channels` is not a list of 1 to 8
 *   positive integers.
 */
export function unetSizeMultiple(
  config: Readonly<Record<string, unknown>> | undefined,
  file = 'unet/config.json',
): number | undefined {
  const blocks = config?.['block_out_channels'];
  if (blocks === undefined || blocks === null) return undefined;
  if (
    !Array.isArray(blocks) ||
    blocks.length < 1 ||
    blocks.length > MAX_UNET_LEVELS ||
    !blocks.every((b) => typeof b === 'number' && Number.isInteger(b) && b > 0)
  ) {
    throw new ModelInvalidError(
      `${file}: "block_out_channels" is ${JSON.stringify(blocks)}; expected a list of 1 to ${MAX_UNET_LEVELS} positive integers (e.g. [320, 640, 1280, 1280]).`,
    );
  }
  return 2 ** (blocks.length - 1);
}

/**
 * A UNet ONNX session (`unet/model.onnx`) as a {@link Denoiser}: `sample`, `timestep`,
 * `encoder_hidden_states` (and `timestep_cond` for LCM exports) → `out_sample`. Element types follow the
 * model's metadata: float16 or float32 latents and hidden states, and a float32, float16 or int64 timestep,
 * either a scalar, `[1]` or `[B]`.
 */
export class UnetDenoiser implements Denoiser {
  /** 4, or 9 for inpainting UNets. */
  readonly inChannels: number;
  /** The latent size the model was trained at, if known. */
  readonly sampleSize?: number;
  /** The hidden size of `encoder_hidden_states`, if known. */
  readonly crossAttentionDim: number | undefined;
  /** Latent height and width must be multiples of this: `2 ** (len(block_out_channels) − 1)`, or 1 if unknown. */
  readonly sizeMultiple: number;
  readonly #session: InferenceSession;
  readonly #factory: SessionFactory;
  readonly #request: SessionRequest;
  readonly #sample: OrtValueInfo;
  readonly #timestep: OrtValueInfo;
  readonly #hidden: OrtValueInfo;
  readonly #timestepCond: OrtValueInfo | undefined;
  readonly #output: string;

  /**
   * @param session - The UNet session.
   * @param factory - Makes the runtime's tensors.
   * @param options - Where the model came from, and what its config says.
   */
  constructor(session: InferenceSession, factory: SessionFactory, options: UnetDenoiserOptions) {
    const path = options.request.modelPath;
    this.#session = session;
    this.#factory = factory;
    this.#request = options.request;
    this.#sample = requireInput(session, 'sample', path);
    this.#timestep = requireInput(session, 'timestep', path);
    this.#hidden = requireInput(session, 'encoder_hidden_states', path);
    this.#timestepCond = findInput(session, 'timestep_cond');
    for (const extra of ['text_embeds', 'time_ids']) {
      if (findInput(session, extra)) {
        throw new ModelInvalidError(
          `${path} takes "${extra}": it is an SDXL UNet, which is not supported yet.`,
        );
      }
    }
    this.#output = findOutput(session, 'out_sample')?.name ?? sessionOutputs(session)[0]!.name;
    this.inChannels = options.inChannels ?? fixedDim(this.#sample, 1) ?? 4;
    if (options.sampleSize !== undefined) this.sampleSize = options.sampleSize;
    this.crossAttentionDim = options.crossAttentionDim ?? fixedDim(this.#hidden, 2);
    const multiple = options.sizeMultiple ?? 1;
    if (!Number.isInteger(multiple) || multiple < 1) {
      throw new InvalidArgumentError({
        name: 'sizeMultiple',
        value: multiple,
        expected: 'an integer ≥ 1',
        fix: 'pass unetSizeMultiple(unet config), or leave it out',
      });
    }
    this.sizeMultiple = multiple;
  }

  /** Runs the UNet once on the whole batch. */
  async predict(input: DenoiserInput): Promise<Tensor> {
    const { sample, timestep, conditioning, timestepCond } = input;
    const hidden = conditioning.encoderHiddenStates;
    const batch = sample.shape[0]!;
    if (sample.shape.length !== 4 || sample.shape[1] !== this.inChannels) {
      throw new ShapeMismatchError({
        name: 'sample',
        value: sample.shape,
        expected: `[B, ${this.inChannels}, h, w] for this UNet (in_channels ${this.inChannels})`,
      });
    }
    const [, , h, w] = sample.shape as [number, number, number, number];
    if (h % this.sizeMultiple !== 0 || w % this.sizeMultiple !== 0) {
      // Caught here rather than as onnxruntime's "Concat … mismatched dimensions" deep inside the graph.
      throw new ShapeMismatchError({
        name: 'sample latent size (h×w)',
        value: [h, w],
        expected: `multiples of ${this.sizeMultiple} (the UNet down-samples the latent by ${this.sizeMultiple})`,
        fix: `use image sizes that are multiples of ${this.sizeMultiple} × the VAE's downscale`,
      });
    }
    if (hidden.shape.length !== 3 || hidden.shape[0] !== batch) {
      throw new ShapeMismatchError({
        name: 'conditioning.encoderHiddenStates',
        value: hidden.shape,
        expected: `[${batch}, tokens, D], one row per sample`,
      });
    }
    if (this.crossAttentionDim !== undefined && hidden.shape[2] !== this.crossAttentionDim) {
      throw new ShapeMismatchError({
        name: 'conditioning.encoderHiddenStates',
        value: hidden.shape,
        expected: `hidden size ${this.crossAttentionDim} (the UNet's cross_attention_dim)`,
        fix: "use embeddings from this model's text encoder",
      });
    }
    if (!Number.isFinite(timestep)) {
      throw new InvalidArgumentError({ name: 'timestep', value: timestep, expected: 'a finite number' });
    }
    const feeds: Record<string, OrtTensor> = {
      sample: floatFeed(
        this.#factory,
        sample.data,
        sample.shape,
        floatType(this.#sample, 'unet input sample'),
      ),
      timestep: this.#timestepFeed(timestep, batch),
      encoder_hidden_states: floatFeed(
        this.#factory,
        hidden.data,
        hidden.shape,
        floatType(this.#hidden, 'unet input encoder_hidden_states'),
      ),
    };
    if (this.#timestepCond) {
      if (!timestepCond) {
        throw new InvalidArgumentError({
          name: 'timestepCond',
          value: undefined,
          expected: `a guidance embedding [${batch}, D]: ${this.#request.modelPath} takes "timestep_cond" (an LCM UNet)`,
          fix: 'use a pipeline that computes the LCM guidance embedding',
        });
      }
      feeds['timestep_cond'] = floatFeed(
        this.#factory,
        timestepCond.data,
        timestepCond.shape,
        floatType(this.#timestepCond, 'unet input timestep_cond'),
      );
    }
    const results = await runSession(this.#session, feeds, this.#request.component);
    return toTensor(results[this.#output], `${this.#request.component} output ${this.#output}`);
  }

  // Scalar, [1] or [B], as the model declares; int64 truncates like numpy's cast of diffusers' float timesteps.
  #timestepFeed(t: number, batch: number): OrtTensor {
    const shape = this.#timestep.shape;
    let dims: number[];
    if (shape && shape.length === 0) dims = [];
    else if (shape && shape.length === 1 && typeof shape[0] === 'number' && shape[0] > 0) dims = [shape[0]];
    else dims = [batch];
    const n = dims.length === 0 ? 1 : dims[0]!;
    const type = this.#timestep.type ?? 'float32';
    if (type === 'int64' || type === 'int32')
      return intFeed(this.#factory, new Array<number>(n).fill(t), dims, type);
    if (type === 'float16') {
      return this.#factory.createTensor(
        { type: 'float16', data: new Uint16Array(n).fill(toFloat16Bits(t)) },
        dims,
      );
    }
    if (type === 'float32')
      return this.#factory.createTensor({ type: 'float32', data: new Float32Array(n).fill(t) }, dims);
    throw new ModelInvalidError(
      `${this.#request.modelPath} input "timestep" has element type ${type}; expected float32, float16 or int64.`,
    );
  }

  /** Releases the session. */
  async dispose(): Promise<void> {
    await this.#session.release?.();
  }
}
