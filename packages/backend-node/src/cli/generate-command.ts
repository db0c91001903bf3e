import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import {
  approximateLatentsToRgb,
  decodeLatentsToRgb,
  type GenerateResult,
  type GenerationParameters,
  hiresFix,
  hiresGenerationParameters,
  InvalidArgumentError,
  type LatentCodec,
  LimitExceededError,
  ModelMismatchError,
  ModelNotFoundError,
  NotImplementedError,
  type PipelineBase,
  type RgbaImage,
  SDXL_DEFAULTS,
  StableDiffusionGLIGENPipeline,
  StableDiffusionPipeline,
  StableDiffusionUpscalePipeline,
  StableDiffusionXLPipeline,
  type Tensor,
  TorchGenerator,
} from '@latentkit/core';
import {
  shapesLayoutDefaults,
  shapesLayoutModelPath,
  shapesModelDefaults,
  shapesModelName,
  shapesModelPath,
  shapesUpscalerDefaults,
  shapesUpscalerPath,
} from '@latentkit/model-shapes';
import type { OnnxComponentName } from '@latentkit/onnx';
import { a1111SamplerName, createScheduler } from '@latentkit/schedulers';
import type { CpuMemoryMode } from '../cpu-memory.js';
import type { ExecutionProviderName } from '../execution-providers.js';
import { generationParametersFrom } from '../generation-parameters.js';
import { nodeBackend } from '../node-backend.js';
import { readPng, writePng } from '../png.js';
import { InterruptedError, UsageError } from './cli-error.js';
import { MAX_IMAGES_PER_RUN } from './cli-limits.js';
import { checkHiresFlags, type HiresFlags, hiresOptions } from './hires-flags.js';
import { checkHubFlags, type HubFlags, hubLoadOptions, isHubModelFlag, modelLabel } from './hub-flags.js';
import { checkLayoutFlags, formatBox, type LayoutFlags } from './layout-flags.js';
import { checkLoraFlags, type LoadedAdapters, type LoraFlags, loadAdapterFlags } from './lora-flags.js';
import { checkOutputPaths, outputPaths } from './output-paths.js';
import { createStepProgress } from './progress.js';
import { readPromptInput } from './prompt-input.js';
import { checkSchedulerName } from './scheduler-choice.js';
import { schedulerDisplayName } from './scheduler-name.js';
import { checkSdxlFlags, checkSdxlModel, DEFAULT_HIGH_NOISE_FRAC, type SdxlFlags } from './sdxl-flags.js';
import { type SdxlRefiner, sdxlStep } from './sdxl-step.js';
import { requireShippedLayoutModel, requireShippedModel } from './shipped-model.js';
import { fewStepsWarning } from './step-minimums.js';
import { textToImageComponents } from './text-to-image-components.js';
import { unlessAborted } from './unless-aborted.js';
import { checkUpscaleFlags, type UpscaleFlags, X4_UPSCALER_DEFAULTS } from './upscale-flags.js';
import { upscaleStep } from './upscale-step.js';

/** The flags of `latentkit generate`, as commander parsed them. */
export interface GenerateFlags extends HiresFlags, UpscaleFlags, LayoutFlags, LoraFlags, HubFlags, SdxlFlags {
  model?: string;
  negative?: string;
  negativeFile?: string;
  promptFile?: string;
  steps?: number;
  guidance?: number;
  scheduler?: string;
  seed?: number | bigint;
  width?: number;
  height?: number;
  n: number;
  image?: string;
  strength?: number;
  mask?: string;
  out?: string;
  preview?: string;
  previewApprox?: boolean;
  vaeTiling?: boolean;
  vaeTileSize?: number;
  provider: ExecutionProviderName[];
  cpuMemory?: CpuMemoryMode;
  json?: boolean;
}

/** Where the command reads and writes: stdout for results, stderr for progress and warnings, stdin for `-`. */
export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Read when the prompt is `-`. */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
}

/** What `--json` prints. */
export interface GenerateSummary {
  /** The files written, in order (on Ctrl-C: those finished before it). */
  files: string[];
  /** The seed of each file. */
  seeds: string[];
  prompt: string;
  negativePrompt: string;
  width: number;
  height: number;
  steps: number;
  guidance: number;
  scheduler: string;
  model: string;
  /** The pipeline class that ran, picked from the model (e.g. `StableDiffusionXLPipeline` for an SDXL folder). */
  pipeline: string;
  providers: Record<string, string>;
  /** With `--refiner`: the refiner's folder, the switch (`--high-noise-frac`) and its providers. */
  refiner?: { model: string; highNoiseFrac: number; providers: Record<string, string> };
  /** With `--hires-scale`: the hires settings as resolved (the images are `width × height`, the hires size). */
  hires?: { scale: number; strength: number; steps: number; upscaler: string; firstPassSize: string };
  /** With `--upscale 4`: the x4 upscaler's folder and settings (the images are 4× the generated size). */
  upscale?: { factor: number; model: string; steps: number; guidance: number; noiseLevel: number };
  /** With `--box`: the layout as `phrase@x0,y0,x1,y1` strings, and the GLIGEN scheduled-sampling beta. */
  layout?: { boxes: string[]; beta: number };
  /** With `--lora` / `--embedding`: the adapters loaded (LoRA name = file stem) and the embeddings' tokens. */
  adapters?: LoadedAdapters;
  /** With `--vae-tiling`: the tile geometry of the model's VAE. */
  vaeTiling?: { tileSampleSize: number; tileOverlapFactor: number };
  /** True when Ctrl-C stopped the run before all `--n` images were made. */
  interrupted: boolean;
  timings: { loadMs: number; generateMs: number; writeMs: number; totalMs: number };
}

/** Steps and guidance when neither the flags nor the shipped model's card say otherwise. */
const OTHER_MODEL_DEFAULTS = { numInferenceSteps: 20, guidanceScale: 7.5 } as const;

/** diffusers' `StableDiffusionGLIGENPipeline` default beta, for GLIGEN models without a card of ours. */
const OTHER_GLIGEN_BETA = 0.3;

async function requireFolder(path: string): Promise<void> {
  const isFolder = await stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
  // a Hugging Face Hub id: nodeBackend downloads it into the HF cache, or finds it there
  if (!isFolder && !isHubModelFlag(path)) {
    throw new ModelNotFoundError(
      `Model folder ${resolve(path)} does not exist. Fix: pass --model the folder of a diffusers ONNX export (it holds model_index.json), or a Hugging Face Hub id org/name.`,
    );
  }
}

/** The `components` load option, or none (all the model has). */
function componentsOption(components: readonly OnnxComponentName[] | undefined): {
  components?: readonly OnnxComponentName[];
} {
  return components ? { components } : {};
}

function addToSeed(seed: number | bigint, i: number): number | bigint {
  if (typeof seed === 'bigint') return seed + BigInt(i);
  const next = seed + i;
  return Number.isSafeInteger(next) ? next : BigInt(seed) + BigInt(i);
}

const MAX_SEED = 2n ** 64n - 1n;

/** The last image's seed (seed + n − 1) must still be a torch seed. */
function checkSeedRange(seed: number | bigint, n: number): void {
  if (BigInt(seed) + BigInt(n - 1) > MAX_SEED) {
    throw new InvalidArgumentError({
      name: '--seed',
      value: String(seed),
      expected: `a seed with seed + ${n - 1} ≤ 2^64 − 1 (image i uses seed + i − 1)`,
      fix: `use --seed ${MAX_SEED - BigInt(n - 1)} or less`,
    });
  }
}

function checkImageCount(n: number): void {
  if (n > MAX_IMAGES_PER_RUN) {
    throw new LimitExceededError({
      name: '--n',
      value: n,
      expected: `at most ${MAX_IMAGES_PER_RUN} images per run`,
      fix: `run the command several times, the next with --seed <seed + ${MAX_IMAGES_PER_RUN}>`,
    });
  }
}

/** The img2img strength must leave at least one step: diffusers' floor(steps · strength) ≥ 1. */
function checkStrength(strength: number | undefined, steps: number): void {
  if (strength === undefined) return;
  if (Math.min(Math.floor(steps * strength), steps) < 1) {
    throw new InvalidArgumentError({
      name: '--strength',
      value: strength,
      expected: `a strength in (0, 1] that leaves at least one of the ${steps} steps (floor(steps · strength) ≥ 1)`,
      fix:
        strength > 0
          ? `use --strength ${1 / steps} or more, or --steps ${Math.ceil(1 / strength)} or more`
          : `use --strength ${1 / steps} or more (strength 0 would return --image unchanged)`,
    });
  }
}

/** `latentkit generate "<prompt>" …`: generates images one at a time and writes each PNG as it finishes. */
export async function runGenerate(
  promptArgument: string | undefined,
  flags: GenerateFlags,
  io: CommandIo,
): Promise<GenerateSummary> {
  const started = performance.now();
  // Everything the user gave is checked before the model is loaded.
  if (flags.mask && !flags.image) throw new UsageError('--mask needs --image (the picture to inpaint).');
  if (flags.strength !== undefined && !flags.image)
    throw new UsageError('--strength needs --image (img2img).');
  if (flags.previewApprox && !flags.preview) throw new UsageError('--preview-approx needs --preview FILE.');
  const hires = checkHiresFlags(flags);
  // --box: layout-to-image (StableDiffusionGLIGENPipeline), text-to-image only.
  const layout = checkLayoutFlags(flags);
  // --refiner DIR (SDXL's base + refiner hand-off), --high-noise-frac
  const refinerDir = await checkSdxlFlags(flags);
  if (flags.vaeTileSize !== undefined && !flags.vaeTiling)
    throw new UsageError('--vae-tile-size needs --vae-tiling.');
  if (promptArgument === '-' && flags.negative === '-') {
    throw new UsageError('the prompt and --negative cannot both be "-" (stdin): use --negative-file FILE.');
  }
  const prompt = await readPromptInput({
    argument: promptArgument,
    file: flags.promptFile,
    fileFlag: '--prompt-file',
    what: 'prompt',
    stdin: io.stdin,
  });
  if (prompt === undefined) {
    throw new UsageError(
      'no prompt: pass it as an argument, "-" to read it from stdin, or --prompt-file FILE.',
    );
  }
  const negativePrompt =
    (await readPromptInput({
      argument: flags.negative,
      file: flags.negativeFile,
      fileFlag: '--negative-file',
      what: 'negative prompt',
      stdin: io.stdin,
    })) ?? '';
  checkImageCount(flags.n);
  await checkLoraFlags(flags);
  await checkHubFlags(flags);
  if (flags.model !== undefined) await requireFolder(flags.model);
  else if (layout) await requireShippedLayoutModel();
  else await requireShippedModel();

  // Without --model: the shipped shapes model, or with --box the shipped shapes layout model.
  const modelDir = flags.model ?? (layout ? shapesLayoutModelPath : shapesModelPath);
  const modelName = await modelLabel(modelDir, flags.revision); // a folder, or a hub id
  // The shipped models' cards recommend their own settings; other models get A1111-like defaults.
  const defaults =
    flags.model !== undefined ? OTHER_MODEL_DEFAULTS : layout ? shapesLayoutDefaults : shapesModelDefaults;
  const steps = flags.steps ?? defaults.numInferenceSteps;
  let guidance = flags.guidance ?? defaults.guidanceScale;
  const beta =
    flags.gligenBeta ??
    (flags.model === undefined ? shapesLayoutDefaults.gligenScheduledSamplingBeta : OTHER_GLIGEN_BETA);
  checkStrength(flags.strength, steps);

  // A1111's random seed range; printed (and written into the PNG) so the image can be made again.
  const seed = flags.seed ?? randomInt(0, 4294967294);
  checkSeedRange(seed, flags.n);
  const files = outputPaths(flags.out, flags.n, seed);
  checkOutputPaths(files);
  if (flags.preview !== undefined) {
    checkOutputPaths([flags.preview], '--preview');
    if (files.some((f) => resolve(f) === resolve(flags.preview!))) {
      throw new InvalidArgumentError({
        name: '--preview',
        value: flags.preview,
        expected: 'a file other than the output images (each step overwrites it)',
        fix: 'pass another file name, e.g. preview.png',
      });
    }
  }
  const image: RgbaImage | undefined = flags.image ? await readPng(flags.image) : undefined;
  const mask: RgbaImage | undefined = flags.mask ? await readPng(flags.mask) : undefined;
  // An unknown scheduler name fails here, before model loading, with a "did you mean".
  if (flags.scheduler) checkSchedulerName(flags.scheduler);
  // Without --upscaler-model: the shapes world's x4 upscaler that ships beside the model, with its card's settings.
  const shippedUpscaler = existsSync(join(shapesUpscalerPath, 'model_index.json'))
    ? shapesUpscalerPath
    : undefined;
  const upscalerDir = await checkUpscaleFlags(flags, shippedUpscaler);
  const upscaleDefaults = flags.upscalerModel === undefined ? shapesUpscalerDefaults : X4_UPSCALER_DEFAULTS;

  const loadOptions = {
    providers: flags.provider,
    onWarning: (message: string) => io.stderr.write(`${message}\n`),
    // onnxruntime's own native error lines duplicate our one-line fallback warning.
    logLevel: process.env['LATENTKIT_DEBUG'] ? ('warning' as const) : ('fatal' as const),
    // The CLI keeps its sessions on its own thread (docs/performance.md, "The event loop"): it has no event
    // loop to keep free, and a process.exit while a worker is inside onnxruntime aborts (SIGABRT, exit 134).
    sessionThread: 'main' as const,
    cpuMemory: flags.cpuMemory,
  };
  // --model org/name: a download bar while the hub model is fetched (none on a cache hit)
  const hub = hubLoadOptions(flags, io.stderr, Boolean(flags.json));
  const parts = await nodeBackend
    .load(modelDir, {
      ...loadOptions,
      ...hub.options,
      // Text-to-image never encodes an image (the hires fix's second pass does): skip the VAE encoder's session.
      ...(image || hires ? {} : componentsOption(await textToImageComponents(modelDir))),
    })
    .finally(() => hub.stop());
  // --box needs a grounded UNet: refuse any other model here, with the CLI's fix, its sessions released.
  if (layout && !parts.denoiser.grounding) {
    await parts.dispose();
    throw new ModelMismatchError(
      `--box needs a layout-to-image (GLIGEN) model, but ${modelName} is not one: its UNet has no gligen_* inputs. Fix: leave out --model to use the shipped shapes layout model, or pass --model a GLIGEN export (docs/layout-to-image.md).`,
    );
  }
  // An SDXL folder runs with StableDiffusionXLPipeline (picked from the model, as DiffusionPipeline does);
  // --refiner loads the refiner beside it. SDXL flags on other models are refused here.
  let refinerParts: Awaited<ReturnType<typeof nodeBackend.load>> | undefined;
  try {
    if (parts.sdxl && hires) {
      throw new NotImplementedError(
        `--hires-scale is not supported with SDXL models yet (${modelName} is one). Fix: generate at the model's own size (1024×1024 for SDXL 1.0) without --hires-scale, or finish with --refiner DIR / --upscale 4.`,
      );
    }
    if (refinerDir !== undefined && parts.sdxl) {
      // the refiner continues from latents: it never encodes an image
      const components = componentsOption(await textToImageComponents(refinerDir));
      refinerParts = await nodeBackend.load(refinerDir, { ...loadOptions, ...components });
    }
    checkSdxlModel(
      flags,
      modelName,
      parts,
      refinerParts && { name: basename(resolve(refinerDir!)), parts: refinerParts },
    );
  } catch (error) {
    await refinerParts?.dispose();
    await parts.dispose();
    throw error;
  }
  // diffusers' SDXL default guidance (5) unless --guidance says otherwise
  if (parts.sdxl && flags.guidance === undefined && flags.model !== undefined)
    guidance = SDXL_DEFAULTS.guidanceScale;
  const xl = !layout && parts.sdxl ? new StableDiffusionXLPipeline(parts, parts.sdxl) : undefined;
  const refiner: SdxlRefiner | undefined = refinerParts && {
    pipe: new StableDiffusionXLPipeline(refinerParts, refinerParts.sdxl),
    name: basename(resolve(refinerDir!)),
    highNoiseFrac: flags.highNoiseFrac ?? DEFAULT_HIGH_NOISE_FRAC,
  };
  const textToImage = layout || xl ? undefined : new StableDiffusionPipeline(parts);
  const grounded = layout ? new StableDiffusionGLIGENPipeline(parts) : undefined;
  const pipeline: PipelineBase = (grounded ?? xl ?? textToImage)!;
  let upscaler: StableDiffusionUpscalePipeline | undefined;
  const loaded = performance.now();
  const progress = createStepProgress(io.stderr, Boolean(io.stderr.isTTY) && !flags.json);
  const abort = new AbortController();
  // Ctrl-C: stop the image being made, keep those already written. A second Ctrl-C exits at once.
  const onSigint = () => {
    if (abort.signal.aborted) process.exit(130);
    abort.abort(new InterruptedError());
  };
  process.on('SIGINT', onSigint);
  const written: string[] = [];
  let generateMs = 0;
  let writeMs = 0;
  try {
    // --lora / --embedding: into the model's UNet and text encoder (the upscaler gets none).
    const adapters = await loadAdapterFlags(pipeline, flags);
    // The x4 upscaler, loaded after the model so that both are released in `finally`.
    if (upscalerDir !== undefined) {
      upscaler = await StableDiffusionUpscalePipeline.fromPretrained(upscalerDir, {
        backend: nodeBackend,
        ...loadOptions,
      });
    }
    if (flags.vaeTiling) {
      const tiling = flags.vaeTileSize !== undefined ? { tileSampleSize: flags.vaeTileSize } : undefined;
      pipeline.enableVaeTiling(tiling);
      upscaler?.enableVaeTiling(tiling);
    }
    const vaeTiling = pipeline.vaeTiling;
    const upscale: GenerateSummary['upscale'] = upscaler
      ? {
          factor: 4,
          model: resolve(upscalerDir!),
          steps: flags.upscaleSteps ?? upscaleDefaults.numInferenceSteps,
          guidance: flags.upscaleGuidance ?? upscaleDefaults.guidanceScale,
          noiseLevel: flags.noiseLevel ?? upscaleDefaults.noiseLevel,
        }
      : undefined;
    // A noise level the upscaler refuses fails here, before the first image is generated.
    if (upscaler && upscale && upscale.noiseLevel > upscaler.maxNoiseLevel) {
      throw new InvalidArgumentError({
        name: '--noise-level',
        value: upscale.noiseLevel,
        expected: `an integer in [0, ${upscaler.maxNoiseLevel}] (the upscaler's max_noise_level)`,
        fix: `use e.g. --noise-level ${X4_UPSCALER_DEFAULTS.noiseLevel} (more noise: more invented detail, less fidelity to the image)`,
      });
    }
    if (flags.scheduler) pipeline.scheduler = createScheduler(flags.scheduler, pipeline.scheduler.config);
    // the refiner runs the same sampler, built from its own scheduler config
    if (refiner && flags.scheduler)
      refiner.pipe.scheduler = createScheduler(flags.scheduler, refiner.pipe.scheduler.config);
    const scheduler = schedulerDisplayName(pipeline.scheduler);
    const warning =
      flags.model === undefined ? fewStepsWarning(pipeline.scheduler, scheduler, steps) : undefined;
    if (warning) io.stderr.write(`${warning}\n`);
    const model =
      flags.model !== undefined
        ? basename(resolve(flags.model))
        : layout
          ? `${shapesModelName}-layout`
          : shapesModelName;
    let width = 0;
    let height = 0;
    let interrupted = false;
    let hiresSummary: GenerateSummary['hires'];
    for (let i = 0; i < flags.n; i++) {
      // Image i is made alone from a generator seeded seed + i (as A1111 numbers a batch): it is the
      // image a single run with --seed seed+i gives. Generators are made one at a time, as needed.
      const imageSeed = addToSeed(seed, i);
      const t0 = performance.now();
      const made = await unlessAborted(
        abort.signal,
        async (): Promise<{ result: GenerateResult; infotext: GenerationParameters }> => {
          const onStep = async ({
            step,
            totalSteps,
            latents,
            codec = parts.codec,
          }: {
            step: number;
            totalSteps: number;
            latents: Tensor;
            /** The VAE that decodes the preview (the refiner's during its steps). */
            codec?: LatentCodec;
          }) => {
            progress.update(step + 1, totalSteps);
            if (flags.preview === undefined || abort.signal.aborted) return;
            const [preview] = flags.previewApprox
              ? approximateLatentsToRgb(latents)
              : await decodeLatentsToRgb(codec, latents);
            await writePng(flags.preview, preview!, { text: { Step: `${step + 1}/${totalSteps}` } });
          };
          const size = {
            ...(flags.width !== undefined ? { width: flags.width } : {}),
            ...(flags.height !== undefined ? { height: flags.height } : {}),
          };
          if (grounded && layout) {
            const result = await grounded.generate({
              prompt,
              negativePrompt,
              numInferenceSteps: steps,
              guidanceScale: guidance,
              generator: new TorchGenerator(imageSeed),
              ...size,
              layout,
              gligenScheduledSamplingBeta: beta,
              onStep,
              signal: abort.signal,
            });
            return { result, infotext: generationParametersFrom(result.parameters, { model }) };
          }
          if (xl) {
            return sdxlStep(xl, refiner, flags, {
              prompt,
              negativePrompt,
              steps,
              guidance,
              seed: imageSeed,
              size,
              model,
              onStep: (info, which) =>
                onStep(which === 'refiner' ? { ...info, codec: refiner!.pipe.codec } : info),
              signal: abort.signal,
            });
          }
          if (hires) {
            // Both passes start a generator from the image's seed, as the plain path does.
            const fixed = await hiresFix(textToImage!, {
              prompt,
              negativePrompt,
              numInferenceSteps: steps,
              guidanceScale: guidance,
              seed: imageSeed,
              ...size,
              ...hiresOptions(flags),
              onStep,
              signal: abort.signal,
            });
            const h = fixed.parameters.hires;
            hiresSummary = {
              scale: h.scale,
              strength: h.strength,
              steps: h.steps,
              upscaler: h.upscaler,
              firstPassSize: `${fixed.parameters.width}x${fixed.parameters.height}`,
            };
            return {
              result: fixed,
              infotext: hiresGenerationParameters(fixed.parameters, { model, sampler: a1111SamplerName }),
            };
          }
          const result = await textToImage!.generate({
            prompt,
            negativePrompt,
            numInferenceSteps: steps,
            guidanceScale: guidance,
            generator: new TorchGenerator(imageSeed),
            ...size,
            ...(image ? { image } : {}),
            ...(mask ? { maskImage: mask } : {}),
            ...(flags.strength !== undefined ? { strength: flags.strength } : {}),
            onStep,
            signal: abort.signal,
          });
          return { result, infotext: generationParametersFrom(result.parameters, { model }) };
        },
      );
      if (!made) {
        interrupted = true;
        break;
      }
      progress.stop();
      let png = made.result.images[0]!;
      let infotext = made.infotext;
      if (upscaler && upscale) {
        // The x4 upscaler on the image just made, with its prompt and seed (a fresh generator).
        const settings = {
          ...upscale,
          name: flags.upscalerModel === undefined ? `${shapesModelName}-x4` : basename(upscale.model),
        };
        const input = {
          prompt,
          negativePrompt,
          image: png,
          seed: imageSeed,
          progress,
          preview: flags.preview,
          previewApprox: Boolean(flags.previewApprox),
          signal: abort.signal,
        };
        const up = await unlessAborted(abort.signal, () => upscaleStep(upscaler!, settings, input, infotext));
        if (!up) {
          interrupted = true;
          break;
        }
        progress.stop();
        png = up.image;
        infotext = up.infotext;
      }
      const t1 = performance.now();
      generateMs += t1 - t0;
      width = png.width;
      height = png.height;
      await mkdir(dirname(resolve(files[i]!)), { recursive: true });
      await writePng(files[i]!, png, { parameters: infotext });
      written.push(files[i]!);
      writeMs += performance.now() - t1;
      if (!flags.json) io.stdout.write(`${files[i]}  (seed ${imageSeed})\n`);
      if (abort.signal.aborted) {
        interrupted = i + 1 < flags.n;
        break;
      }
    }
    const finished = performance.now();
    if (interrupted) {
      io.stderr.write(
        `latentkit: interrupted: wrote ${written.length} of ${flags.n} image(s)${written.length > 0 ? ` (${written.join(', ')})` : ''}.\n`,
      );
    }
    return {
      files: written,
      seeds: written.map((_, i) => String(addToSeed(seed, i))),
      prompt,
      negativePrompt,
      width,
      height,
      steps,
      guidance,
      scheduler,
      model: modelName,
      pipeline: xl
        ? 'StableDiffusionXLPipeline'
        : grounded
          ? 'StableDiffusionGLIGENPipeline'
          : 'StableDiffusionPipeline',
      providers: { ...parts.providers },
      ...(refiner
        ? {
            refiner: {
              model: resolve(refinerDir!),
              highNoiseFrac: refiner.highNoiseFrac,
              providers: { ...refinerParts!.providers },
            },
          }
        : {}),
      ...(hiresSummary ? { hires: hiresSummary } : {}),
      ...(upscale ? { upscale } : {}),
      ...(layout ? { layout: { boxes: layout.map(formatBox), beta } } : {}),
      ...(adapters.loras.length + adapters.embeddings.length > 0 ? { adapters } : {}),
      ...(vaeTiling
        ? {
            vaeTiling: {
              tileSampleSize: vaeTiling.tileSampleSize,
              tileOverlapFactor: vaeTiling.tileOverlapFactor,
            },
          }
        : {}),
      interrupted,
      timings: {
        loadMs: Math.round(loaded - started),
        generateMs: Math.round(generateMs),
        writeMs: Math.round(writeMs),
        totalMs: Math.round(finished - started),
      },
    };
  } finally {
    progress.stop();
    process.off('SIGINT', onSigint);
    await upscaler?.dispose();
    await refinerParts?.dispose();
    await parts.dispose();
  }
}
