// Runs the old and the re-exported (named-weights) UNet and text encoder in onnxruntime-node on
// several seeded random inputs and prints max |old - new| per case; exits 1 when one is over 1e-6.
// Usage (repository root): node tools/shapes-model/compare_graphs.cjs <oldModelDir> <newModelDir>
const path = require('node:path');
const ort = require('onnxruntime-node');

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
function gauss(r) {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}
function randn(r, dims) {
  const n = dims.reduce((a, b) => a * b, 1);
  return new ort.Tensor(
    'float32',
    Float32Array.from({ length: n }, () => gauss(r)),
    dims,
  );
}

async function main() {
  const [oldDir, newDir] = process.argv.slice(2);
  let worst = 0;
  const cases = {
    text_encoder: [],
    unet: [],
  };
  const r = rng(7);
  for (const [b, n] of [
    [2, 16],
    [1, 16],
    [3, 9],
  ]) {
    const ids = Int32Array.from({ length: b * n }, (_, i) =>
      i % n === 0 ? 601 : i % n === n - 1 ? 602 : Math.floor(r() * 601),
    );
    cases.text_encoder.push({ input_ids: new ort.Tensor('int32', ids, [b, n]) });
  }
  for (const [b, hw, ts] of [
    [2, 8, [981]],
    [2, 8, [1, 501]],
    [1, 16, [41]],
    [4, 8, [250]],
  ]) {
    cases.unet.push({
      sample: randn(r, [b, 4, hw, hw]),
      timestep: new ort.Tensor('float32', Float32Array.from(ts), [ts.length]),
      encoder_hidden_states: randn(r, [b, 16, 64]),
    });
  }
  for (const [name, feedsList] of Object.entries(cases)) {
    const a = await ort.InferenceSession.create(path.join(oldDir, name, 'model.onnx'));
    const b = await ort.InferenceSession.create(path.join(newDir, name, 'model.onnx'));
    if (JSON.stringify([a.inputNames, a.outputNames]) !== JSON.stringify([b.inputNames, b.outputNames]))
      throw new Error(`${name}: I/O names differ`);
    for (const feeds of feedsList) {
      const oa = await a.run(feeds);
      const ob = await b.run(feeds);
      for (const k of a.outputNames) {
        if (JSON.stringify(oa[k].dims) !== JSON.stringify(ob[k].dims))
          throw new Error(`${name}.${k}: dims differ`);
        let m = 0;
        for (let i = 0; i < oa[k].data.length; i++) m = Math.max(m, Math.abs(oa[k].data[i] - ob[k].data[i]));
        worst = Math.max(worst, m);
        const shape = Object.entries(feeds)
          .map(([n, t]) => `${n}${JSON.stringify(t.dims)}`)
          .join(' ');
        console.log(
          `${name} ${shape} -> ${k}${JSON.stringify(oa[k].dims)} max|old-new|=${m.toExponential(2)}`,
        );
      }
    }
  }
  console.log(`WORST max|old-new| = ${worst.toExponential(3)}`);
  if (worst > 1e-6) process.exit(1);
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
