// Compares onnxruntime-node outputs of the exported model folder with the
// torch outputs dumped by export.py (there is no Python onnxruntime here).
// Usage: NODE_PATH=/tmp/ortcheck/node_modules node verify_ort.cjs <modelDir> <vectorsDir>
// tools/shapes-upscaler/verify_ort.cjs requires verify() from here.
const fs = require('node:fs');
const path = require('node:path');
const ort = require('onnxruntime-node');

const TYPED = { float32: Float32Array, int32: Int32Array };

function toTensor(j) {
  if (j.dtype === 'int64') return new ort.Tensor('int64', BigInt64Array.from(j.data.map(BigInt)), j.dims);
  const T = TYPED[j.dtype];
  if (!T) throw new Error(`unsupported dtype ${j.dtype}`);
  return new ort.Tensor(j.dtype, T.from(j.data), j.dims);
}

// Runs every case of <vecDir>/<name>.json through <modelDir>/<name>/model.onnx, logs one line per
// output (with its ort type when showType) and exits 1 when the worst max|onnx-torch| is over 1e-4.
async function verify(modelDir, vecDir, names, { showType = true } = {}) {
  let worst = 0;
  for (const name of names) {
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
        const type = showType ? `:${got.type}` : '';
        console.log(
          `${name} [${io}] ${shapes} -> ${k}${JSON.stringify(got.dims)}${type} max|onnx-torch|=${maxAbs.toExponential(2)}`,
        );
      }
    }
  }
  console.log(`WORST max|onnx-torch| = ${worst.toExponential(3)}`);
  if (worst > 1e-4) process.exit(1);
}

function run(names, options) {
  const [modelDir, vecDir] = process.argv.slice(2);
  verify(modelDir, vecDir, names, options).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

module.exports = { toTensor, verify, run };

if (require.main === module) run(['text_encoder', 'unet', 'vae_decoder', 'vae_encoder']);
