// Runs the exported upscaler graphs in onnxruntime-node and compares them with the
// torch outputs dumped by export.py (there is no Python onnxruntime here).
// Usage (from the repo root): node tools/shapes-upscaler/verify_ort.cjs packages/model-shapes/upscaler tools/shapes-upscaler/.work/vectors
const fs = require('node:fs');
const path = require('node:path');
const ort = require('onnxruntime-node');

const [modelDir, vecDir] = process.argv.slice(2);

function toTensor(j) {
  if (j.dtype === 'float32') return new ort.Tensor('float32', Float32Array.from(j.data), j.dims);
  if (j.dtype === 'int64') return new ort.Tensor('int64', BigInt64Array.from(j.data.map(BigInt)), j.dims);
  throw new Error(`unsupported dtype ${j.dtype}`);
}

async function main() {
  let worst = 0;
  for (const name of ['unet', 'vae_decoder']) {
    const sess = await ort.InferenceSession.create(path.join(modelDir, name, 'model.onnx'));
    const io = `${sess.inputNames.join(',')} -> ${sess.outputNames.join(',')}`;
    const cases = JSON.parse(fs.readFileSync(path.join(vecDir, `${name}.json`), 'utf8'));
    for (const c of cases) {
      const feeds = {};
      for (const [k, v] of Object.entries(c.inputs)) feeds[k] = toTensor(v);
      const out = await sess.run(feeds);
      for (const [k, ref] of Object.entries(c.outputs)) {
        const got = out[k];
        if (JSON.stringify(got.dims) !== JSON.stringify(ref.dims))
          throw new Error(`${name}.${k} dims ${got.dims} != ${ref.dims}`);
        let maxAbs = 0;
        for (let i = 0; i < ref.data.length; i++)
          maxAbs = Math.max(maxAbs, Math.abs(got.data[i] - ref.data[i]));
        worst = Math.max(worst, maxAbs);
        const shapes = Object.entries(c.inputs)
          .map(([k2, v]) => `${k2}${JSON.stringify(v.dims)}:${v.dtype}`)
          .join(' ');
        console.log(
          `${name} [${io}] ${shapes} -> ${k}${JSON.stringify(got.dims)} max|onnx-torch|=${maxAbs.toExponential(2)}`,
        );
      }
    }
  }
  console.log(`WORST max|onnx-torch| = ${worst.toExponential(3)}`);
  if (worst > 1e-4) process.exit(1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
