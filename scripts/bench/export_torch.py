"""export_torch.py — torch eager inference, the peer of export.lua: the digits MLP and
CNN with the weights export.lua saved (DIR/digits_KIND.safetensors), on the same inputs
(DIR/digits_KIND_bB_in.safetensors), at batch 1 and 32, under torch.inference_mode with
as many threads as ember had (the weights file's metadata says how many). Prints
"torch NAME\tseconds", the median of n calls each timed on its own, and "check
NAME\tmax |torch - ember|" over the outputs.

    /usr/bin/python3 scripts/bench/export_torch.py DIR
    python3 scripts/bench/export_torch.py DIR --cuda

With --cuda (the GPU machine, scripts/bench/vk_h100.sh): the CNN on CUDA, the peer of
`ember-run --device vulkan`; a call copies the input from the host, runs the model and
waits for the GPU, as ember-run's set_input and execute do. It prints "torch exported
CNN bB\tseconds", the name vk_h100.sh gives ember-run's figure.
"""
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn

DTYPES = {"F32": np.float32, "I64": np.int64}


def read_safetensors(path):
    """The tensors and the metadata of a safetensors file, read with a few lines here."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        raw = f.read()
    tensors = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        a = np.frombuffer(raw[b:end], dtype=DTYPES[e["dtype"]]).reshape(e["shape"])
        tensors[name] = torch.from_numpy(a.copy())
    return tensors, header.get("__metadata__", {})


def mlp():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10))


def median_call(model, x, n):
    with torch.inference_mode():
        for _ in range(50):
            model(x)
        t = []
        for _ in range(n):
            t0 = time.perf_counter()
            model(x)
            t.append(time.perf_counter() - t0)
    t.sort()
    return t[(n + 1) // 2 - 1]


def median_cuda(model, x, n):
    with torch.inference_mode():
        for _ in range(50):
            model(x.to("cuda"))
        torch.cuda.synchronize()
        t = []
        for _ in range(n):
            t0 = time.perf_counter()
            model(x.to("cuda"))
            torch.cuda.synchronize()
            t.append(time.perf_counter() - t0)
    t.sort()
    return t[(n + 1) // 2 - 1]


def main_cuda(d):
    if not torch.cuda.is_available():
        print("# torch: CUDA is not available here; no peer figures", file=sys.stderr)
        return
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    weights, _ = read_safetensors(os.path.join(d, "digits_cnn.safetensors"))
    model = cnn()
    model.load_state_dict(weights, strict=True)
    model.eval().cuda()
    for batch in (1, 32):
        ins, _ = read_safetensors(os.path.join(d, "digits_cnn_b%d_in.safetensors" % batch))
        with torch.inference_mode():
            diff = (model(ins["pixels"].cuda()).cpu() - ins["expected"]).abs().max().item()
        print("# check exported CNN b%d: max |torch cuda - ember| %.3g" % (batch, diff), file=sys.stderr)
        print("torch exported CNN b%d\t%.9g" % (batch, median_cuda(model, ins["pixels"], 1000)),
              flush=True)


def main():
    d = sys.argv[1]
    if "--cuda" in sys.argv[2:]:
        return main_cuda(d)
    for kind, make in (("mlp", mlp), ("cnn", cnn)):
        weights, meta = read_safetensors(os.path.join(d, "digits_%s.safetensors" % kind))
        torch.set_num_threads(int(meta["threads"]))
        model = make()
        model.load_state_dict(weights, strict=True)
        model.eval()
        for batch in (1, 32):
            ins, _ = read_safetensors(os.path.join(d, "digits_%s_b%d_in.safetensors" % (kind, batch)))
            name = "%s b%d" % (kind.upper(), batch)
            n = 300 if (kind == "cnn" and batch == 32) else 1000   # export.lua's too
            with torch.inference_mode():
                diff = (model(ins["pixels"]) - ins["expected"]).abs().max().item()
            print("check %s\t%.9g" % (name, diff))
            print("torch %s\t%.9g" % (name, median_call(model, ins["pixels"], n)), flush=True)


main()
