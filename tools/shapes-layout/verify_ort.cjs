// Runs a grounded UNet (latentkit's ONNX convention for GLIGEN UNets) in onnxruntime-node and compares
// it with the torch outputs dumped by make_fixture.py / export.py (there is no Python onnxruntime here).
// Cases alternate gligen_enabled = 1 (vs torch, gate on) and 0 (vs torch's plain UNet without fusers).
// Usage (from the repo root):
//   node tools/shapes-layout/verify_ort.cjs tests/fixtures/models/sd-gligen-tiny tools/shapes-layout/.work/fixture_vectors
//   node tools/shapes-layout/verify_ort.cjs packages/model-shapes/layout tools/shapes-layout/.work/vectors
// The comparison itself is tools/shapes-model/verify_ort.cjs's verify() (exit 1 when worst > 1e-4).
const { run } = require('../shapes-model/verify_ort.cjs');

run(['unet'], { showType: false });
