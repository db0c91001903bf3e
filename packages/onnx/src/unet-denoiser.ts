import {
  type Denoiser,
  type DenoiserInput,
  type GroundingSpec,
  InvalidArgumentError,
  type MicroConditioningSpec,
  ModelInvalidError,
  ModelMismatchError,
  ShapeMismatchError,
  type Tensor,
} from '@latentkit/core';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import { toFloat16Bits } from './float16.js';
import { type GroundedInputs, groundingFeeds, readGroundedInputs } from './grounded-unet.js';
import type { InitializerOverrides } from './initializer-overrides.js';
import {
  findInput,
  findOutput,
  fixedDim,
  floatFeed,
  floatType,
  intFeed,
  type OrtValueInfo,
  requireInput,
  reusedFloatFeed,
  runSession,
  sessionOutputs,
  toTensor,
} from './ort-io.js';
import type { SessionFactory, SessionRequest } from './session-factory.js';
import { SwappableSession } from './swappable-session.js';

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
  /**
   * `num_class_embeds` of the UNet config (1000 for the x4 upscaler): class labels must lie in
   * [0, numClassEmbeds). Checked only when the model takes `class_labels`.
   */
  numClassEmbeds?: number;
  /**
   * SDXL UNets: the width of `text_embeds` (text_encoder_2's `projection_dim`, 1280) when the configs fix it;
   * default from the model's `text_embeds` input.
   */
  textEmbedsDim?: number;
  /**
   * SDXL UNets: values per `time_ids` row (6 for the base, 5 for the refiner) as the configs say; default from
   * the model's `time_ids` input.
   */
  timeIdCount?: number;
}

const CLASS_LABEL_TYPES: readonly string[] = ['int64', 'int32', 'float32', 'float16'];

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
 * `encoder_hidden_states` (and `timestep_cond` for LCM exports, `class_labels` for UNets with a class
 * embedding such as the x4 upscaler's) → `out_sample`. Element types follow the model's metadata: float16 or
 * float32 latents and hidden states, a float32, float16 or int64 timestep, either a scalar, `[1]` or `[B]`,
 * and int64, int32, float32 or float16 class labels `[B]`.
 *
 * An SDXL UNet (inputs `text_embeds` and `time_ids`, diffusers' `addition_embed_type: "text_time"`) has
 * {@link UnetDenoiser.microConditioning} and takes `conditioning.textEmbeds` `[B, P]` and
 * `conditioning.timeIds` `[B, 5 | 6]` on every call, fed in the element types the graph declares.
 *
 * A grounded (GLIGEN) UNet — one with the inputs `gligen_boxes`, `gligen_positive_embeddings`,
 * `gligen_masks` and `gligen_enabled` (docs/layout-to-image.md, "ONNX convention") — has
 * {@link UnetDenoiser.grounding} and takes {@link @latentkit/core!DenoiserInput.gligen}; a call without
 * `gligen` feeds zeros with the gate off, which is exactly the plain UNet.
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
  /** Whether the model takes `class_labels` (the x4 upscaler's noise level): then `predict` needs `classLabels`. */
  readonly takesClassLabels: boolean;
  /** Class labels must lie in [0, numClassEmbeds) (from the UNet config), if known. */
  readonly numClassEmbeds: number | undefined;
  /**
   * Present on grounded (GLIGEN) UNets: the object slots (dim 1 of `gligen_boxes`, 30) and the phrase
   * embedding width (last dim of `gligen_positive_embeddings`, else `cross_attention_dim`).
   */
  readonly grounding?: GroundingSpec;
  /**
   * Present on SDXL UNets (inputs `text_embeds` and `time_ids`): `predict` then needs
   * `conditioning.textEmbeds` `[B, textEmbedsDim]` and `conditioning.timeIds` `[B, timeIdCount]`.
   */
  readonly microConditioning?: MicroConditioningSpec;
  readonly #textEmbeds: OrtValueInfo | undefined;
  readonly #timeIds: OrtValueInfo | undefined;
  readonly #grounded: GroundedInputs | undefined;
  readonly #session: SwappableSession;
  readonly #factory: SessionFactory;
  readonly #request: SessionRequest;
  readonly #sample: OrtValueInfo;
  readonly #timestep: OrtValueInfo;
  readonly #hidden: OrtValueInfo;
  readonly #timestepCond: OrtValueInfo | undefined;
  readonly #classLabels: OrtValueInfo | undefined;
  readonly #output: string;

  /**
   * @param session - The UNet session.
   * @param factory - Makes the runtime's tensors.
   * @param options - Where the model came from, and what its config says.
   */
  constructor(session: InferenceSession, factory: SessionFactory, options: UnetDenoiserOptions) {
    const path = options.request.modelPath;
    this.#session = new SwappableSession(session, factory, options.request);
    this.#factory = factory;
    this.#request = options.request;
    this.#sample = requireInput(session, 'sample', path);
    this.#timestep = requireInput(session, 'timestep', path);
    this.#hidden = requireInput(session, 'encoder_hidden_states', path);
    this.#timestepCond = findInput(session, 'timestep_cond');
    this.#classLabels = findInput(session, 'class_labels');
    this.takesClassLabels = this.#classLabels !== undefined;
    const labelType = this.#classLabels?.type;
    if (labelType !== undefined && !CLASS_LABEL_TYPES.includes(labelType)) {
      throw new ModelInvalidError(
        `${path} input "class_labels" has element type ${labelType}; expected int64 (as diffusers exports it), int32, float32 or float16.`,
      );
    }
    const classes = options.numClassEmbeds;
    if (classes !== undefined) {
      checkCount(
        'numClassEmbeds',
        classes,
        '(num_class_embeds of the UNet config)',
        'pass the config value, or leave it out',
      );
    }
    this.numClassEmbeds = classes;
    this.#textEmbeds = findInput(session, 'text_embeds');
    this.#timeIds = findInput(session, 'time_ids');
    if ((this.#textEmbeds === undefined) !== (this.#timeIds === undefined)) {
      const has = this.#textEmbeds ? 'text_embeds' : 'time_ids';
      const lacks = this.#textEmbeds ? 'time_ids' : 'text_embeds';
      throw new ModelInvalidError(
        `${path} takes "${has}" but not "${lacks}" (its inputs: ${session.inputNames.join(', ')}); an SDXL UNet (addition_embed_type "text_time") takes both. Fix: re-export the UNet with Optimum (optimum-cli export onnx), which names both inputs.`,
      );
    }
    if (this.#textEmbeds && this.#timeIds) {
      floatType(this.#textEmbeds, `${path} input text_embeds`);
      floatType(this.#timeIds, `${path} input time_ids`);
      const textEmbedsDim = agreeingDim(
        'text_embeds',
        options.textEmbedsDim,
        fixedDim(this.#textEmbeds, 1),
        path,
      );
      const timeIdCount = agreeingDim('time_ids', options.timeIdCount, fixedDim(this.#timeIds, 1), path);
      if (textEmbedsDim !== undefined) checkCount('textEmbedsDim', textEmbedsDim, '', 'pass projection_dim');
      if (timeIdCount !== undefined) checkCount('timeIdCount', timeIdCount, '', 'pass 5 or 6');
      this.microConditioning = { textEmbedsDim, timeIdCount };
    }
    this.#output = findOutput(session, 'out_sample')?.name ?? sessionOutputs(session)[0]!.name;
    this.inChannels = options.inChannels ?? fixedDim(this.#sample, 1) ?? 4;
    if (options.sampleSize !== undefined) this.sampleSize = options.sampleSize;
    this.crossAttentionDim = options.crossAttentionDim ?? fixedDim(this.#hidden, 2);
    const multiple = options.sizeMultiple ?? 1;
    checkCount('sizeMultiple', multiple, '', 'pass unetSizeMultiple(unet config), or leave it out');
    this.sizeMultiple = multiple;
    this.#grounded = readGroundedInputs(session, path, this.crossAttentionDim);
    if (this.#grounded) this.grounding = this.#grounded.spec;
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
      // the same embeddings every step: converted to float16 (where the graph wants it) once per generation
      encoder_hidden_states: reusedFloatFeed(
        this.#factory,
        hidden.data,
        hidden.shape,
        floatType(this.#hidden, 'unet input encoder_hidden_states'),
      ),
    };
    if (this.#textEmbeds && this.#timeIds) {
      feeds['text_embeds'] = this.#microFeed(this.#textEmbeds, conditioning.textEmbeds, 'textEmbeds', batch);
      feeds['time_ids'] = this.#microFeed(this.#timeIds, conditioning.timeIds, 'timeIds', batch);
    }
    if (this.#timestepCond) {
      if (!timestepCond) {
        throw new InvalidArgumentError({
          name: 'timestepCond',
          value: undefined,
          expected: `a guidance embedding [${batch}, D]: ${this.#request.modelPath} takes "timestep_cond" (an LCM UNet)`,
          fix: 'use a pipeline that computes the LCM guidance embedding',
        });
      }
      feeds['timestep_cond'] = reusedFloatFeed(
        this.#factory,
        timestepCond.data,
        timestepCond.shape,
        floatType(this.#timestepCond, 'unet input timestep_cond'),
      );
    }
    if (this.#classLabels) {
      feeds['class_labels'] = this.#classLabelsFeed(this.#classLabels, input.classLabels, batch);
    } else if (input.classLabels !== undefined) {
      throw new InvalidArgumentError({
        name: 'classLabels',
        value: input.classLabels.shape,
        expected: `no class labels: ${this.#request.modelPath} has no "class_labels" input (it is not an x4 upscaler UNet)`,
        fix: "use the x4 upscaler's UNet, or leave classLabels out",
      });
    }
    if (this.#grounded) {
      Object.assign(feeds, groundingFeeds(this.#grounded, input.gligen, batch, this.#factory));
    } else if (input.gligen !== undefined) {
      throw new ModelMismatchError(
        `gligen (grounding inputs) was given, but ${this.#request.modelPath} is not a grounded (GLIGEN) UNet: it has no gligen_* inputs (its inputs: ${this.#session.session.inputNames.join(', ')}). ` +
          'Fix: load a GLIGEN model folder (a UNet exported as in docs/layout-to-image.md, "ONNX convention"), or leave gligen out.',
      );
    }
    const results = await this.#session.run((s) => runSession(s, feeds, this.#request.component));
    return toTensor(results[this.#output], `${this.#request.component} output ${this.#output}`);
  }

  // SDXL's text_embeds [B, P] and time_ids [B, K], in the element type the graph declares.
  #microFeed(
    info: OrtValueInfo,
    value: Tensor | undefined,
    key: 'textEmbeds' | 'timeIds',
    batch: number,
  ): OrtTensor {
    const spec = this.microConditioning!;
    const width = key === 'textEmbeds' ? spec.textEmbedsDim : spec.timeIdCount;
    const what =
      key === 'textEmbeds'
        ? 'the pooled text embedding of text_encoder_2'
        : 'the micro-conditioning time ids (original size, crop top-left, target size or aesthetic score)';
    const expected = `[${batch}, ${width ?? 'n'}]: ${what}, one row per sample`;
    if (value === undefined) {
      throw new InvalidArgumentError({
        name: `conditioning.${key}`,
        value: undefined,
        expected: `${expected} — ${this.#request.modelPath} is an SDXL UNet (it takes "${info.name}")`,
        fix: 'use StableDiffusionXLPipeline (it adds them), or pass them in the conditioning',
      });
    }
    if (
      value.shape.length !== 2 ||
      value.shape[0] !== batch ||
      (width !== undefined && value.shape[1] !== width)
    ) {
      throw new ShapeMismatchError({
        name: `conditioning.${key}`,
        value: value.shape,
        expected:
          key === 'timeIds' && width !== undefined
            ? `${expected} (${width === 5 ? 'the refiner: requires_aesthetics_score' : width === 6 ? 'SDXL base' : 'this UNet'} takes ${width} values)`
            : expected,
        fix:
          key === 'timeIds'
            ? "let StableDiffusionXLPipeline make the time ids from the model's requires_aesthetics_score"
            : "use the pooled embeddings from this model's text_encoder_2",
      });
    }
    return reusedFloatFeed(
      this.#factory,
      value.data,
      value.shape,
      floatType(info, `unet input ${info.name}`),
    );
  }

  // [B] (or a scalar / [1] where the model declares one and the labels agree), in the declared element type.
  #classLabelsFeed(info: OrtValueInfo, labels: Tensor | undefined, batch: number): OrtTensor {
    const path = this.#request.modelPath;
    if (labels === undefined) {
      throw new InvalidArgumentError({
        name: 'classLabels',
        value: undefined,
        expected: `class labels [${batch}] (one per row): ${path} takes "class_labels" (the x4 upscaler's noise level)`,
        fix: 'use StableDiffusionUpscalePipeline, or pass classLabels to predict()',
      });
    }
    if (labels.shape.length !== 1 || labels.shape[0] !== batch) {
      throw new ShapeMismatchError({
        name: 'classLabels',
        value: labels.shape,
        expected: `[${batch}]: one label per row of sample`,
        fix: 'pass a Tensor [B] with the noise level for every row',
      });
    }
    const type = info.type ?? 'int64';
    const integer = type === 'int64' || type === 'int32';
    const max = this.numClassEmbeds;
    for (const v of labels.data) {
      const bad =
        !Number.isFinite(v) ||
        (integer && (!Number.isInteger(v) || v < 0 || (max !== undefined && v >= max)));
      if (bad) {
        throw new InvalidArgumentError({
          name: 'classLabels',
          value: v,
          expected: integer
            ? `whole numbers from 0 to ${max === undefined ? 'the number of class embeddings' : max - 1}${max === undefined ? '' : ` (num_class_embeds = ${max})`}`
            : 'finite numbers',
          fix: 'pass the noise level (an integer from 0 to max_noise_level)',
        });
      }
    }
    const shape = info.shape;
    let dims: number[] = [batch];
    if (shape && (shape.length === 0 || (shape.length === 1 && shape[0] === 1)) && batch !== 1) {
      if (labels.data.some((v) => v !== labels.data[0])) {
        throw new InvalidArgumentError({
          name: 'classLabels',
          value: Array.from(labels.data),
          expected: `one value for every row: ${path} takes a single class label`,
        });
      }
    }
    if (shape && shape.length === 0) dims = [];
    else if (shape && shape.length === 1 && shape[0] === 1) dims = [1];
    const n = dims.length === 0 ? 1 : dims[0]!;
    const values = labels.data.subarray(0, n);
    if (integer) return intFeed(this.#factory, values, dims, type as 'int64' | 'int32');
    return floatFeed(this.#factory, Float32Array.from(values), dims, type as 'float32' | 'float16');
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

  /** The component, model file and folder this UNet was loaded from (the file's own weights, no overrides). */
  get request(): SessionRequest {
    return this.#session.request;
  }

  /** The initializer overrides the current session runs with; undefined for the file's own weights. */
  get initializerOverrides(): InitializerOverrides | undefined {
    return this.#session.overrides;
  }

  /**
   * Re-creates the UNet session with these weights replaced (LoRA), or with the file's own weights again
   * (`undefined`): the new session is made through the backend's factory, checked to have the same inputs
   * and outputs, and swapped in; the old one is released once the predictions running on it finish. The
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

  /** Releases the current session (after the predictions running on it); later predictions fail. */
  release(): Promise<void> {
    return this.#session.release();
  }

  /** The same as {@link release}. */
  dispose(): Promise<void> {
    return this.release();
  }
}

/** Rejects an option that is not an integer ≥ 1; `note` follows "an integer ≥ 1" in the message. */
function checkCount(name: string, value: number, note: string, fix: string): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError({
      name,
      value,
      expected: note ? `an integer ≥ 1 ${note}` : 'an integer ≥ 1',
      fix,
    });
  }
}

/** A width the configs give (`configured`) and the graph fixes (`declared`): they must agree. */
function agreeingDim(
  input: 'text_embeds' | 'time_ids',
  configured: number | undefined,
  declared: number | undefined,
  path: string,
): number | undefined {
  if (configured !== undefined && declared !== undefined && configured !== declared) {
    const said =
      input === 'text_embeds'
        ? 'text_encoder_2/config.json projection_dim'
        : 'model_index.json requires_aesthetics_score and unet/config.json projection_class_embeddings_input_dim (the refiner takes 5 time ids, the base and Turbo 6)';
    throw new ModelMismatchError(
      `${path} input "${input}" is [batch, ${declared}], but ${said} give${input === 'text_embeds' ? 's' : ''} ${configured}. Fix: use the UNet and configs of one SDXL export.`,
    );
  }
  return configured ?? declared;
}
