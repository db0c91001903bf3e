#!/usr/bin/env node
/**
 * Loads the UNet written by make_random_sdxl.py in onnxruntime-node (CPU) and runs one batched (CFG) call,
 * printing load time, run time, peak RSS and whether the output is finite:
 *
 *     node tools/full-size/check_sdxl_unet.cjs /tmp/sdxl-random [latent size, default 32]
 *
 * Run it from the repository root (it needs the workspace's onnxruntime-node).
 */
const ort = require('onnxruntime-node');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const dir = process.argv[2] ?? '/tmp/sdxl-random';
const size = Number(process.argv[3] ?? 32);

function peakRssGb() {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM'));
  return Number(line.split(/\s+/)[1]) / 1e6;
}

function filled(dims, f) {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = f(i);
  return new ort.Tensor('float32', data, dims);
}

(async () => {
  const config = JSON.parse(readFileSync(join(dir, 'unet', 'config.json'), 'utf8'));
  let t = Date.now();
  const session = await ort.InferenceSession.create(join(dir, 'unet', 'model.onnx'));
  console.log(`loaded in ${((Date.now() - t) / 1000).toFixed(1)} s, peak RSS ${peakRssGb().toFixed(1)} GB`);
  console.log('inputs', JSON.stringify(session.inputNames), 'outputs', JSON.stringify(session.outputNames));
  const b = 2;
  const pooled = config.projection_class_embeddings_input_dim - 6 * config.addition_time_embed_dim;
  const feeds = {
    sample: filled([b, 4, size, size], (i) => Math.sin(0.37 * i)),
    timestep: filled([1], () => 500),
    encoder_hidden_states: filled([b, 77, config.cross_attention_dim], (i) => 0.5 * Math.sin(0.37 * i + 1)),
    text_embeds: filled([b, pooled], (i) => Math.sin(0.37 * i + 4)),
    time_ids: filled([b, 6], (i) => [1024, 1024, 0, 0, 1024, 1024][i % 6]),
  };
  t = Date.now();
  const out = (await session.run(feeds)).out_sample;
  const finite = out.data.every(Number.isFinite);
  console.log(
    `one call [${out.dims}] in ${((Date.now() - t) / 1000).toFixed(1)} s, finite ${finite}, peak RSS ${peakRssGb().toFixed(1)} GB`,
  );
  await session.release();
  process.exit(finite ? 0 : 1);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
