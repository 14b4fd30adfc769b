"""make_torch_models.py — PyTorch models for ember's nn_torch_spec (test-only).

    /usr/bin/python3 make_torch_models.py make OUTDIR
        builds an MLP and a CNN with BatchNorm2d from a fixed seed, moves the batch
        norms' running statistics with a few training-mode batches, and writes
        OUTDIR/<name>.safetensors (the state_dict, written here from the format's
        description: torch 1.13 has no safetensors package) and OUTDIR/models.json:
        per model its state_dict keys in torch's order, an input and torch's
        eval-mode output.
    /usr/bin/python3 make_torch_models.py eval NAME FILE.safetensors IN.json OUT.json
        builds model NAME, loads FILE (saved by ember) with strict=True and writes
        its eval-mode output on the input in IN.json.
"""
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oracle_codec import encode, to_torch  # noqa: E402

ST_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}
TORCH_DTYPES = {v: k for k, v in ST_DTYPES.items()}


def mlp():
    return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))


def cnn():
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64, 10))


MODELS = {"mlp": (mlp, lambda n: torch.randn(n, 64)), "cnn": (cnn, lambda n: torch.randn(n, 1, 8, 8))}


def save_safetensors(path, tensors):
    """8 bytes little-endian header length, the JSON header, then the raw data."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        raw = t.detach().contiguous().numpy().tobytes()   # little-endian on this machine
        header[name] = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        dt = TORCH_DTYPES[info["dtype"]]
        t = torch.frombuffer(bytearray(data[base + a:base + b]), dtype=dt) if b > a else torch.empty(0, dtype=dt)
        out[name] = t.reshape(info["shape"])
    return out


def make(outdir):
    torch.manual_seed(1234)
    result = {}
    for name, (build, sample) in MODELS.items():
        model = build()
        model.train()
        with torch.no_grad():   # batches that move the running statistics
            for _ in range(3):
                model(sample(16) * 1.5 + 0.25)
        model.eval()
        x = sample(5)
        with torch.no_grad():
            y = model(x)
        sd = model.state_dict()
        save_safetensors(os.path.join(outdir, name + ".safetensors"), sd)
        result[name] = {"keys": list(sd.keys()), "input": encode(x), "output": encode(y)}
    with open(os.path.join(outdir, "models.json"), "w") as f:
        json.dump(result, f)


def evaluate(name, path, inpath, outpath):
    model = MODELS[name][0]()
    model.load_state_dict(load_safetensors(path), strict=True)
    model.eval()
    with open(inpath) as f:
        x = to_torch(json.load(f))
    with torch.no_grad():
        y = model(x)
    with open(outpath, "w") as f:
        json.dump(encode(y), f)


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    elif sys.argv[1] == "eval":
        evaluate(*sys.argv[2:6])
    else:
        sys.exit("usage: make_torch_models.py make OUTDIR | eval NAME FILE IN.json OUT.json")
