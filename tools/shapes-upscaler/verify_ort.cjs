// Runs the exported upscaler graphs in onnxruntime-node and compares them with the
// torch outputs dumped by export.py (there is no Python onnxruntime here).
// Usage (from the repo root): node tools/shapes-upscaler/verify_ort.cjs packages/model-shapes/upscaler tools/shapes-upscaler/.work/vectors
// The comparison itself is tools/shapes-model/verify_ort.cjs's verify().
const { run } = require('../shapes-model/verify_ort.cjs');

run(['unet', 'vae_decoder'], { showType: false });
