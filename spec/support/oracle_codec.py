"""oracle_codec.py — tensors between ember's specs (JSON) and torch, both ways."""
import math

import torch

DTYPES = {
    "f32": torch.float32, "f64": torch.float64, "f16": torch.float16,
    "bf16": torch.bfloat16, "i8": torch.int8, "i16": torch.int16,
    "i32": torch.int32, "i64": torch.int64, "u8": torch.uint8, "bool": torch.bool,
}


def parse(v):
    if isinstance(v, str):
        return float(v)
    return v


def to_torch(spec):
    dt = DTYPES[spec["dtype"]]
    data = [parse(v) for v in spec["data"]]
    if dt in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        t = torch.tensor(data, dtype=torch.float64).to(dt)
    elif dt == torch.bool:
        t = torch.tensor([bool(v) for v in data], dtype=torch.bool)
    else:
        t = torch.tensor(data, dtype=torch.int64).to(dt)
    return t.reshape(spec["shape"])


def encode(v):
    if not isinstance(v, torch.Tensor):
        v = torch.tensor(v)
    name = str(v.dtype).replace("torch.", "")
    flat = v.detach().reshape(-1)
    if flat.dtype in (torch.float16, torch.bfloat16):
        flat = flat.to(torch.float32)
    out = []
    for x in flat.tolist():
        if isinstance(x, float):
            if math.isnan(x):
                out.append("nan")
            elif math.isinf(x):
                out.append("inf" if x > 0 else "-inf")
            else:
                out.append(repr(x))
        elif isinstance(x, bool):
            out.append(1 if x else 0)
        else:
            out.append(x)
    return {"dtype": name, "shape": list(v.shape), "data": out}
