// Bad flags of `latentkit serve` / `latentkit worker`: exit 2 with one line `latentkit: …` that names the
// flag, what was expected and the fix — through the `latentkit` CLI of backend-node, which forwards both
// commands to @latentkit/server.
import { shapesLayoutModelPath } from '@latentkit/model-shapes';
import { describe, expect, it } from 'vitest';
import { runCliInProcess } from '../support/cli.js';
import { cliEntry, runNode, tsxLoader } from '../support/run-node.js';

const cases: Array<[string, string[], RegExp]> = [
  ['a port out of range', ['serve', '--port', '70000'], /--port <n>.*expected an integer in \[0, 65535\]/],
  ['a port that is not a number', ['serve', '--port', 'http'], /--port <n>.*expected an integer/],
  ['--workers 0 without --redis', ['serve', '--workers', '0'], /--workers 0 needs --redis.*Fix:/],
  ['negative --workers', ['serve', '--workers', '-1'], /--workers <n>.*expected an integer in \[0, 256\]/],
  [
    'a --redis URL of another scheme',
    ['serve', '--redis', 'http://127.0.0.1:6379'],
    /expected a redis:\/\/ or rediss:\/\/ URL/,
  ],
  [
    'a --redis value that is no URL',
    ['serve', '--redis', 'localhost'],
    /expected a Redis URL such as redis:\/\/127\.0\.0\.1:6379/,
  ],
  ['an empty --api-key', ['serve', '--api-key', ''], /--api-key <key>.*expected a non-empty key/],
  ['--lock-duration without --redis', ['serve', '--lock-duration', '5000'], /--lock-duration needs --redis/],
  [
    '--max-waiting with --redis',
    ['serve', '--redis', 'redis://127.0.0.1:1', '--max-waiting', '3'],
    /--max-waiting bounds the in-process queue/,
  ],
  [
    'an unknown option, with a suggestion',
    ['serve', '--workres', '2'],
    /unknown option '--workres'.*Did you mean --workers\?/,
  ],
  [
    'an unknown execution provider',
    ['worker', '--redis', 'redis://127.0.0.1:1', '--provider', 'cuda,tpu'],
    /--provider.*tpu/,
  ],
  ['worker without --redis', ['worker'], /required option '--redis <url>' not specified/],
  ['--guidance that is not a number', ['serve', '--guidance', 'high'], /--guidance <g>.*expected a number/],
];

describe('latentkit serve / worker: bad flags exit 2 with one clear line', () => {
  it.each(cases)('%s', async (_name, args, message) => {
    const run = await runCliInProcess(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^latentkit: /);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe('');
  });

  it('a model folder that does not exist: exit 2, MODEL_NOT_FOUND-style message naming the folder', async () => {
    const run = await runCliInProcess(['serve', '--model', './no-such-model-folder', '--port', '0']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('no-such-model-folder');
  });

  it('a model the server cannot serve (the shipped GLIGEN layout model): exit 2, names the pipeline and the fix', async () => {
    const run = await runCliInProcess(['serve', '--model', shapesLayoutModelPath, '--port', '0']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /latentkit: the model "layout" is a StableDiffusionGLIGENPipeline model, which the server does not serve.*Fix: pass --model a Stable Diffusion 1\.x\/2\.x or SDXL export/,
    );
  }, 60_000);

  it('as a real process: exit status 2 and the line on stderr', async () => {
    const run = await runNode(['--import', tsxLoader, cliEntry, 'serve', '--port', '-5'], {
      timeout: 60_000,
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^latentkit: .*--port <n>.*expected an integer in \[0, 65535\]/);
  }, 90_000);
});
