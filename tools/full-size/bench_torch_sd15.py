#!/usr/bin/env python3
"""The PyTorch side of `npm run bench:compare` (bench/compare/compare.bench.ts): the SD 1.5-shaped random-weight
model of make_random_sd15.py as plain torch modules (the same classes), with the same weights.

Not run by hand normally: the bench starts it as a worker process and talks to it in JSON lines (one request on
stdin, one `@@{...}` answer line on stdout). `--info` prints torch's version, threads and BLAS and exits;
`--verify-weights` compares the weights file with the ONNX folder's initializers of the same names, bit for bit.

    /usr/bin/python3 tools/full-size/bench_torch_sd15.py --info
    /usr/bin/python3 tools/full-size/bench_torch_sd15.py --worker --weights /tmp/sd15-random-torch.pt \\
        --model /tmp/sd15-random --threads 2

The weights file comes from `make_random_sd15.py --torch-only --save-torch PATH` (the state dicts of the text
encoder, UNet and VAE decoder). The generation is diffusers' StableDiffusionPipeline with EulerDiscreteScheduler
written out: one text-encoder run on [negative, prompt], per step one UNet call on the batch of 2,
classifier-free guidance, Euler's step, then the VAE decoder and (x / 2 + 0.5).clamp(0, 1).

Needs Debian's python3-torch and python3-onnx (make_random_sd15.py imports onnx) and, for a fair comparison,
OpenBLAS: `apt-get install -y python3-torch python3-onnx libopenblas0-openmp`.
"""
import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE_BLAS_FIX = (
    "apt-get install -y libopenblas0-openmp   (then libblas.so.3 points at OpenBLAS: check with "
    "update-alternatives --display libblas.so.3-x86_64-linux-gnu)"
)


def max_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def blas_info(torch):
    """Which BLAS this process runs torch's matmuls with: the library mapped after a matmul, and its speed."""
    a = torch.randn(256, 256)
    (a @ a).sum()
    libs = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            parts = line.split()
            if len(parts) < 6:
                continue
            path = parts[5]
            base = os.path.basename(path).lower()
            if any(k in base for k in ("blas", "mkl_", "libmkl", "blis", "atlas")):
                libs.add(os.path.realpath(path))
    # torch (BLAS_INFO=generic) calls the libblas.so.3 it was linked with: the file that got mapped under that
    # name decides (OpenBLAS's liblapack may map libopenblas too, so the other names only count without one)
    blas3 = [lib for lib in libs if os.path.basename(lib).startswith("libblas.so")]
    decisive = " ".join(blas3 or sorted(libs)).lower()
    if "openblas" in decisive:
        kind = "openblas"
    elif "mkl" in decisive:
        kind = "mkl"
    elif "blis" in decisive:
        kind = "blis"
    elif "atlas" in decisive:
        kind = "atlas"
    elif libs:
        kind = "reference"  # Debian's netlib libblas3: /usr/lib/x86_64-linux-gnu/blas/libblas.so.3
    else:
        kind = "none found"
    alternative = None
    try:
        shown = subprocess.run(["update-alternatives", "--query", "libblas.so.3-x86_64-linux-gnu"],
                               capture_output=True, text=True, timeout=10).stdout
        for line in shown.splitlines():
            if line.startswith("Value:"):
                alternative = line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    # sgemm speed at the bench's thread count: reference BLAS is ~1–2 GFLOP/s, OpenBLAS tens
    n = 1024
    x, y = torch.randn(n, n), torch.randn(n, n)
    x @ y
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        x @ y
        best = min(best, time.perf_counter() - t0)
    return {"kind": kind, "library": (blas3 or sorted(libs) or [None])[0], "libraries": sorted(libs),
            "alternative": alternative,
            "sgemmGflops": round(2 * n ** 3 / best / 1e9, 1)}


def info(threads):
    import torch
    torch.set_num_threads(threads)
    config = torch.__config__.show()
    found = re.search(r"BLAS_INFO=([^,\s]+)", config)
    return {"torch": torch.__version__, "threads": torch.get_num_threads(), "blasInfo": found and found.group(1),
            "blas": blas_info(torch), "python": sys.version.split()[0]}


def verify_weights(weights, model):
    """Compares every ONNX initializer named like a state-dict entry with it, bit for bit (external data read in place)."""
    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper

    state = torch.load(weights)
    report = {}
    for component in ("text_encoder", "unet", "vae_decoder"):
        folder = os.path.join(model, component)
        graph = onnx.load(os.path.join(folder, "model.onnx"), load_external_data=False).graph
        sd = state[component]
        compared, differ = 0, []
        for init in graph.initializer:
            if init.name not in sd:
                continue
            if init.data_location == onnx.TensorProto.EXTERNAL:
                ext = {e.key: e.value for e in init.external_data}
                dtype = onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[init.data_type]
                count = int(np.prod(init.dims)) if len(init.dims) else 1
                arr = np.memmap(os.path.join(folder, ext["location"]), dtype=dtype, mode="r",
                                offset=int(ext.get("offset", 0)), shape=(count,)).reshape(tuple(init.dims))
            else:
                arr = numpy_helper.to_array(init)
            compared += 1
            if not np.array_equal(arr, sd[init.name].numpy()):
                differ.append(init.name)
        report[component] = {"initializers": len(graph.initializer), "namedLikeTorch": compared,
                             "differ": differ, "torchTensors": len(sd)}
    return report


# ---------------------------------------------------------------------------------------------------- worker
class Worker:
    def __init__(self, weights, model, threads):
        import torch
        sys.path.insert(0, HERE)
        import make_random_sd15 as nets

        self.torch = torch
        self.nets = nets
        torch.set_num_threads(threads)
        with open(os.path.join(model, "scheduler", "scheduler_config.json")) as f:
            self.scheduler_config = json.load(f)
        with open(os.path.join(model, "vae_decoder", "config.json")) as f:
            self.vae_scaling = json.load(f).get("scaling_factor", 0.18215)
        t0 = time.perf_counter()
        state = torch.load(weights)
        missing = [k for k in ("text_encoder", "unet", "vae_decoder") if k not in state]
        if missing:
            raise SystemExit(f"{weights} has no {', '.join(missing)} state: make it with "
                             "make_random_sd15.py --torch-only --save-torch PATH")
        self.te = self.build(nets.ClipTextModel, nets.load_config("text_encoder.json"), state.pop("text_encoder"))
        self.unet = self.build(nets.UNet, nets.load_config("unet.json"), state.pop("unet"))
        self.vae = self.build(nets.VaeDecoder, nets.load_config("vae.json"), state.pop("vae_decoder"))
        del state
        self.load_ms = (time.perf_counter() - t0) * 1000

    def build(self, cls, cfg, sd):
        """The module with `sd`'s tensors as its parameters: no random init, no copy."""
        torch = self.torch
        init = torch.nn.init
        names = ["kaiming_uniform_", "uniform_", "normal_", "zeros_", "ones_", "constant_"]
        saved = {n: getattr(init, n) for n in names}
        try:
            for n in names:
                setattr(init, n, lambda t, *a, **k: t)
            module = cls(cfg)
        finally:
            for n, f in saved.items():
                setattr(init, n, f)
        own = dict(module.named_parameters())
        if set(own) != set(sd):
            raise SystemExit(f"{cls.__name__}: the weights file's keys differ from the module's "
                             f"(missing {sorted(set(own) - set(sd))[:3]}, extra {sorted(set(sd) - set(own))[:3]})")
        for name, p in own.items():
            if p.shape != sd[name].shape:
                raise SystemExit(f"{cls.__name__}.{name}: shape {tuple(sd[name].shape)} in the file, {tuple(p.shape)} in the module")
            p.data = sd[name]
        return module.eval()

    def read(self, path, shape):
        import numpy as np
        return self.torch.from_numpy(np.fromfile(path, dtype="<f4").reshape(shape).copy())

    def write(self, path, tensor):
        tensor.detach().contiguous().numpy().astype("<f4").tofile(path)

    def unet_call(self, req):
        torch = self.torch
        h = w = req["size"] // 8
        d = req["inputs"]
        sample = self.read(os.path.join(d, "sample.f32"), (2, 4, h, w))
        timestep = self.read(os.path.join(d, "timestep.f32"), (2,))
        ehs = self.read(os.path.join(d, "encoder_hidden_states.f32"), (2, 77, 768))
        with torch.inference_mode():
            t0 = time.perf_counter()
            out = self.unet(sample, timestep, ehs)
            ms = (time.perf_counter() - t0) * 1000
        if req.get("out"):
            self.write(req["out"], out)
        return {"ms": ms}

    def euler(self, steps):
        """diffusers' EulerDiscreteScheduler.set_timesteps (discrete, no Karras sigmas) on the model's config."""
        import numpy as np
        torch = self.torch
        c = self.scheduler_config
        t_train = c.get("num_train_timesteps", 1000)
        if c.get("beta_schedule", "linear") == "scaled_linear":
            betas = torch.linspace(c["beta_start"] ** 0.5, c["beta_end"] ** 0.5, t_train, dtype=torch.float32) ** 2
        else:
            betas = torch.linspace(c["beta_start"], c["beta_end"], t_train, dtype=torch.float32)
        ac = torch.cumprod(1.0 - betas, dim=0)
        spacing = c.get("timestep_spacing", "linspace")
        if spacing == "linspace":
            ts = np.linspace(0, t_train - 1, steps, dtype=np.float32)[::-1].copy()
        elif spacing == "leading":
            ratio = t_train // steps
            ts = (np.arange(0, steps) * ratio).round()[::-1].copy().astype(np.float32) + c.get("steps_offset", 0)
        else:  # trailing
            ts = np.round(np.arange(t_train, 0, -t_train / steps)).astype(np.float32) - 1
        sig = np.array(((1 - ac) / ac) ** 0.5)
        sig = np.interp(ts, np.arange(0, len(sig)), sig)
        sig = torch.from_numpy(np.concatenate([sig, [0.0]]).astype(np.float32))
        init = sig.max() if spacing in ("linspace", "trailing") else (sig.max() ** 2 + 1) ** 0.5
        return torch.from_numpy(ts.astype(np.float32)), sig, init

    def generate(self, req):
        torch = self.torch
        size, steps, g = req["size"], req["steps"], req["guidance"]
        latents = self.read(req["latents"], (1, 4, size // 8, size // 8))
        ids = torch.tensor(req["ids"], dtype=torch.int32)  # [negative, prompt] × 77
        parts = {"textMs": 0.0, "unetMs": 0.0, "vaeMs": 0.0}
        with torch.inference_mode():
            t0 = time.perf_counter()
            emb = self.te(ids)[0]
            parts["textMs"] = (time.perf_counter() - t0) * 1000
            timesteps, sigmas, init = self.euler(steps)
            x = latents * init
            for i, t in enumerate(timesteps):
                sigma = sigmas[i]
                inp = torch.cat([x, x]) / ((sigma ** 2 + 1) ** 0.5)
                u0 = time.perf_counter()
                eps = self.unet(inp, t.expand(2), emb)
                parts["unetMs"] += (time.perf_counter() - u0) * 1000
                uncond, cond = eps.chunk(2)
                eps = uncond + g * (cond - uncond)
                pred = x - sigma * eps  # epsilon prediction
                x = x + ((x - pred) / sigma) * (sigmas[i + 1] - sigma)
            v0 = time.perf_counter()
            image = self.vae(x / self.vae_scaling)
            parts["vaeMs"] = (time.perf_counter() - v0) * 1000
            image = (image / 2 + 0.5).clamp(0, 1)
            ms = (time.perf_counter() - t0) * 1000
        if req.get("out"):
            self.write(req["out"], image)
        return {"ms": ms, **parts, "unetPerStepMs": parts["unetMs"] / steps}


def answer(obj):
    sys.__stdout__.write("@@" + json.dumps(obj) + "\n")
    sys.__stdout__.flush()


def serve(args):
    sys.stdout = sys.stderr  # only answers go to stdout
    try:
        worker = Worker(args.weights, args.model, args.threads)
    except SystemExit as e:
        answer({"error": str(e)})
        return 1
    answer({"ready": True, "loadMs": worker.load_ms, "maxRssMb": max_rss_mb()})
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        cmd = req.get("cmd")
        try:
            if cmd == "exit":
                answer({"bye": True, "maxRssMb": max_rss_mb()})
                return 0
            if cmd == "unet":
                result = worker.unet_call(req)
            elif cmd == "generate":
                result = worker.generate(req)
            else:
                raise ValueError(f"unknown command {cmd!r}")
        except Exception as e:  # noqa: BLE001 — reported to the bench, which stops
            answer({"error": f"{type(e).__name__}: {e}"})
            continue
        answer({**result, "maxRssMb": max_rss_mb()})
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--info", action="store_true", help="print torch's version, threads and BLAS as JSON and exit")
    ap.add_argument("--worker", action="store_true", help="serve the bench's requests (JSON lines on stdin)")
    ap.add_argument("--verify-weights", action="store_true",
                    help="compare the weights file with the model's ONNX initializers of the same names, bit for bit")
    ap.add_argument("--weights", help="the torch state file (make_random_sd15.py --torch-only --save-torch PATH)")
    ap.add_argument("--model", help="the ONNX model folder (its scheduler and VAE configs are read)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    if args.info:
        print(json.dumps(info(args.threads)))
        return 0
    if args.verify_weights:
        if not args.weights or not args.model:
            ap.error("--verify-weights needs --weights PATH and --model DIR")
        report = verify_weights(args.weights, args.model)
        print(json.dumps(report, indent=1))
        return 0 if all(r["namedLikeTorch"] > 0 and not r["differ"] for r in report.values()) else 1
    if args.worker:
        if not args.weights or not args.model:
            ap.error("--worker needs --weights PATH and --model DIR")
        return serve(args)
    ap.error("give --info, --verify-weights or --worker")


if __name__ == "__main__":
    sys.exit(main())
