#!/usr/bin/env node
/**
 * Runs the same inputs through a plain ONNX graph and its optimised forms (fused attention, float16) in
 * onnxruntime-node (CPU) and prints how far each output is from the plain one, relative to the plain
 * output's largest magnitude (max |a − b| / max |a|), plus the time of one run and the peak RSS:
 *
 *     node tools/full-size/check_optimised.cjs [--size 32] [--batch 2] [--max-rel 1e-4,2e-2] plain.onnx fused.onnx [fused.fp16.onnx]
 *     node tools/full-size/check_optimised.cjs --size 64 --runs 5 --threads 2 plain.onnx fused.onnx   # speed, interleaved
 *
 * Inputs are built from each session's input metadata: `sample`-like 4-D inputs get [batch, C, size, size],
 * `encoder_hidden_states` [batch, 77, D], `timestep` 500 (its declared rank), `time_ids` SDXL's
 * [1024, 1024, 0, 0, 1024, 1024], `input_ids` token ids; everything else a deterministic sine wave.
 * float16 models get the same values rounded to float16 and their outputs are widened back to float32.
 * `--max-rel a,b,…` (one bound per model after the first) makes the exit status 1 when an output exceeds
 * its bound. `--runs N` then times N more calls per model with every session loaded at once, interleaved
 * (plain, fused, …, plain, fused, …), and prints the min and median per model; with one model file it only
 * times (its peak RSS is then that model's alone). `--threads N` sets intraOpNumThreads. Run it from the
 * repository root (it needs the workspace's onnxruntime-node).
 */
const ort = require('onnxruntime-node');
const { readFileSync } = require('node:fs');

const argv = process.argv.slice(2);
const opts = { size: 32, batch: 2, maxRel: [], runs: 0, threads: 0 };
const files = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--size') opts.size = Number(argv[++i]);
  else if (argv[i] === '--batch') opts.batch = Number(argv[++i]);
  else if (argv[i] === '--max-rel') opts.maxRel = argv[++i].split(',').map(Number);
  else if (argv[i] === '--runs') opts.runs = Number(argv[++i]);
  else if (argv[i] === '--threads') opts.threads = Number(argv[++i]);
  else files.push(argv[i]);
}
if (files.length < (opts.runs > 0 ? 1 : 2)) {
  console.error(
    'usage: check_optimised.cjs [--size N] [--batch N] [--max-rel a,b] plain.onnx optimised.onnx [more.onnx]',
  );
  process.exit(2);
}

function peakRssGb() {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM'));
  return (Number(line.split(/\s+/)[1]) * 1024) / 1e9; // VmHWM is in KiB; GB = 10^9 bytes
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function toHalf(v) {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const e = ((x >>> 23) & 0xff) - 127 + 15;
  let m = x & 0x7fffff;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    m = (m | 0x800000) >> (1 - e);
    return sign | ((m + 0x1000) >> 13);
  }
  const h = sign | (e << 10) | (m >> 13);
  return (m & 0x1000) !== 0 ? h + 1 : h; // round half up (ties are rare on these values)
}
function fromHalf(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function dimsFor(name, meta) {
  const shape = meta.shape;
  return shape.map((d, i) => {
    if (typeof d === 'number' && d > 0) return d;
    if (i === 0) return name === 'timestep' ? 1 : opts.batch;
    if (name === 'encoder_hidden_states' || name === 'input_ids') return 77;
    if (i === 1 && shape.length === 4) return 4; // latent channels
    return opts.size;
  });
}

function valuesFor(name, n, phase) {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (name === 'timestep') out[i] = 500;
    else if (name === 'time_ids') out[i] = [1024, 1024, 0, 0, 1024, 1024][i % 6];
    else out[i] = Math.sin(0.37 * i + phase) * (name === 'encoder_hidden_states' ? 0.5 : 1);
  }
  return out;
}

function feedsFor(session) {
  const feeds = {};
  session.inputNames.forEach((name, k) => {
    const meta = session.inputMetadata.find((m) => m.name === name) ?? session.inputMetadata[k];
    const dims = dimsFor(name, meta);
    const n = dims.reduce((a, b) => a * b, 1);
    const v = valuesFor(name, n, k);
    if (meta.type === 'float16') {
      const h = new Uint16Array(n);
      for (let i = 0; i < n; i++) h[i] = toHalf(v[i]);
      feeds[name] = new ort.Tensor('float16', h, dims);
    } else if (meta.type === 'int32' || meta.type === 'int64') {
      const ids = Array.from({ length: n }, (_, i) => (i % 77 === 0 ? 49406 : i % 77 < 8 ? 320 + i : 49407));
      feeds[name] =
        meta.type === 'int32'
          ? new ort.Tensor('int32', Int32Array.from(ids), dims)
          : new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), dims);
    } else feeds[name] = new ort.Tensor('float32', Float32Array.from(v), dims);
  });
  return feeds;
}

function widen(t) {
  if (t.type !== 'float16') return Float64Array.from(t.data);
  const out = new Float64Array(t.data.length);
  for (let i = 0; i < out.length; i++) out[i] = fromHalf(t.data[i]);
  return out;
}

const sessionOptions = opts.threads > 0 ? { intraOpNumThreads: opts.threads } : {};

async function timeRuns() {
  const sessions = [];
  for (const file of files) sessions.push(await ort.InferenceSession.create(file, sessionOptions));
  const feeds = sessions.map(feedsFor);
  const times = files.map(() => []);
  for (let r = 0; r < opts.runs; r++)
    for (let k = 0; k < sessions.length; k++) {
      const t = performance.now();
      await sessions[k].run(feeds[k]);
      times[k].push(performance.now() - t);
    }
  for (const s of sessions) await s.release();
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(
    `timing: ${opts.runs} runs each, interleaved, [${opts.batch}, 4, ${opts.size}, ${opts.size}], load average ${load}`,
  );
  files.forEach((file, k) => {
    const t = [...times[k]].sort((a, b) => a - b);
    const median = t.length % 2 ? t[(t.length - 1) / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
    console.log(
      `  ${file}: min ${t[0].toFixed(0)} ms, median ${median.toFixed(0)} ms (${times[k].map((x) => x.toFixed(0)).join(', ')})`,
    );
  });
  console.log(`  peak RSS ${peakRssGb().toFixed(2)} GB`);
}

(async () => {
  const results = [];
  if (files.length === 1) {
    await timeRuns();
    process.exit(0);
  }
  for (const file of files) {
    const t0 = Date.now();
    const session = await ort.InferenceSession.create(file, sessionOptions);
    const load = (Date.now() - t0) / 1000;
    const feeds = feedsFor(session);
    const t1 = Date.now();
    const out = await session.run(feeds);
    const run = (Date.now() - t1) / 1000;
    const outputs = {};
    for (const name of session.outputNames) outputs[name] = { dims: out[name].dims, data: widen(out[name]) };
    await session.release();
    console.log(
      `${file}: load ${load.toFixed(1)} s, one run ${run.toFixed(2)} s, peak RSS ${peakRssGb().toFixed(2)} GB`,
    );
    results.push(outputs);
  }
  let failed = false;
  const ref = results[0];
  for (let k = 1; k < results.length; k++) {
    for (const [name, { dims, data }] of Object.entries(ref)) {
      const other = results[k][name];
      if (!other) {
        console.log(`  ${files[k]}: output ${name} missing`);
        failed = true;
        continue;
      }
      let maxAbs = 0;
      let maxRef = 0;
      let finite = true;
      for (let i = 0; i < data.length; i++) {
        const d = Math.abs(data[i] - other.data[i]);
        if (!Number.isFinite(other.data[i])) finite = false;
        if (d > maxAbs) maxAbs = d;
        maxRef = Math.max(maxRef, Math.abs(data[i]));
      }
      const rel = maxAbs / maxRef;
      const bound = opts.maxRel[k - 1];
      const bad = !finite || (bound !== undefined && !(rel <= bound));
      failed ||= bad;
      console.log(
        `  ${files[k]} vs ${files[0]}: ${name} [${dims}] max|Δ| ${maxAbs.toExponential(2)}, max|plain| ${maxRef.toExponential(2)}, relative ${rel.toExponential(2)}${bound !== undefined ? ` (bound ${bound})` : ''}${finite ? '' : ', NOT FINITE'}${bad ? '  FAIL' : ''}`,
      );
    }
  }
  if (opts.runs > 0) await timeRuns();
  process.exit(failed ? 1 : 0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
