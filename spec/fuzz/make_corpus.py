#!/usr/bin/env python3
"""make_corpus.py - writes the fuzzer's seed files into spec/fuzz/corpus/.

The safetensors bytes are laid out by hand (8-byte little-endian header length, JSON
header, data), so the seeds do not depend on the reader under test. Valid seeds cover
each dtype family, scalars, zero-size tensors, metadata and sub-byte packing; invalid
ones each break one rule. The reference files in data/safetensors-reference/ are
copied in as well. Run from the repository root: /usr/bin/python3 spec/fuzz/make_corpus.py
"""
import json
import os
import shutil
import struct

OUT = "spec/fuzz/corpus"
ELEM_BITS = {"BOOL": 8, "U8": 8, "I8": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
             "I32": 32, "U32": 32, "F32": 32, "I64": 64, "U64": 64, "F64": 64, "C64": 64,
             "F8_E4M3": 8, "F8_E5M2": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8,
             "F6_E2M3": 6, "F6_E3M2": 6, "F4": 4}


def nbytes(dtype, shape):
    n = 1
    for d in shape:
        n *= d
    return n * ELEM_BITS[dtype] // 8


def pattern(n, seed):
    return bytes((seed * 37 + i * 11) & 0xFF for i in range(n))


def st_file(tensors, metadata=None, pad=True):
    """tensors: list of (name, dtype, shape); data is a byte pattern per tensor."""
    header, data, off = {}, b"", 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for k, (name, dtype, shape) in enumerate(tensors):
        n = nbytes(dtype, shape)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + n]}
        data += pattern(n, k)
        off += n
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def raw(header, data=b""):
    h = header if isinstance(header, bytes) else header.encode()
    return struct.pack("<Q", len(h)) + h + data


SEEDS = {
    # valid
    "f32_2x3": st_file([("w", "F32", [2, 3])]),
    "scalar_f64": st_file([("s", "F64", [])]),
    "zero_size": st_file([("e", "F32", [0]), ("z", "I64", [3, 0, 2]), ("a", "U8", [4])]),
    "ints": st_file([("i8", "I8", [5]), ("i16", "I16", [2, 2]), ("i32", "I32", [3]),
                     ("i64", "I64", [1, 2]), ("u16", "U16", [3]), ("u32", "U32", [2]),
                     ("u64", "U64", [2]), ("b", "BOOL", [4])]),
    "halves": st_file([("h", "F16", [4, 2]), ("bf", "BF16", [3, 3]), ("c", "C64", [2])]),
    "f8": st_file([("e4m3", "F8_E4M3", [6]), ("e5m2", "F8_E5M2", [2, 3]),
                   ("e8m0", "F8_E8M0", [4]), ("fnuz1", "F8_E4M3FNUZ", [3]),
                   ("fnuz2", "F8_E5M2FNUZ", [3])]),
    "subbyte": st_file([("f4", "F4", [4, 6]), ("f6a", "F6_E2M3", [8]),
                        ("f6b", "F6_E3M2", [2, 4])]),
    "metadata": st_file([("x", "F32", [2])], {"format": "pt", "note": "h\u00e9llo \\ \"q\""}),
    "metadata_only": st_file([], {"k": "v"}),
    "empty_header": raw("{}"),
    "dims8": st_file([("d", "F32", [1, 2, 1, 2, 1, 2, 1, 2])]),
    "dims9": st_file([("d", "U8", [1, 1, 1, 1, 1, 1, 1, 1, 2])]),
    "unpadded": st_file([("q", "I16", [3, 1])], pad=False),
    "unicode_name": st_file([("\u00fcber.\u6f22", "F32", [1])]),
    # invalid, one rule each
    "bad_offsets_gap": raw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', b"\0" * 8),
    "bad_size": raw('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', b"\0" * 4),
    "bad_overflow": raw('{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}'),
    "bad_dtype": raw('{"a":{"dtype":"F31","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4),
    "bad_duplicate": raw('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                         '"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', b"\0\0"),
    "bad_trailing": st_file([("x", "U8", [2])]) + b"\0",
    "bad_misaligned_f4": raw('{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}', b"\0"),
    "bad_header_len": struct.pack("<Q", 1000) + b"{}",
    "bad_huge_len": struct.pack("<Q", 1 << 62) + b"{}",
    "bad_short": b"\x02\0\0",
    "bad_utf8": raw(b'{"a\xed\xb3\xbf":1}'),   # an encoded surrogate
    "bad_negative": raw('{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}'),
    "bad_metadata_value": raw('{"__metadata__":{"k":1}}'),
    # bare JSON for the JSON reader
    "json_nested": b'{"a":[1,-2.5e+3,true,false,null,{"b":"\\u00e9\\ud83d\\ude00\\n"}],"":0}',
    "json_numbers": b"[0,-0,1e9,18446744073709551615,18446744073709551616,0.5E-1]",
    "json_deep": b"[" * 70 + b"]" * 70,
    # model.safetensors.index.json over the target's fixed shards (x in a; y, z in b)
    "index": json.dumps({"metadata": {"total_size": 15, "n": "1"},
                         "weight_map": {"x": "a.safetensors", "y": "b.safetensors",
                                        "z": "b.safetensors"}}).encode(),
    "index_wrong_file": b'{"weight_map":{"x":"b.safetensors"}}',
    "index_escape": b'{"weight_map":{"x":"../a.safetensors"}}',
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    ref = "data/safetensors-reference"
    for name in sorted(os.listdir(ref)):
        if name.endswith(".safetensors"):
            shutil.copyfile(os.path.join(ref, name), os.path.join(OUT, "ref_" + name[:-12]))


if __name__ == "__main__":
    main()
