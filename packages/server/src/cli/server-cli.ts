import {
  cliExitCodeFor,
  EXECUTION_PROVIDERS,
  formatCliError,
  parseExecutionProviders,
} from '@latentkit/backend-node';
import { Command, CommanderError, Option } from 'commander';
import { DEFAULT_REQUEST_LIMITS } from '../server-options.js';
import type { ServerCliIo } from './cli-io.js';
import { collectKey, finiteNumber, integerIn, redisUrl } from './parse-flags.js';
import { runServe, type ServeFlags, thisCli, type WorkerLaunch } from './serve-command.js';
import { runWorker, type WorkerFlags } from './worker-command.js';

/** Options of {@link runServerCli}. */
export interface ServerCliOptions {
  /** How `latentkit serve --redis` starts its `latentkit worker` children (default: this process's Node and script). */
  workerLaunch?: WorkerLaunch;
}

const MODEL_HELP =
  'diffusers ONNX model folder, or a Hugging Face Hub id org/name (downloaded once into the HF cache) (default: the shipped "shapes" model)';

function buildProgram(io: ServerCliIo, options: ServerCliOptions, result: { code: number }): Command {
  const program = new Command('latentkit')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: () => {},
    })
    .showSuggestionAfterError(true);

  program
    .command('serve')
    .description(
      "Serve a model over HTTP: the OpenAI Images API (/v1/images/…) and AUTOMATIC1111's API (/sdapi/v1/…), plus /healthz, /readyz and /metrics. Without --redis the jobs run in this process; with --redis they go to BullMQ on Redis and --workers `latentkit worker` processes run them.",
    )
    .option('-m, --model <dir|id>', MODEL_HELP)
    .option(
      '--provider <list>',
      `execution providers in order of preference (${EXECUTION_PROVIDERS.join(', ')}) (default: cpu)`,
      (value: string) => parseExecutionProviders(value, '--provider'),
    )
    .option('--port <n>', 'TCP port (0: any free one)', integerIn(0, 65535), 7860)
    .option('--host <addr>', 'address to listen on (0.0.0.0 for all; then set API keys)', '127.0.0.1')
    .option('--redis <url>', 'Redis URL, redis://host:port: scale out over BullMQ workers', redisUrl)
    .option(
      '--workers <n>',
      'without --redis: jobs run at once in this process (default 1); with --redis: worker processes to start and supervise (default 1; 0 = API only, workers run elsewhere with `latentkit worker`)',
      integerIn(0, 256),
    )
    .option(
      '--api-key <key>',
      'require Authorization: Bearer <key> (repeatable; default: the comma-separated LATENTKIT_API_KEYS, else no keys)',
      collectKey,
    )
    .option(
      '--max-images <n>',
      `images per request (default ${DEFAULT_REQUEST_LIMITS.maxImages})`,
      integerIn(1),
    )
    .option('--max-steps <n>', `steps per request (default ${DEFAULT_REQUEST_LIMITS.maxSteps})`, integerIn(1))
    .option(
      '--max-side <px>',
      `largest width or height (default ${DEFAULT_REQUEST_LIMITS.maxSide})`,
      integerIn(8),
    )
    .option(
      '--body-limit <bytes>',
      `bytes of a request body (default ${DEFAULT_REQUEST_LIMITS.bodyLimit})`,
      integerIn(1024),
    )
    .option(
      '--max-concurrent-per-key <n>',
      `open generation requests per API key or client address (default ${DEFAULT_REQUEST_LIMITS.maxConcurrentPerKey})`,
      integerIn(1),
    )
    .option(
      '--max-waiting <n>',
      'without --redis: jobs that may wait; more get 503 (default 100)',
      integerIn(0),
    )
    .option(
      '--preview-every <n>',
      "decode a live preview (A1111's /sdapi/v1/progress current_image) every N steps, as A1111's show_progress_every_n_steps; 0 = none",
      integerIn(0),
      10,
    )
    .option(
      '--steps <n>',
      'steps of requests that leave them out (default: 50 for the shipped model, else 20)',
      integerIn(1),
    )
    .option(
      '--guidance <g>',
      'guidance scale of requests that leave it out (default: 5 for the shipped model, else 7.5)',
      finiteNumber,
    )
    .option('--queue-name <name>', "with --redis: the BullMQ queue's name (default latentkit)")
    .option(
      '--lock-duration <ms>',
      "with --redis: the workers' job lock; a dead worker's job is retried after about this long",
      integerIn(1000),
    )
    .option(
      '--job-timeout <ms>',
      'with --redis: a request waits at most this long for its result, then 503',
      integerIn(1000),
    )
    .option('--log', "Fastify's request log (JSON lines on stdout)")
    .addHelpText(
      'after',
      '\nSIGTERM / Ctrl-C: stop taking requests, answer those in flight, stop the workers (each finishes its job), exit 0.\n' +
        'Example: latentkit serve --port 7860   then   curl -s localhost:7860/v1/images/generations -H "content-type: application/json" -d \'{"prompt":"a red circle"}\'',
    )
    .action(async (flags: ServeFlags) => {
      result.code = await runServe(flags, io, options.workerLaunch ?? thisCli());
    });

  program
    .command('worker')
    .description(
      'Run generation jobs from Redis (BullMQ) for `latentkit serve --redis` API processes: load the model once, take jobs, report progress, return the images.',
    )
    .addOption(
      new Option('--redis <url>', 'Redis URL, redis://host:port').argParser(redisUrl).makeOptionMandatory(),
    )
    .option('-m, --model <dir|id>', `${MODEL_HELP}; the same as the API processes'`)
    .option(
      '--provider <list>',
      `execution providers in order of preference (${EXECUTION_PROVIDERS.join(', ')}) (default: cpu)`,
      (value: string) => parseExecutionProviders(value, '--provider'),
    )
    .option('--concurrency <n>', 'jobs run at once on the loaded model', integerIn(1, 64), 1)
    .option('--preview-every <n>', 'decode a live preview every N steps; 0 = none', integerIn(0), 10)
    .option('--queue-name <name>', "the BullMQ queue's name (default latentkit)")
    .option(
      '--lock-duration <ms>',
      "the job lock; a dead worker's job is retried after about this long",
      integerIn(1000),
    )
    .addHelpText(
      'after',
      '\nSIGTERM / Ctrl-C: stop taking jobs, finish (or hand back) the running one, exit 0.',
    )
    .action(async (flags: WorkerFlags) => {
      result.code = await runWorker(flags, io);
    });
  return program;
}

/**
 * Runs `latentkit serve …` or `latentkit worker …` (`argv` starts with the command's name) and resolves
 * with the exit code once the process should exit: 0 after a graceful shutdown (SIGTERM / SIGINT), 2 for
 * bad flags or a model that cannot be served (one line `latentkit: …` on stderr), 1 for other failures.
 * The `latentkit` CLI of `@latentkit/backend-node` forwards these two commands here.
 */
export async function runServerCli(
  argv: readonly string[],
  io: ServerCliIo,
  options: ServerCliOptions = {},
): Promise<number> {
  const result = { code: 0 };
  const program = buildProgram(io, options, result);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return result.code;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return 0; // --help
      io.stderr.write(`${formatCliError(error)}\n`);
      return 2;
    }
    io.stderr.write(`${formatCliError(error)}\n`);
    if (process.env['LATENTKIT_DEBUG'] && error instanceof Error) io.stderr.write(`${error.stack}\n`);
    return cliExitCodeFor(error);
  }
}
