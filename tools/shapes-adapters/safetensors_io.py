"""SafeTensors written and read by hand (no `safetensors` package here): an 8-byte little-endian
header length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}
padded with spaces to a multiple of 8, then the raw little-endian tensor bytes."""
import json
import struct

import numpy as np

DTYPES = {"F32": np.float32, "F16": np.float16}


def write(path, tensors, metadata=None, dtype="F32"):
    """tensors: {name: numpy array}, written in sorted name order as `dtype` (F32 or F16)."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(np.asarray(tensors[name], DTYPES[dtype]))
        b = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    import os

    os.replace(tmp, path)  # never a half-written file under the real name


def read(path):
    """-> ({name: float32 array}, metadata)."""
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    body = raw[8 + n :]
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(body[b:end], DTYPES[e["dtype"]]).reshape(e["shape"]).astype(np.float32)
    return out, meta
