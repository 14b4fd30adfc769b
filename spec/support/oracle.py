"""oracle.py — evaluates torch expressions for ember's specs (test-only).

Reads a JSON list of cases {expr, inputs:[{dtype, shape, data}]}, evaluates each
expr with x = list of torch tensors, and writes a JSON list of results
{ok, outputs:[{dtype, shape, data}]} or {ok: false, error}. A result that is a
tuple or list of tensors gives several outputs; a Python number gives one 0-dim.
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from oracle_codec import to_torch, encode  # noqa: E402


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    results = []
    for case in cases:
        try:
            x = [to_torch(s) for s in case["inputs"]]
            r = eval(case["expr"], {"torch": torch, "F": F, "x": x, "math": math})
            if isinstance(r, (tuple, list)):
                outs = [encode(o) for o in r]
            else:
                outs = [encode(r)]
            results.append({"ok": True, "outputs": outs})
        except Exception as e:  # the spec reports it with the case
            results.append({"ok": False, "error": "%s: %s" % (case["expr"], e)})
    with open(sys.argv[2], "w") as f:
        json.dump(results, f)


main()
