"""safetensors.py — the peers of safetensors.lua: torch 1.13 and numpy on the same tensors.

    /usr/bin/python3 safetensors.py DIR [REPS]

Reads DIR/model.safetensors (written by safetensors.lua) with its own few lines of
parsing, so both sides hold the same bytes; writes DIR/model.pt (torch.save of the dict)
and DIR/npy/NAME.npy (one array per tensor: an .npz cannot be mapped, a directory of
.npy files can). Prints "PEER FIGURE\tseconds", each the median of REPS runs, and the sum
of every tensor as a check that torch read what ember read. torch keeps its default
threads (one per core), as ember keeps OpenMP's.
"""
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import time

import numpy as np
import torch

dirname = sys.argv[1]
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 7
st_path = os.path.join(dirname, "model.safetensors")
pt_path = os.path.join(dirname, "model.pt")
npy_dir = os.path.join(dirname, "npy")


def out(name, x):
    print("%s\t%.9g" % (name, x), flush=True)


def drop_caches():
    """Drops the page cache so that a cold run reads from the disk; False where not allowed."""
    r = subprocess.run("sync; (echo 3 > /proc/sys/vm/drop_caches) 2>/dev/null", shell=True)
    return r.returncode == 0


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    d = {}
    for name in sorted(k for k in header if k != "__metadata__"):
        e = header[name]
        assert e["dtype"] == "F32"
        b, end = e["data_offsets"]
        a = raw[8 + n + b:8 + n + end].view(np.float32).reshape(e["shape"])
        d[name] = torch.from_numpy(a.copy())
    del raw
    return d


def timed(f, n, cold=False):
    times, extra = [], None
    for _ in range(n):
        if cold:
            drop_caches()
        t0 = time.perf_counter()
        extra = f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), extra


d = read_safetensors(st_path)
first = next(iter(d))


# save: the file is removed and the disk synced before each run, untimed, as for ember.
def save_plain():
    torch.save(d, pt_path)


def save_fsync():
    with open(pt_path, "wb") as f:
        torch.save(d, f)
        f.flush()
        os.fsync(f.fileno())


for name, f in (("torch.save save", save_plain), ("torch.save+fsync save", save_fsync)):
    times = []
    for _ in range(reps):
        if os.path.exists(pt_path):
            os.remove(pt_path)
        subprocess.run("sync", shell=True)
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    out(name, statistics.median(times))

shutil.rmtree(npy_dir, ignore_errors=True)
os.mkdir(npy_dir)
for name, t in d.items():
    np.save(os.path.join(npy_dir, name + ".npy"), t.numpy())
del d
subprocess.run("sync", shell=True)
first_npy = os.path.join(npy_dir, first + ".npy")


def torch_open_first():
    d = torch.load(pt_path)
    return float(d[first].reshape(-1)[0])


def numpy_open_first():
    a = np.load(first_npy, mmap_mode="r")
    return float(a[(0,) * a.ndim])


def torch_load_touch():
    d = torch.load(pt_path)
    return sum(t.sum().item() for t in d.values())


cold = drop_caches()
if cold:
    out("torch.load open+first cold", timed(torch_open_first, reps, True)[0])
    out("np.load mmap .npy open+first cold", timed(numpy_open_first, reps, True)[0])
torch_open_first()
out("torch.load open+first warm", timed(torch_open_first, reps)[0])
numpy_open_first()
out("np.load mmap .npy open+first warm", timed(numpy_open_first, 201)[0])
if cold:
    out("torch.load load+touch cold", timed(torch_load_touch, reps, True)[0])
torch_load_touch()
t, s = timed(torch_load_touch, reps)
out("torch.load load+touch warm", t)
print("torch checksum\t%.17g" % s)
