"""st_reader.py — an independent safetensors reader for ember's specs (test-only).

Written from the format's description, not from ember: 8 bytes little-endian N, N
bytes of UTF-8 JSON (an object: tensor name -> {dtype, shape, data_offsets}, and an
optional "__metadata__" of string -> string), then the data section. It validates a
file in the reference implementation's order and names the first rule it breaks;
for a good file it gives each tensor's dtype, shape, offsets, the sha256 of its raw
bytes, its values, and its values converted to float32 and bfloat16. Values of the
dtypes torch 1.13 has come from torch.frombuffer; U16/U32/U64 are read as
little-endian integers, and the float8, float6 and float4 formats are decoded here
from their definitions.

It also writes the header the reference writer would give the same tensors
("canonical_header"): tensors sorted by dtype (the reference's enum order, widest
last, so descending puts the widest first) then name, offsets from 0, compact JSON in
serde_json's escaping, "__metadata__" first with its keys sorted, spaces up to a
multiple of 8.

    /usr/bin/python3 st_reader.py FILE... > out.json      (a JSON list, one per file)
    --no-values   leaves out values, f32 and bf16
"""
import hashlib
import json
import math
import struct
import sys

import numpy as np

torch = None   # imported only when values are asked for: it takes seconds to load

MAX_HEADER = 100_000_000

# The reference's Dtype enum, in its order; bits per element.
DTYPE_ORDER = [
    "BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0",
    "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "F32",
    "C64", "F64", "I64", "U64",
]
BITS = {
    "BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8,
    "F8_E4M3": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16,
    "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "C64": 64, "F64": 64,
    "I64": 64, "U64": 64,
}
TORCH_NAMES = {
    "BOOL": "bool", "U8": "uint8", "I8": "int8", "I16": "int16", "I32": "int32",
    "I64": "int64", "F16": "float16", "BF16": "bfloat16", "F32": "float32",
    "F64": "float64", "C64": "complex64",
}
TORCH = {}
UINTS = {"U16": ("<H", 2, np.uint16), "U32": ("<I", 4, np.uint32), "U64": ("<Q", 8, np.uint64)}

USIZE_MAX = 2**64 - 1


class Invalid(Exception):
    def __init__(self, name, detail):
        super().__init__(detail)
        self.name = name
        self.detail = detail


# {====== minifloat decoding, from the formats' definitions

def ieee_like(code, ebits, mbits, bias):
    """sign | exponent | mantissa with subnormals; the caller handles special codes."""
    sign = -1.0 if code >> (ebits + mbits) & 1 else 1.0
    e = code >> mbits & ((1 << ebits) - 1)
    m = code & ((1 << mbits) - 1)
    if e == 0:
        return sign * math.ldexp(m, 1 - bias - mbits)
    return sign * math.ldexp((1 << mbits) + m, e - bias - mbits)


def f8_e4m3(c):      # OCP E4M3 ("fn"): no infinities, S.1111.111 is NaN
    if c & 0x7F == 0x7F:
        return math.nan
    return ieee_like(c, 4, 3, 7)


def f8_e5m2(c):      # OCP E5M2: IEEE 754 rules
    e, m = c >> 2 & 0x1F, c & 3
    if e == 0x1F:
        return math.nan if m else (-math.inf if c & 0x80 else math.inf)
    return ieee_like(c, 5, 2, 15)


def f8_e4m3fnuz(c):  # bias 8, the negative-zero code is the only NaN
    return math.nan if c == 0x80 else ieee_like(c, 4, 3, 8)


def f8_e5m2fnuz(c):  # bias 16, the negative-zero code is the only NaN
    return math.nan if c == 0x80 else ieee_like(c, 5, 2, 16)


def f8_e8m0(c):      # OCP MX scale: 2^(c - 127), 0xFF is NaN, no sign, no zero
    return math.nan if c == 0xFF else math.ldexp(1.0, c - 127)


def f6_e2m3(c):      # OCP MX FP6 E2M3: finite only
    return ieee_like(c, 2, 3, 1)


def f6_e3m2(c):      # OCP MX FP6 E3M2: finite only
    return ieee_like(c, 3, 2, 3)


def f4_e2m1(c):      # OCP MX FP4 E2M1: finite only
    return ieee_like(c, 2, 1, 1)


MINIFLOAT = {
    "F8_E4M3": f8_e4m3, "F8_E5M2": f8_e5m2, "F8_E4M3FNUZ": f8_e4m3fnuz,
    "F8_E5M2FNUZ": f8_e5m2fnuz, "F8_E8M0": f8_e8m0, "F6_E2M3": f6_e2m3,
    "F6_E3M2": f6_e3m2, "F4": f4_e2m1,
}


def codes(raw, bits, n):
    """Element codes of a little-endian bit stream: element i at bits [bits*i, bits*(i+1))."""
    stream = int.from_bytes(raw, "little")
    mask = (1 << bits) - 1
    return [stream >> (bits * i) & mask for i in range(n)]

# }======


def number(v):
    """A float for JSON: NaN and infinities as strings."""
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
    return v


def values_of(dtype, raw, n):
    """(values, f32, bf16) as Python lists."""
    if dtype in TORCH:
        t = torch.frombuffer(bytearray(raw), dtype=TORCH[dtype]) if n else torch.zeros(0, dtype=TORCH[dtype])
        if dtype == "C64":
            vals = [[float(z.real), float(z.imag)] for z in t.tolist()]
            real = t.real
            return vals, real.to(torch.float32).tolist(), real.to(torch.bfloat16).to(torch.float64).tolist()
        vals = [int(v) for v in t.tolist()] if dtype == "BOOL" else t.tolist()
        f32 = t.to(torch.float32).tolist()
        bf16 = t.to(torch.bfloat16).to(torch.float64).tolist()
        return vals, f32, bf16
    if dtype in UINTS:
        fmt, size, npdt = UINTS[dtype]
        vals = [struct.unpack_from(fmt, raw, size * i)[0] for i in range(n)]
        f32 = np.array(vals, dtype=npdt).astype(np.float32)   # one rounding, as a cast does
        f32t = torch.from_numpy(f32.copy())
        return [str(v) for v in vals] if dtype == "U64" else vals, f32t.tolist(), \
            f32t.to(torch.bfloat16).to(torch.float64).tolist()
    vals = [MINIFLOAT[dtype](c) for c in codes(raw, BITS[dtype], n)]
    f32 = torch.tensor(vals, dtype=torch.float64).to(torch.float32)    # exact: all fit
    assert all((a == b) or (a != a and b != b) for a, b in zip(f32.tolist(), vals))
    return vals, f32.tolist(), f32.to(torch.bfloat16).to(torch.float64).tolist()


# {====== strict JSON, as serde_json reads it

class Obj(list):
    """A JSON object as its (key, value) pairs, in order, duplicates kept."""


class Frac(str):
    """A JSON number written with a fraction or an exponent (kept as its text)."""


def no_constants(s):
    raise Invalid("InvalidHeaderDeserialization", "not JSON: " + s)


def check_strings(v):
    """serde_json refuses lone surrogates, which Python's json lets through."""
    if isinstance(v, str):
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise Invalid("InvalidHeaderDeserialization", "lone surrogate")
    elif isinstance(v, Obj):
        for k, x in v:
            check_strings(k)
            check_strings(x)
    elif isinstance(v, list):
        for x in v:
            check_strings(x)


def parse_json(text):
    dec = json.JSONDecoder(object_pairs_hook=Obj, parse_constant=no_constants,
                           parse_float=Frac, strict=True)
    try:
        doc = dec.decode(text)   # whitespace around the value is allowed, as JSON allows
    except json.JSONDecodeError as e:
        raise Invalid("InvalidHeaderDeserialization", str(e))
    check_strings(doc)
    return doc


def is_object(v):
    return isinstance(v, Obj)


def is_array(v):
    return isinstance(v, list) and not isinstance(v, Obj)


def uint(v, what):
    if isinstance(v, bool) or not isinstance(v, int) or v < 0 or v > USIZE_MAX:
        raise Invalid("InvalidHeaderDeserialization", what + " must be a non-negative integer")
    return v

# }======


def read(path, with_values):
    with open(path, "rb") as fh:
        data = fh.read()
    if len(data) < 8:
        raise Invalid("HeaderTooSmall", "%d bytes" % len(data))
    n = struct.unpack_from("<Q", data, 0)[0]
    if n > MAX_HEADER:
        raise Invalid("HeaderTooLarge", "N = %d" % n)
    if 8 + n > len(data):
        raise Invalid("InvalidHeaderLength", "N = %d, file %d" % (n, len(data)))
    try:
        text = data[8:8 + n].decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise Invalid("InvalidHeader", "not UTF-8")
    root = parse_json(text)
    if not is_object(root):
        raise Invalid("InvalidHeaderDeserialization", "the header is not an object")
    metadata, tensors = None, []
    seen_meta = False
    for key, val in root:
        if key == "__metadata__":
            if seen_meta:
                raise Invalid("InvalidHeaderDeserialization", "__metadata__ twice")
            seen_meta = True
            if val is None:
                continue
            if not is_object(val):
                raise Invalid("InvalidHeaderDeserialization", "__metadata__ is not an object")
            metadata = []
            for mk, mv in val:
                if not isinstance(mv, str):
                    raise Invalid("InvalidHeaderDeserialization", "metadata value not a string")
                if any(mk == k for k, _ in metadata):
                    raise Invalid("InvalidHeaderDeserialization", "metadata key twice")
                metadata.append((mk, mv))
            continue
        if not is_object(val):
            raise Invalid("InvalidHeaderDeserialization", "tensor %r is not an object" % key)
        fields = {}
        for fk, fv in val:
            if fk in ("dtype", "shape", "data_offsets"):
                if fk in fields:
                    raise Invalid("InvalidHeaderDeserialization", "duplicate field " + fk)
                fields[fk] = fv
        for need in ("dtype", "shape", "data_offsets"):
            if need not in fields:
                raise Invalid("InvalidHeaderDeserialization", "missing field " + need)
        dtype = fields["dtype"]
        if not isinstance(dtype, str) or dtype not in BITS:
            raise Invalid("InvalidHeaderDeserialization", "unknown dtype %r" % (dtype,))
        shape, offs = fields["shape"], fields["data_offsets"]
        if not is_array(shape):
            raise Invalid("InvalidHeaderDeserialization", "shape is not an array")
        shape = [uint(d, "a dim") for d in shape]
        if not is_array(offs) or len(offs) != 2:
            raise Invalid("InvalidHeaderDeserialization", "data_offsets is not [begin, end]")
        begin, end = uint(offs[0], "begin"), uint(offs[1], "end")
        tensors.append({"name": key, "dtype": dtype, "shape": shape, "begin": begin, "end": end})
    names = sorted(t["name"] for t in tensors)
    for a, b in zip(names, names[1:]):
        if a == b:
            raise Invalid("DuplicateTensorName", a)
    # the reference's validation: sorted by offsets, contiguous from 0, sizes exact
    start = 0
    for t in sorted(tensors, key=lambda t: (t["begin"], t["end"])):
        if t["begin"] != start or t["end"] < t["begin"]:
            raise Invalid("InvalidOffset", t["name"])
        start = t["end"]
        nel = 1
        for d in t["shape"]:
            nel *= d
            if nel > USIZE_MAX:
                raise Invalid("ValidationOverflow", t["name"])
        nbits = nel * BITS[t["dtype"]]
        if nbits > USIZE_MAX:
            raise Invalid("ValidationOverflow", t["name"])
        if nbits % 8:
            raise Invalid("MisalignedSlice", t["name"])
        if nbits // 8 != t["end"] - t["begin"]:
            raise Invalid("TensorInvalidInfo", t["name"])
        t["numel"] = nel
    if 8 + n + start != len(data):
        raise Invalid("MetadataIncompleteBuffer", "data ends at %d, file %d" % (8 + n + start, len(data)))
    out_tensors = []
    for t in tensors:
        raw = data[8 + n + t["begin"]:8 + n + t["end"]]
        e = {"name": t["name"], "dtype": t["dtype"], "shape": t["shape"],
             "offsets": [t["begin"], t["end"]], "sha256": hashlib.sha256(raw).hexdigest(),
             "hex": raw.hex() if len(raw) <= 4096 else None}
        if with_values:
            vals, f32, bf16 = values_of(t["dtype"], raw, t["numel"])
            e["values"] = [[number(x) for x in v] if isinstance(v, list) else number(v) for v in vals]
            e["f32"] = [number(v) for v in f32]
            e["bf16"] = [number(v) for v in bf16]
        out_tensors.append(e)
    return {
        "ok": True,
        "header_len": n,
        "header": text,
        "key_order": [k for k, _ in root],
        "metadata": None if metadata is None else {k: v for k, v in metadata},
        "metadata_order": None if metadata is None else [k for k, _ in metadata],
        "tensors": out_tensors,
        "data_sha256": hashlib.sha256(data[8 + n:]).hexdigest(),
        "canonical_header": canonical(tensors, metadata),
    }


def canonical(tensors, metadata):
    """The header the reference writer gives these tensors and metadata."""
    order = sorted(tensors, key=lambda t: (-DTYPE_ORDER.index(t["dtype"]), t["name"].encode("utf-8")))
    parts, off = [], 0
    if metadata:
        meta = ",".join(dumps(k) + ":" + dumps(v) for k, v in sorted(metadata, key=lambda kv: kv[0].encode("utf-8")))
        parts.append('"__metadata__":{' + meta + "}")
    for t in order:
        size = t["end"] - t["begin"]
        parts.append(dumps(t["name"]) + ':{"dtype":' + dumps(t["dtype"]) + ',"shape":[' +
                     ",".join(str(d) for d in t["shape"]) + '],"data_offsets":[%d,%d]}' % (off, off + size))
        off += size
    text = "{" + ",".join(parts) + "}"
    text += " " * ((8 - len(text.encode("utf-8")) % 8) % 8)
    return text


def dumps(s):
    # serde_json: \" \\ and the short escapes \b \f \n \r \t, other controls as \u00XX,
    # everything else (non-ASCII included) as is — which is json.dumps without ASCII escaping
    return json.dumps(s, ensure_ascii=False)


def main():
    global torch
    args = sys.argv[1:]
    with_values = "--no-values" not in args
    if with_values:
        import torch as t
        torch = t
        TORCH.update({k: getattr(torch, v) for k, v in TORCH_NAMES.items()})
    out = []
    for path in (a for a in args if not a.startswith("--")):
        try:
            out.append(read(path, with_values))
        except Invalid as e:
            out.append({"ok": False, "error": e.name, "detail": e.detail})
    json.dump(out, sys.stdout, ensure_ascii=True, allow_nan=False)


if __name__ == "__main__":
    main()
