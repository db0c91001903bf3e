import { DEFAULT_HIRES_STRENGTH, HIRES_UPSCALERS } from '@latentkit/core';
import { Command, CommanderError, Option } from 'commander';
import { CPU_MEMORY_MODES } from '../cpu-memory.js';
import { EXECUTION_PROVIDERS, parseExecutionProviders } from '../execution-providers.js';
import { ExitCode, exitCodeFor, formatCliError } from './cli-error.js';
import { MAX_IMAGES_PER_RUN } from './cli-limits.js';
import { checkCommandLineLength } from './command-line-limit.js';
import type { DownloadFlags } from './download-command.js';
import type { CommandIo, GenerateFlags } from './generate-command.js';
import { MAX_BOXES, parseBox } from './layout-flags.js';
import { parseEmbedding, parseLora } from './lora-flags.js';
import { integerAtLeast, numberAtLeast, numberIn, parseSeed } from './parse-values.js';
import { DEFAULT_HIGH_NOISE_FRAC, parsePixelPoint, parsePixelSize } from './sdxl-flags.js';
import { parseUpscaleFactor, X4_UPSCALER_DEFAULTS } from './upscale-flags.js';

const VERSION = '0.1.0';

function providerList(value: string): string[] {
  return parseExecutionProviders(value, '--provider');
}

function json(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);
}

/** What a command run leaves for {@link runCli}: its exit code when it is not 0. */
interface RunState {
  exitCode: number;
}

/** Builds the `latentkit` command line (commander), writing to `io`. */
export function createProgram(io: CommandIo, state: RunState = { exitCode: ExitCode.ok }): Command {
  const program = new Command('latentkit')
    .description('Stable Diffusion–family models from their ONNX exports, on onnxruntime-node.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // Errors are printed once, as one line, by runCli.
      outputError: () => {},
    })
    .showSuggestionAfterError(true);

  program
    .command('generate')
    .description(
      'Generate images from a prompt and write them as PNGs (with A1111-style parameters), each as it finishes.',
    )
    .argument('[prompt]', 'what to draw; "-" reads it from stdin (for long prompts, or use --prompt-file)')
    .option('--prompt-file <file>', 'read the prompt from a UTF-8 text file (instead of the argument)')
    .option(
      '-m, --model <dir|id>',
      'diffusers ONNX model folder, or a Hugging Face Hub id org/name (downloaded once into the HF cache; HF_TOKEN, HF_HUB_OFFLINE, HF_ENDPOINT apply) (default: the shipped "shapes" model)',
    )
    .option('--revision <rev>', 'with --model org/name: the branch, tag or commit (default main)')
    .option('--negative <text>', 'negative prompt ("-": read it from stdin)')
    .option('--negative-file <file>', 'read the negative prompt from a UTF-8 text file')
    .option('--steps <n>', 'denoising steps (default: 50 for the shipped model, else 20)', integerAtLeast(1))
    .option(
      '--guidance <g>',
      'classifier-free guidance scale, any number; ≤ 1 turns guidance off (default: 5 for the shipped model, else 7.5)',
      numberIn(),
    )
    .option(
      '--scheduler <name>',
      'scheduler, e.g. "DPM++ 2M Karras" (see `latentkit schedulers`; default: the model\'s)',
    )
    .option('--seed <s>', 'seed, an integer in [0, 2^64 − 1] (default: random, printed)', parseSeed)
    .option(
      '--width <px>',
      "width in pixels, a size the model runs: a multiple of its VAE's and UNet's factor, e.g. 64 for SD 1.5 (default: the model's or the --image size; a bad size fails at once, naming sizes that run)",
      integerAtLeast(8),
    )
    .option('--height <px>', 'height in pixels, as --width', integerAtLeast(8))
    .option(
      '--n <count>',
      `number of images (at most ${MAX_IMAGES_PER_RUN}); image i uses seed + i − 1 and is written as soon as it is made`,
      integerAtLeast(1),
      1,
    )
    .option('--image <png>', 'init image for img2img / inpainting (PNG only: convert JPEG/WebP first)')
    .option(
      '--strength <s>',
      'how much to change --image, in (0, 1], at least 1/steps (default 0.8; 1 with --mask)',
      numberIn(0, 1),
    )
    .option('--mask <png>', 'inpainting mask, PNG: white = repaint, black = keep (needs --image)')
    .option(
      '--hires-scale <x>',
      'hires fix (A1111\'s "Hires. fix"): generate at the model\'s size, upscale by X (≥ 1; the size is rounded to one the model runs), then img2img at that size',
      numberAtLeast(1),
    )
    .option(
      '--hires-strength <s>',
      `with --hires-scale: the hires pass's denoising strength, in (0, 1] (default ${DEFAULT_HIRES_STRENGTH}, as A1111)`,
      numberIn(0, 1),
    )
    .option(
      '--hires-steps <n>',
      'with --hires-scale: steps the hires pass runs (default: --steps)',
      integerAtLeast(1),
    )
    .addOption(
      new Option(
        '--hires-upscaler <name>',
        "with --hires-scale: 'latent' (A1111's Latent: the latents resized bilinearly) or 'pixel' (the image resized with Lanczos)",
      ).choices(HIRES_UPSCALERS),
    )
    .option(
      '--upscale <factor>',
      'then upscale each image 4× with an x4 upscaler (StableDiffusionUpscalePipeline): 4 is the only factor',
      parseUpscaleFactor,
    )
    .option(
      '--upscaler-model <dir>',
      'with --upscale: the x4 upscaler model folder (diffusers ONNX layout of stable-diffusion-x4-upscaler; default: the shipped shapes upscaler, needed with --model)',
    )
    .option(
      '--upscale-steps <n>',
      `with --upscale: the upscaler's denoising steps (default: the shipped upscaler's card, ${X4_UPSCALER_DEFAULTS.numInferenceSteps} for --upscaler-model)`,
      integerAtLeast(1),
    )
    .option(
      '--upscale-guidance <g>',
      `with --upscale: the upscaler's guidance scale (default: the shipped upscaler's card, ${X4_UPSCALER_DEFAULTS.guidanceScale} for --upscaler-model)`,
      numberIn(),
    )
    .option(
      '--noise-level <n>',
      `with --upscale: noise added to the low-res image, an integer in [0, the model's max_noise_level] (default ${X4_UPSCALER_DEFAULTS.noiseLevel})`,
      integerAtLeast(0),
    )
    .option(
      '--box <phrase@x0,y0,x1,y1>',
      `layout-to-image (GLIGEN): put <phrase> in the box x0,y0–x1,y1, fractions of the width and height with the origin top left, e.g. "a red circle@0.05,0.05,0.45,0.45"; repeatable, up to ${MAX_BOXES}; the prompt describes the rest (e.g. "on a white background"). Without --model: the shipped shapes layout model`,
      parseBox,
    )
    .option(
      '--gligen-beta <b>',
      "with --box: the share of the steps grounded in the boxes, in [0, 1] (GLIGEN's scheduled sampling; default: the layout model's card, 0.3 for other models)",
      numberIn(0, 1),
    )
    .option(
      '--lora <file[:scale]>',
      'apply a LoRA (.safetensors, kohya/A1111 or diffusers/PEFT) at this scale (default 1); repeatable. Its name is the file name without extension, so <lora:name:0.5> in the prompt sets its weight for the run',
      parseLora,
    )
    .option(
      '--embedding <file[:token]>',
      "load a textual-inversion embedding (.safetensors); write its token in the prompt or --negative (default: the file's token, else the file name); repeatable",
      parseEmbedding,
    )
    .option(
      '--prompt-2 <text>',
      "SDXL: the prompt of the second text encoder (diffusers' prompt_2; default: the prompt)",
    )
    .option(
      '--negative-2 <text>',
      "SDXL: the negative prompt of the second text encoder (diffusers' negative_prompt_2; default: --negative)",
    )
    .option(
      '--refiner <dir>',
      "SDXL: a refiner model folder (stable-diffusion-xl-refiner-1.0's ONNX export); the base denoises the first --high-noise-frac of the schedule and hands its latents to the refiner (diffusers' ensemble of expert denoisers)",
    )
    .option(
      '--high-noise-frac <f>',
      `with --refiner: the share of the schedule the base runs, in (0, 1) (default ${DEFAULT_HIGH_NOISE_FRAC}; A1111's "Refiner switch at")`,
      numberIn(0, 1),
    )
    .option(
      '--original-size <WxH>',
      'SDXL micro-conditioning: the size the model is told the training image had, e.g. 1024x1024 (default: the output size)',
      parsePixelSize,
    )
    .option(
      '--target-size <WxH>',
      'SDXL micro-conditioning (base models): the target size, e.g. 1024x1024 (default: the output size)',
      parsePixelSize,
    )
    .option(
      '--crop-top-left <x,y>',
      "SDXL micro-conditioning: the crop's top-left corner in pixels, x from the left, y from the top (default 0,0; e.g. 0,256 draws as if cropped below the top)",
      parsePixelPoint,
    )
    .option(
      '--aesthetic-score <s>',
      'SDXL refiner: the aesthetic score its time ids carry (default 6)',
      numberIn(),
    )
    .option(
      '--negative-aesthetic-score <s>',
      'SDXL refiner: the negative aesthetic score (default 2.5)',
      numberIn(),
    )
    .option(
      '--vae-tiling',
      "decode (and encode) in overlapping tiles blended linearly, as diffusers' enable_vae_tiling: the VAE's peak memory grows with the tile, not the image (for large outputs)",
    )
    .option(
      '--vae-tile-size <px>',
      "with --vae-tiling: a tile's side in pixels, a multiple of the VAE's downscale (default 512; smaller images are decoded whole)",
      integerAtLeast(1),
    )
    .option(
      '-o, --out <path>',
      'output PNG (default latentkit-<seed>.png); with --n > 1: <name>-1.png, <name>-2.png, …',
    )
    .option(
      '--preview <file>',
      'after each step, write the current image (the latents decoded by the VAE) to this PNG',
    )
    .option(
      '--preview-approx',
      'with --preview: a cheap latent→RGB approximation at latent size instead of a VAE decode per step (SD 1.x/2.x colours)',
    )
    .addOption(
      new Option(
        '--provider <list>',
        `execution providers in order of preference (${EXECUTION_PROVIDERS.join(', ')})`,
      )
        .argParser(providerList)
        .default(['cpu'], 'cpu'),
    )
    .addOption(
      new Option(
        '--cpu-memory <mode>',
        'memory of the CPU provider: arena (fastest, default), balanced (no arena), low (also the UNet row by row); docs/performance.md',
      ).choices([...CPU_MEMORY_MODES]),
    )
    .option('--json', 'print a JSON summary (files, seeds, timings) on stdout; no progress bar')
    .addHelpText(
      'after',
      '\nCtrl-C stops the image being made and keeps those already written (exit 130).\n' +
        'Long prompts: the command line must stay under 24,000 bytes (onnxruntime-node crashes past ~29,000):\n' +
        '  latentkit generate --prompt-file prompt.txt    or    cat prompt.txt | latentkit generate -',
    )
    .action(async (prompt: string | undefined, flags: GenerateFlags) => {
      // Commands load their modules when run, so `--help` and usage errors answer at once.
      const { runGenerate } = await import('./generate-command.js');
      const summary = await runGenerate(prompt, flags, io);
      if (summary.interrupted) state.exitCode = ExitCode.interrupted;
      if (flags.json) io.stdout.write(`${json(summary)}\n`);
      else if (summary.files.length > 0) {
        io.stderr.write(
          `latentkit: ${summary.files.length} image(s) ${summary.width}x${summary.height}, ${summary.steps} steps, ` +
            `${summary.scheduler}, seed ${summary.seeds[0]}` +
            (summary.pipeline === 'StableDiffusionXLPipeline' ? ', SDXL (StableDiffusionXLPipeline)' : '') +
            (summary.refiner
              ? `, refiner ${summary.refiner.model} from ${summary.refiner.highNoiseFrac} of the schedule`
              : '') +
            (summary.hires
              ? `, hires fix ×${summary.hires.scale} from ${summary.hires.firstPassSize} (${summary.hires.upscaler}, strength ${summary.hires.strength}, ${summary.hires.steps} steps)`
              : '') +
            (summary.upscale ? `, upscaled ×4 by ${summary.upscale.model}` : '') +
            (summary.layout
              ? `, ${summary.layout.boxes.length} box(es), GLIGEN beta ${summary.layout.beta}`
              : '') +
            `, ${(summary.timings.totalMs / 1000).toFixed(1)} s\n`,
        );
      }
    });

  program
    .command('schedulers')
    .description('List the scheduler names --scheduler accepts.')
    .option('--json', 'print a JSON array')
    .action(async (flags: { json?: boolean }) => {
      const { schedulerNames } = await import('./schedulers-command.js');
      const names = schedulerNames();
      io.stdout.write(flags.json ? `${json(names)}\n` : `${names.join('\n')}\n`);
    });

  program
    .command('download')
    .description(
      "Download what a pipeline needs of a Hugging Face Hub model into the HF cache (Python's layout, shared with huggingface_hub), so later runs load it offline.",
    )
    .argument('<id>', 'the model id, org/name (or its hub URL)')
    .option('--revision <rev>', 'branch, tag or commit (default main)')
    .option(
      '--cache-dir <dir>',
      'the cache folder (default: HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)',
    )
    .option(
      '--variant <name>',
      "each component's model.<name>.onnx / model_<name>.onnx instead of model.onnx, e.g. fp16",
    )
    .option('--hub-url <url>', 'the hub or a mirror (default: HF_ENDPOINT, else https://huggingface.co)')
    .option('--json', 'print a JSON summary on stdout; no progress bar')
    .action(async (id: string, flags: DownloadFlags) => {
      const { formatDownloadSummary, runDownload } = await import('./download-command.js');
      const summary = await runDownload(id, flags, io);
      if (flags.json) io.stdout.write(`${json(summary)}\n`);
      else {
        io.stderr.write(`${formatDownloadSummary(summary)}\n`);
        io.stdout.write(`${summary.folder}\n`);
      }
    });

  program
    .command('info')
    .description(
      "Show a model folder's components, their ONNX inputs and outputs (dtypes, shapes) and configs.",
    )
    .argument('<dir>', 'diffusers ONNX model folder')
    .option('--json', 'print JSON')
    .action(async (dir: string, flags: { json?: boolean }) => {
      const { formatModelInfo, readModelInfo } = await import('./info-command.js');
      const info = await readModelInfo(dir);
      io.stdout.write(flags.json ? `${json(info)}\n` : `${formatModelInfo(info)}\n`);
    });

  // `serve` and `worker` come from @latentkit/server (runCli forwards them there); listed here for --help.
  program
    .command('serve')
    .description(
      'Serve a model over HTTP (OpenAI Images API, A1111 API), in this process or scaled out over Redis: `latentkit serve --help` (needs @latentkit/server).',
    )
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments();
  program
    .command('worker')
    .description(
      'Run generation jobs from Redis for `latentkit serve --redis`: `latentkit worker --help` (needs @latentkit/server).',
    )
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments();

  return program;
}

/**
 * Runs the CLI on `argv` (without `node` and the script). Resolves to the exit code; errors become one
 * line `latentkit: <message>` on stderr (exit 2 for bad input, 1 for failures), never a stack trace
 * unless `LATENTKIT_DEBUG` is set.
 */
export async function runCli(argv: readonly string[], io: CommandIo): Promise<number> {
  const state: RunState = { exitCode: ExitCode.ok };
  const program = createProgram(io, state);
  try {
    if (argv.length === 0) {
      program.outputHelp({ error: true });
      return ExitCode.usage;
    }
    // A command line this long crashes onnxruntime-node (SIGSEGV): refuse it before it is loaded.
    checkCommandLineLength([process.execPath, ...process.execArgv, process.argv[1] ?? '', ...argv]);
    const serverCommand =
      argv[0] === 'help' && (argv[1] === 'serve' || argv[1] === 'worker') ? [argv[1], '--help'] : argv;
    if (serverCommand[0] === 'serve' || serverCommand[0] === 'worker') {
      const { runServerCommand } = await import('./server-command.js');
      return await runServerCommand(serverCommand, io);
    }
    await program.parseAsync([...argv], { from: 'user' });
    return state.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return ExitCode.ok; // --help, --version
      io.stderr.write(`${formatCliError(error)}\n`);
      return ExitCode.usage;
    }
    io.stderr.write(`${formatCliError(error)}\n`);
    if (process.env['LATENTKIT_DEBUG'] && error instanceof Error) io.stderr.write(`${error.stack}\n`);
    return exitCodeFor(error);
  }
}
