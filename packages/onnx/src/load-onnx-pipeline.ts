import {
  InvalidArgumentError,
  LatentkitError,
  type LoadedPipelineParts,
  ModelInvalidError,
  ModelMismatchError,
  ModelNotFoundError,
  type PromptEncoder,
  type Scheduler,
} from '@latentkit/core';
import { createScheduler } from '@latentkit/schedulers';
import type { InferenceSession } from 'onnxruntime-common';
import type { AdapterReader } from './adapters/adapter-reader.js';
import { OnnxModelAdapters } from './adapters/onnx-model-adapters.js';
import { checkComponentSizes, type SizeReading } from './check-components.js';
import { checkGroundedSessions, declaredGrounding } from './check-grounding.js';
import { ClipTokenizer } from './clip-tokenizer.js';
import { configValueError } from './config-ranges.js';
import { checkModelConfigs } from './model-config-checks.js';
import { type ConfigObject, readOptionalConfig } from './model-configs.js';
import { readModelIndex } from './model-index.js';
import { checkModelPath } from './model-paths.js';
import type { ModelSource } from './model-source.js';
import { OnnxPromptEncoder } from './onnx-prompt-encoder.js';
import { OnnxTextEncoder } from './onnx-text-encoder.js';
import { findInput, findOutput, fixedDim } from './ort-io.js';
import { checkSdxlConfigs } from './sdxl-config-checks.js';
import { SdxlPromptEncoder } from './sdxl-prompt-encoder.js';
import { checkSdxlSessions } from './sdxl-session-checks.js';
import type { SessionFactory, SessionRequest } from './session-factory.js';
import { UnetDenoiser, unetSizeMultiple } from './unet-denoiser.js';
import { VaeCodec } from './vae-codec.js';
import { VaeDecoderCodec } from './vae-decoder-codec.js';
import {
  float16VaeNanHint,
  float16VaeWarning,
  float32VaeFile,
  isFloat16Vae,
  vaeForceUpcast,
} from './vae-upcast.js';

/** The ONNX components of a model folder (`text_encoder_2` only in SDXL folders). */
export type OnnxComponentName = 'text_encoder' | 'text_encoder_2' | 'unet' | 'vae_decoder' | 'vae_encoder';

const ALL_COMPONENTS: readonly OnnxComponentName[] = [
  'text_encoder',
  'text_encoder_2',
  'unet',
  'vae_decoder',
  'vae_encoder',
];

/** Options of {@link loadOnnxPipeline}. */
export interface OnnxPipelineOptions {
  /**
   * A scheduler to use instead of the model's: a diffusers class name (`"EulerDiscreteScheduler"`) or an
   * A1111 name (`"DPM++ 2M Karras"`); it starts from the model's `scheduler_config.json`.
   */
  scheduler?: string;
  /** Values that override the model's `scheduler_config.json` (e.g. `{ timestep_spacing: 'trailing' }`). */
  schedulerConfig?: Readonly<Record<string, unknown>>;
  /**
   * Which ONNX components to load (default: all the folder has). `unet` and `vae_decoder` are always
   * needed; leave out `text_encoder` (SDXL: both `text_encoder` and `text_encoder_2`) to pass
   * `promptEmbeds` yourself, or `vae_encoder` when you never encode images — both save memory.
   */
  components?: readonly OnnxComponentName[];
  /**
   * Model files per component, relative to the folder (default `<component>/model.onnx`), e.g. the fp16
   * variant `{ unet: 'unet/model.fp16.onnx' }`. A float16 VAE file whose config says `force_upcast: true`
   * (SDXL's VAE overflows in float16) is replaced by the float32 `<folder>/model.onnx` beside it when there
   * is one; else it is kept and the load warns once (`onWarning`).
   */
  modelFiles?: Partial<Readonly<Record<OnnxComponentName, string>>>;
  /**
   * The default clip skip of the prompt encoder (A1111's; 1 = the model's default layer: the last for SD
   * 1.x/2.x, the penultimate for SDXL; N = N−1 layers further back).
   */
  clipSkip?: number;
  /** Parse A1111 attention syntax in prompts (default true). */
  promptWeighting?: boolean;
  /**
   * The most 75-token chunks one prompt may take (default 32 = 2,400 CLIP tokens; each `BREAK` starts a
   * chunk). A longer prompt is refused with a `LimitExceededError` before the text encoder runs.
   */
  maxPromptChunks?: number;
}

/** What a backend gives {@link loadOnnxPipeline} besides sessions and files. */
export interface OnnxBackendEnvironment {
  /**
   * Reads a LoRA or embedding file named by a string (`pipe.loadLoraWeights('./pink.safetensors')`): Node
   * reads paths and `http(s)` URLs, the browser fetches URLs. Without it only bytes are accepted.
   */
  readAdapter?: AdapterReader;
  /**
   * Receives the load's warnings (a float16 SDXL VAE kept despite `force_upcast`). Default `console.warn`.
   * Backends pass their `onWarning` option.
   */
  onWarning?: (message: string) => void;
}

/**
 * Every key of {@link OnnxPipelineOptions}, for backends that refuse unknown load options: typed so that
 * tsc fails when an option is added without it.
 */
export const ONNX_PIPELINE_OPTION_KEYS: Readonly<Record<keyof OnnxPipelineOptions, true>> = {
  scheduler: true,
  schedulerConfig: true,
  components: true,
  modelFiles: true,
  clipSkip: true,
  promptWeighting: true,
  maxPromptChunks: true,
};

/**
 * What {@link loadOnnxPipeline} returns: the parts of the pipeline, and for an x4 upscaler folder also its
 * low-res scheduler and `max_noise_level` (what `StableDiffusionUpscalePipeline.fromPretrained` needs).
 */
export type OnnxPipelineParts = LoadedPipelineParts & {
  /**
   * The x4 upscaler's scheduler that noises the low-res image (`low_res_scheduler/scheduler_config.json`, a
   * DDPM); only for an upscaler folder.
   */
  lowResScheduler?: Scheduler;
  /** The x4 upscaler's `max_noise_level` from `model_index.json` (default 350); only for an upscaler folder. */
  maxNoiseLevel?: number;
  /** Releases every session the parts hold. */
  dispose(): Promise<void>;
};

/** The x4 upscaler's `max_noise_level` when `model_index.json` has none (diffusers' default). */
export const DEFAULT_MAX_NOISE_LEVEL = 350;

function checkComponents(components: readonly OnnxComponentName[] | undefined): Set<OnnxComponentName> {
  if (components === undefined) return new Set(ALL_COMPONENTS);
  for (const c of components) {
    if (!ALL_COMPONENTS.includes(c)) {
      throw new InvalidArgumentError({
        name: 'components',
        value: c,
        expected: `component names from ${ALL_COMPONENTS.join(', ')}`,
      });
    }
  }
  for (const needed of ['unet', 'vae_decoder'] as const) {
    if (!components.includes(needed)) {
      throw new InvalidArgumentError({
        name: 'components',
        value: [...components],
        expected: `a list that includes "${needed}" (every pipeline needs it)`,
      });
    }
  }
  return new Set(components);
}

/**
 * The scheduler from `scheduler_config.json` and the options. The scheduler class checks its config and
 * throws typed errors; anything else it throws (a RangeError from a config it did not foresee) becomes a
 * ModelInvalidError naming the file.
 */
function makeScheduler(
  fileConfig: ConfigObject | undefined,
  options: Pick<OnnxPipelineOptions, 'scheduler' | 'schedulerConfig'>,
  location: string,
  file = 'scheduler/scheduler_config.json',
): Scheduler {
  const baseConfig = { ...fileConfig, ...options.schedulerConfig };
  const className = options.scheduler ?? baseConfig['_class_name'];
  if (typeof className !== 'string') {
    throw new InvalidArgumentError({
      name: `${file} _class_name`,
      value: className,
      expected: 'a scheduler class name such as "PNDMScheduler"',
      fix: file === 'scheduler/scheduler_config.json' ? 'pass options.scheduler' : 'correct the file',
    });
  }
  try {
    return createScheduler(className, baseConfig);
  } catch (err) {
    if (err instanceof LatentkitError) throw err;
    throw new ModelInvalidError(
      `${file} in ${location} cannot make a ${className}: ${(err as Error)?.message ?? String(err)}. Fix: correct the file (compare it with the scheduler config of the model the export came from).`,
      { cause: err },
    );
  }
}

/**
 * The x4 upscaler's `max_noise_level` from `model_index.json` (default 350): an integer from 0 to the
 * low-res scheduler's `num_train_timesteps − 1` (its noise schedule is indexed by it) and below the UNet's
 * `num_class_embeds` (the noise level is the class label).
 */
function maxNoiseLevelOf(
  raw: Readonly<Record<string, unknown>>,
  lowRes: Scheduler,
  numClassEmbeds: number | undefined,
  location: string,
): number {
  const value = raw['max_noise_level'] ?? DEFAULT_MAX_NOISE_LEVEL;
  const trained = lowRes.config['num_train_timesteps'];
  const steps = typeof trained === 'number' ? trained : 1000;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= steps) {
    throw configValueError(
      { file: 'model_index.json', location },
      'max_noise_level',
      value,
      `an integer from 0 to ${steps - 1} (the low-res scheduler's num_train_timesteps − 1)`,
      'correct the file (the x4 upscaler has 350), or re-export the model',
    );
  }
  if (numClassEmbeds !== undefined && value >= numClassEmbeds) {
    throw new ModelMismatchError(
      `The components of ${location} do not fit together: model_index.json max_noise_level = ${value}, but unet/config.json num_class_embeds = ${numClassEmbeds} (the noise level is the UNet's class label, so it must be below num_class_embeds). Fix: use the UNet and model_index.json of one export.`,
    );
  }
  return value;
}

async function requireFile(source: ModelSource, path: string, what: string): Promise<void> {
  if (!(await source.exists(path))) {
    throw new ModelNotFoundError(`${path} (${what}) not found in the model folder ${source.location}.`);
  }
}

/**
 * Loads the parts of a Stable Diffusion 1.x/2.x or SDXL model from a folder in the diffusers/Optimum ONNX layout:
 * reads `model_index.json` and the configs, creates the ONNX sessions through the backend's
 * {@link SessionFactory}, checks that the components fit together, and returns the prompt encoder (CLIP
 * tokenizer + text encoder), the UNet denoiser, the VAE codec and the scheduler.
 *
 * An x4 upscaler folder (`model_index.json` `_class_name: "StableDiffusionUpscalePipeline"`, see
 * docs/model-folders.md) loads too: its parts also hold `lowResScheduler` (from
 * `low_res_scheduler/scheduler_config.json`) and `maxNoiseLevel` (`max_noise_level`, default 350), the
 * denoiser feeds `class_labels`, and the codec is a decode-only {@link VaeDecoderCodec} (downscale 4, from
 * `vae_decoder/model.onnx`, or `vae/model.onnx` as diffusers' `OnnxStableDiffusionUpscalePipeline` has it).
 *
 * A GLIGEN folder (`_class_name: "StableDiffusionGLIGENPipeline"`, a UNet with the `gligen_*` inputs of
 * docs/layout-to-image.md, "ONNX convention") loads as an SD 1.x folder whose denoiser has `grounding`; the
 * loader checks that the pipeline class, `unet/config.json` `attention_type` and the UNet graph agree, and
 * that the phrase embedding width is the text encoder's pooled width.
 *
 * An SDXL folder (`StableDiffusionXL(Img2Img|Inpaint)?Pipeline`, docs/model-folders.md "SDXL") loads with
 * both text encoders (`text_encoder` is absent in the refiner) into an {@link SdxlPromptEncoder}, a UNet
 * denoiser with `microConditioning` (`text_embeds`, `time_ids`), and `parts.sdxl` from `model_index.json`;
 * the configs of the UNet, both text encoders and `requires_aesthetics_score` must agree
 * ({@link checkSdxlConfigs}), as must the graphs ({@link checkSdxlSessions}). A float16 VAE whose config
 * says `force_upcast` is replaced by the float32 `model.onnx` beside it, or kept with one warning
 * (`environment.onWarning`).
 *
 * Backends call this from their `load`: `StableDiffusionPipeline.fromPretrained(dir, { backend })`. The
 * parts own their sessions: `dispose` releases them, and a load that fails part-way releases those it
 * had made before throwing.
 *
 * Every number read from the component configs is checked against a sane range (see
 * {@link checkModelConfigs}) and the scheduler is made from its config before any session is created.
 *
 * @throws {@link @latentkit/core!ModelNotFoundError} for a missing file (named, with the folder);
 *   {@link @latentkit/core!ModelInvalidError} for a malformed file, a config value out of range (naming the
 *   file, key, value, range and fix), a path leaving the folder or an export with unexpected inputs;
 *   {@link @latentkit/core!ModelMismatchError} for components that do not fit together;
 *   {@link @latentkit/core!NotImplementedError} for SDXL pipelines other than base / img2img / inpaint; `UnknownSchedulerError` for an unknown scheduler
 *   name; {@link @latentkit/core!InvalidArgumentError} for bad options.
 */
export async function loadOnnxPipeline(
  source: ModelSource,
  sessions: SessionFactory,
  options: OnnxPipelineOptions = {},
  environment: OnnxBackendEnvironment = {},
): Promise<OnnxPipelineParts> {
  const wanted = checkComponents(options.components);
  const maxChunks = options.maxPromptChunks;
  if (maxChunks !== undefined && (!Number.isInteger(maxChunks) || maxChunks < 1)) {
    throw new InvalidArgumentError({
      name: 'maxPromptChunks',
      value: maxChunks,
      expected: 'an integer ≥ 1 (the default is 32 chunks of 75 tokens)',
      fix: 'leave it out for the default, or pass a whole number such as 64',
    });
  }
  const index = await readModelIndex(source); // checks the pipeline class (SD 1.x/2.x, x4 upscaler)
  const upscale = index.kind === 'upscale';
  if (upscale && options.components?.includes('vae_encoder')) {
    throw new InvalidArgumentError({
      name: 'components',
      value: [...options.components],
      expected: `a list without "vae_encoder": ${source.location} is an x4 upscaler, whose VAE only decodes`,
      fix: 'leave "vae_encoder" out',
    });
  }

  const files = {} as Record<OnnxComponentName, string>;
  for (const c of ALL_COMPONENTS)
    files[c] = checkModelPath(options.modelFiles?.[c] ?? `${c}/model.onnx`, `${c} model file`);
  // diffusers' OnnxStableDiffusionUpscalePipeline keeps its decoder in vae/model.onnx
  if (
    upscale &&
    options.modelFiles?.vae_decoder === undefined &&
    !(await source.exists(files.vae_decoder)) &&
    (await source.exists('vae/model.onnx'))
  ) {
    files.vae_decoder = 'vae/model.onnx';
  }
  const sdxl = index.sdxl;
  const asked = (c: OnnxComponentName): boolean => options.components?.includes(c) ?? false;
  if (!sdxl && asked('text_encoder_2')) {
    throw new InvalidArgumentError({
      name: 'components',
      value: [...(options.components ?? [])],
      expected: `a list without "text_encoder_2": ${source.location} is not an SDXL model (model_index.json names ${index.className})`,
      fix: 'leave "text_encoder_2" out',
    });
  }

  // Required files first, so a missing one is reported before any session is made.
  await requireFile(source, 'scheduler/scheduler_config.json', 'the scheduler config');
  if (upscale) {
    await requireFile(
      source,
      'low_res_scheduler/scheduler_config.json',
      "the x4 upscaler's low-res scheduler config",
    );
  }
  await requireFile(source, files.unet, 'the UNet');
  await requireFile(source, files.vae_decoder, 'the VAE decoder');
  // SDXL: the refiner has no first text encoder (model_index.json "text_encoder": [null, null]).
  const hasText1 = !sdxl || 'text_encoder' in index.components || asked('text_encoder');
  const loadText = wanted.has('text_encoder') && hasText1;
  const loadText2 = sdxl !== undefined && wanted.has('text_encoder_2');
  if (sdxl && loadText && !loadText2) {
    throw new InvalidArgumentError({
      name: 'components',
      value: [...(options.components ?? [])],
      expected:
        'both "text_encoder" and "text_encoder_2", or neither: SDXL encodes prompts with both (the pooled embedding comes from text_encoder_2)',
      fix: 'add "text_encoder_2", or leave both out and pass promptEmbeds with textEmbeds',
    });
  }
  if (loadText) {
    await requireFile(source, files.text_encoder, 'the text encoder');
    await requireFile(source, 'tokenizer/vocab.json', 'the CLIP tokenizer vocabulary');
    await requireFile(source, 'tokenizer/merges.txt', 'the CLIP tokenizer merges');
  }
  if (loadText2) {
    await requireFile(
      source,
      files.text_encoder_2,
      "SDXL's second text encoder, OpenCLIP bigG with projection",
    );
    await requireFile(source, 'tokenizer_2/vocab.json', "the second text encoder's tokenizer vocabulary");
    await requireFile(source, 'tokenizer_2/merges.txt', "the second text encoder's tokenizer merges");
  }
  // The VAE encoder is optional: text-to-image works without it; the x4 upscaler never encodes.
  const loadEncoder = !upscale && wanted.has('vae_encoder') && (await source.exists(files.vae_encoder));
  if (options.components?.includes('vae_encoder') && !loadEncoder) {
    await requireFile(source, files.vae_encoder, 'the VAE encoder');
  }

  const [
    schedulerConfig,
    unetConfig,
    textConfig,
    text2Config,
    vaeDecoderConfig,
    vaeEncoderConfig,
    vaeConfig,
    lowResConfig,
  ] = await Promise.all([
    readOptionalConfig(source, 'scheduler/scheduler_config.json'),
    readOptionalConfig(source, 'unet/config.json'),
    loadText || (sdxl && hasText1) ? readOptionalConfig(source, 'text_encoder/config.json') : undefined,
    sdxl ? readOptionalConfig(source, 'text_encoder_2/config.json') : undefined,
    readOptionalConfig(source, 'vae_decoder/config.json'),
    readOptionalConfig(source, 'vae_encoder/config.json'),
    readOptionalConfig(source, 'vae/config.json'),
    upscale ? readOptionalConfig(source, 'low_res_scheduler/scheduler_config.json') : undefined,
  ]);
  // Every config number in range, before anything is allocated (a scaling factor of 0 made NaN images,
  // a sample_size of 1e6 a RangeError).
  const config = checkModelConfigs(
    {
      unet: unetConfig,
      textEncoder: textConfig,
      vaeDecoder: vaeDecoderConfig,
      vaeEncoder: vaeEncoderConfig,
      vae: vaeConfig,
    },
    source.location,
  );
  // SDXL: the UNet's cross-attention and added-embedding sizes against both text encoders and the time ids.
  const sdxlSizes = sdxl
    ? checkSdxlConfigs(
        {
          unet: unetConfig,
          textEncoder: textConfig,
          textEncoder2: text2Config,
          hasTextEncoder: hasText1,
          pipeline: sdxl,
        },
        source.location,
      )
    : undefined;
  // diffusers upcasts a float16 VAE with force_upcast in its SDXL pipelines only (SD 1.x VAEs say it too)
  const forceUpcastConfig = vaeForceUpcast(
    [
      { file: 'vae_decoder/config.json', config: vaeDecoderConfig },
      { file: 'vae_encoder/config.json', config: vaeEncoderConfig },
      { file: 'vae/config.json', config: vaeConfig },
    ],
    source.location,
  );
  const forceUpcast = sdxl !== undefined && forceUpcastConfig;
  // Configs alone can show a mismatch before any (slow, large) session is created. SDXL's text sizes are
  // checked by checkSdxlConfigs (the UNet attends to both encoders' hidden states concatenated).
  checkComponentSizes(
    {
      textHiddenSize: sdxl
        ? []
        : [{ from: 'text_encoder/config.json hidden_size', value: config.textHiddenSize }],
      unetCrossAttentionDim: [
        { from: 'unet/config.json cross_attention_dim', value: config.unetCrossAttentionDim },
      ],
      latentChannels: [
        { from: 'VAE config.json latent_channels', value: config.latentChannels },
        { from: 'unet/config.json out_channels', value: config.unetOutChannels },
      ],
      unetInChannels: [{ from: 'unet/config.json in_channels', value: config.unetInChannels }],
      kind: index.kind,
    },
    source.location,
  );
  // A GLIGEN folder (model_index.json, unet/config.json attention_type) must agree with itself.
  const grounding = declaredGrounding(index.className, index.grounded, unetConfig, source.location);
  // The scheduler too: its class checks its config (num_train_timesteps: 3e8 used to abort V8 here).
  const scheduler = makeScheduler(schedulerConfig, options, source.location);
  // The upscaler's low-res scheduler (never swapped by options) and max_noise_level.
  const lowResScheduler = upscale
    ? makeScheduler(lowResConfig, {}, source.location, 'low_res_scheduler/scheduler_config.json')
    : undefined;
  const maxNoiseLevel = lowResScheduler
    ? maxNoiseLevelOf(index.raw, lowResScheduler, config.unetNumClassEmbeds, source.location)
    : undefined;

  const request = (component: OnnxComponentName): SessionRequest => ({
    component,
    modelPath: files[component],
    source,
  });
  const created: InferenceSession[] = [];
  const open = async (component: OnnxComponentName): Promise<InferenceSession> => {
    const session = await sessions.create(request(component));
    created.push(session);
    return session;
  };
  const releaseAll = async (): Promise<void> => {
    await Promise.allSettled(created.splice(0).map((s) => s.release?.()));
  };
  // A float16 VAE of a force_upcast config (SDXL's): the float32 model.onnx beside it when there is one.
  const float16Vaes: string[] = [];
  const upcastVae = async (
    component: 'vae_decoder' | 'vae_encoder',
    session: InferenceSession,
    input: 'latent_sample' | 'sample',
  ): Promise<InferenceSession> => {
    if (!forceUpcast || !isFloat16Vae(session, input)) return session;
    const fallback = float32VaeFile(files[component]);
    if (fallback !== undefined && (await source.exists(fallback))) {
      created.splice(created.indexOf(session), 1);
      await session.release?.();
      files[component] = fallback;
      const float32 = await open(component);
      if (!isFloat16Vae(float32, input)) return float32;
      float16Vaes.push(fallback);
      return float32;
    }
    float16Vaes.push(files[component]);
    return session;
  };

  try {
    // allSettled: every session that opens is known (and released) even when another one fails
    const settled = await Promise.allSettled([
      open('unet'),
      open('vae_decoder'),
      loadText ? open('text_encoder') : undefined,
      loadEncoder ? open('vae_encoder') : undefined,
      loadText ? ClipTokenizer.fromSource(source) : undefined,
      loadText2 ? open('text_encoder_2') : undefined,
      loadText2 ? ClipTokenizer.fromSource(source, 'tokenizer_2') : undefined,
    ] as const);
    for (const r of settled) if (r.status === 'rejected') throw r.reason;
    const value = <T>(r: PromiseSettledResult<T>): T => (r as PromiseFulfilledResult<T>).value;
    const unetSession = value(settled[0]);
    const decoderSession = await upcastVae('vae_decoder', value(settled[1]), 'latent_sample');
    const textSession = value(settled[2]);
    const encoderSessionRaw = value(settled[3]);
    const encoderSession = encoderSessionRaw && (await upcastVae('vae_encoder', encoderSessionRaw, 'sample'));
    const tokenizer = value(settled[4]);
    const text2Session = value(settled[5]);
    const tokenizer2 = value(settled[6]);
    if (float16Vaes.length > 0)
      (environment.onWarning ?? console.warn)(float16VaeWarning(float16Vaes, source.location));

    if (tokenizer && config.textVocabSize !== undefined && tokenizer.maxTokenId >= config.textVocabSize) {
      throw new ModelMismatchError(
        `The components of ${source.location} do not fit together: tokenizer/vocab.json has token ids up to ${tokenizer.maxTokenId}, but text_encoder/config.json vocab_size = ${config.textVocabSize}. Fix: use the tokenizer that belongs to the text encoder (from the same export).`,
      );
    }
    const vocab2 = sdxlSizes?.text2VocabSize;
    if (tokenizer2 && vocab2 !== undefined && tokenizer2.maxTokenId >= vocab2) {
      throw new ModelMismatchError(
        `The components of ${source.location} do not fit together: tokenizer_2/vocab.json has token ids up to ${tokenizer2.maxTokenId}, but text_encoder_2/config.json vocab_size = ${vocab2}. Fix: use the tokenizer that belongs to the text encoder (from the same export).`,
      );
    }
    const unetSample = findInput(unetSession, 'sample');
    const encoderLatent = encoderSession && findOutput(encoderSession, 'latent_sample');
    const encoderParams = encoderSession && findOutput(encoderSession, 'latent_parameters');
    const paramChannels = fixedDim(encoderParams, 1);
    const textWidth = (s: InferenceSession | undefined) =>
      s ? fixedDim(findOutput(s, 'last_hidden_state'), 2) : undefined;
    const width1 = textWidth(textSession);
    const width2 = textWidth(text2Session);
    const textHiddenSize: SizeReading[] = sdxl
      ? [
          {
            from: loadText
              ? `${files.text_encoder} + ${files.text_encoder_2} hidden states`
              : `${files.text_encoder_2} hidden states`,
            value:
              width2 === undefined || (loadText && width1 === undefined) ? undefined : (width1 ?? 0) + width2,
          },
        ]
      : [
          { from: 'text_encoder/config.json hidden_size', value: config.textHiddenSize },
          { from: `${files.text_encoder} output last_hidden_state`, value: width1 },
        ];
    const agreed = checkComponentSizes(
      {
        textHiddenSize,
        unetCrossAttentionDim: [
          { from: 'unet/config.json cross_attention_dim', value: config.unetCrossAttentionDim },
          {
            from: `${files.unet} input encoder_hidden_states`,
            value: fixedDim(findInput(unetSession, 'encoder_hidden_states'), 2),
          },
        ],
        latentChannels: [
          { from: 'VAE config.json latent_channels', value: config.latentChannels },
          { from: 'unet/config.json out_channels', value: config.unetOutChannels },
          {
            from: `${files.unet} output out_sample`,
            value: fixedDim(findOutput(unetSession, 'out_sample'), 1),
          },
          {
            from: `${files.vae_decoder} input latent_sample`,
            value: fixedDim(findInput(decoderSession, 'latent_sample'), 1),
          },
          { from: `${files.vae_encoder} output latent_sample`, value: fixedDim(encoderLatent, 1) },
          {
            from: `${files.vae_encoder} output latent_parameters / 2`,
            value: paramChannels === undefined ? undefined : paramChannels / 2,
          },
        ],
        unetInChannels: [
          { from: 'unet/config.json in_channels', value: config.unetInChannels },
          { from: `${files.unet} input sample`, value: fixedDim(unetSample, 1) },
        ],
        kind: index.kind,
      },
      source.location,
    );

    const sampleSize = config.unetSampleSize;
    const denoiser = new UnetDenoiser(unetSession, sessions, {
      request: request('unet'),
      ...(agreed.inChannels !== undefined ? { inChannels: agreed.inChannels } : {}),
      ...(sampleSize !== undefined ? { sampleSize } : {}),
      ...(agreed.hiddenSize !== undefined ? { crossAttentionDim: agreed.hiddenSize } : {}),
      sizeMultiple: unetSizeMultiple(unetConfig) ?? 1,
      ...(config.unetNumClassEmbeds !== undefined ? { numClassEmbeds: config.unetNumClassEmbeds } : {}),
      ...(sdxlSizes?.textEmbedsDim !== undefined ? { textEmbedsDim: sdxlSizes.textEmbedsDim } : {}),
      ...(sdxlSizes ? { timeIdCount: sdxlSizes.timeIdCount } : {}),
    });
    if (upscale && !denoiser.takesClassLabels) {
      throw new ModelInvalidError(
        `${files.unet} in ${source.location} has no input "class_labels" (its inputs: ${unetSession.inputNames.join(', ')}), but an x4 upscaler's UNet takes the noise level as class_labels. Fix: export the UNet with class_labels (docs/model-folders.md, "x4 upscaler").`,
      );
    }
    let textEncoder: OnnxTextEncoder | undefined;
    if (textSession && tokenizer) {
      const eps = config.layerNormEps;
      textEncoder = new OnnxTextEncoder(textSession, sessions, {
        request: request('text_encoder'),
        ...(eps !== undefined ? { layerNormEps: eps } : {}),
      });
    }
    let textEncoder2: OnnxTextEncoder | undefined;
    if (text2Session && tokenizer2) {
      const eps = sdxlSizes?.text2LayerNormEps;
      textEncoder2 = new OnnxTextEncoder(text2Session, sessions, {
        request: request('text_encoder_2'),
        ...(eps !== undefined ? { layerNormEps: eps } : {}),
      });
    }
    if (sdxl || denoiser.microConditioning) {
      checkSdxlSessions(
        {
          className: index.className,
          sdxl: sdxlSizes,
          denoiser,
          unetFile: files.unet,
          textEncoder,
          textEncoder2,
        },
        source.location,
      );
    }
    checkGroundedSessions(
      grounding,
      {
        unetFile: files.unet,
        grounding: denoiser.grounding,
        textEncoderLoaded: textEncoder !== undefined,
        textEncoderFile: files.text_encoder,
        hasPooledOutput: textEncoder?.hasPooledOutput ?? false,
        pooledSize: textEncoder?.pooledSize ?? config.textHiddenSize,
        pooledFrom:
          textEncoder?.pooledSize !== undefined
            ? `${files.text_encoder} output pooler_output`
            : 'text_encoder/config.json hidden_size',
      },
      source.location,
    );
    const vae = {
      decoder: { session: decoderSession, request: request('vae_decoder') },
      scalingFactor: config.scalingFactor,
      shiftFactor: config.shiftFactor,
      latentChannels: agreed.latentChannels ?? 4,
      downscale: config.downscale,
    };
    const codec = upscale
      ? new VaeDecoderCodec(sessions, vae)
      : new VaeCodec(sessions, {
          ...vae,
          ...(encoderSession
            ? { encoder: { session: encoderSession, request: request('vae_encoder') } }
            : {}),
          ...(float16Vaes.includes(files.vae_decoder)
            ? { nonFiniteHint: float16VaeNanHint(files.vae_decoder) }
            : {}),
        });

    const promptOptions = {
      ...(options.clipSkip !== undefined ? { clipSkip: options.clipSkip } : {}),
      ...(options.promptWeighting !== undefined ? { promptWeighting: options.promptWeighting } : {}),
      ...(options.maxPromptChunks !== undefined ? { maxChunks: options.maxPromptChunks } : {}),
    };
    let promptEncoder: PromptEncoder | undefined;
    if (sdxl && textEncoder2 && tokenizer2) {
      promptEncoder = new SdxlPromptEncoder(
        textEncoder && tokenizer ? { tokenizer, textEncoder } : undefined,
        { tokenizer: tokenizer2, textEncoder: textEncoder2 },
        promptOptions,
      );
    } else if (!sdxl && textEncoder && tokenizer) {
      promptEncoder = new OnnxPromptEncoder(tokenizer, textEncoder, promptOptions);
    }

    // The UNet and the text encoders may have re-created their sessions (initializer overrides): they
    // release their current ones; the other sessions are released as made.
    const swappable = new Set<InferenceSession | undefined>([
      unetSession,
      textEncoder ? textSession : undefined,
      textEncoder2 ? text2Session : undefined,
    ]);
    const dispose = async (): Promise<void> => {
      const own = created.splice(0).filter((s) => !swappable.has(s));
      await Promise.allSettled([
        denoiser.release(),
        textEncoder?.release(),
        textEncoder2?.release(),
        ...own.map((s) => s.release?.()),
      ]);
    };
    const parts: OnnxPipelineParts = { denoiser, codec, scheduler, dispose };
    if (promptEncoder) parts.promptEncoder = promptEncoder;
    if (sdxl) parts.sdxl = { ...sdxl };
    // LoRA and textual inversion patch the UNet's and text encoders' weights (docs/lora-and-embeddings.md)
    parts.adapters = new OnnxModelAdapters({
      components: {
        unet: denoiser,
        ...(textEncoder ? { text_encoder: textEncoder } : {}),
        ...(textEncoder2 ? { text_encoder_2: textEncoder2 } : {}),
      },
      ...(environment.readAdapter ? { read: environment.readAdapter } : {}),
      ...(tokenizer ? { tokenizer } : {}),
      ...(tokenizer2 ? { tokenizer2 } : {}),
    });
    if (lowResScheduler) parts.lowResScheduler = lowResScheduler;
    if (maxNoiseLevel !== undefined) parts.maxNoiseLevel = maxNoiseLevel;
    return parts;
  } catch (err) {
    await releaseAll();
    throw err;
  }
}
