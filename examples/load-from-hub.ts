/**
 * Load a model by its Hugging Face Hub id, as `from_pretrained("org/name")` does in diffusers: the files
 * the pipeline needs are downloaded once into the cache Python's huggingface_hub uses
 * (~/.cache/huggingface/hub, or HF_HUB_CACHE), and later loads take them from there without the network.
 *
 *   npx tsx tests/support/serve-test-hub.ts            # a local hub serving the shipped model as latentkit/shapes
 *   npx tsx examples/load-from-hub.ts --hub-url http://127.0.0.1:<port> [--model org/name] [OUT_DIR]
 *
 * The hub is `--hub-url`, else HF_ENDPOINT, else https://huggingface.co: against the real hub, pass the id
 * of a diffusers ONNX export with `--model` (and HF_TOKEN for a private or gated one) and adapt the prompt.
 * Writes OUT_DIR/load-from-hub.png (default examples/out/, or $LATENTKIT_EXAMPLES_OUT). Guide: docs/hub.md.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { nodeBackend, writePng } from '@latentkit/backend-node';
import { StableDiffusionPipeline } from '@latentkit/core';

const { values, positionals } = parseArgs({
  options: { 'hub-url': { type: 'string' }, model: { type: 'string' }, revision: { type: 'string' } },
  allowPositionals: true,
});
const outDir =
  positionals[0] ?? process.env.LATENTKIT_EXAMPLES_OUT ?? fileURLToPath(new URL('./out/', import.meta.url));
const id = values.model ?? 'latentkit/shapes';

let lastFile = '';
const started = performance.now();
const pipe = await StableDiffusionPipeline.fromPretrained(id, {
  backend: nodeBackend,
  ...(values['hub-url'] !== undefined ? { hubUrl: values['hub-url'] } : {}), // else HF_ENDPOINT, else huggingface.co
  ...(values.revision !== undefined ? { revision: values.revision } : {}), // a branch, tag or commit; default main
  // token: 'hf_…',    // private or gated repos (default: HF_TOKEN, or the token `huggingface-cli login` saved)
  // cacheDir: '…',    // default: HF_HUB_CACHE, or $HF_HOME/hub, or ~/.cache/huggingface/hub
  // localFilesOnly: true,  // never ask the hub (as HF_HUB_OFFLINE=1)
  onProgress: (p) => {
    // called as bytes arrive; nothing is called when the cache already has the model
    if (p.file !== lastFile || p.fileBytes === p.fileTotal) {
      console.log(
        `  ${p.file}: ${p.fileBytes}/${p.fileTotal} bytes (all: ${p.bytes}/${p.total}, ${p.filesDone}/${p.filesTotal} files)`,
      );
      lastFile = p.file;
    }
  },
});
console.log(`load-from-hub: ${id} ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);

try {
  await mkdir(outDir, { recursive: true });
  const prompt = 'a red circle on a blue background'; // for the shipped shapes model
  const { images, parameters } = await pipe.generate({
    prompt,
    numInferenceSteps: 20,
    guidanceScale: 5,
    seed: 42,
  });
  const file = join(outDir, 'load-from-hub.png');
  await writePng(file, images[0]!, { parameters, model: id });
  console.log(`load-from-hub: "${prompt}" → ${file} (${images[0]!.width}×${images[0]!.height})`);
} finally {
  await pipe.dispose();
}
