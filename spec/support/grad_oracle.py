"""grad_oracle.py — PyTorch autograd as the reference for ember's gradient specs.

Reads a JSON list of cases {expr, inputs:[{dtype, shape, data, requires_grad}],
grads:[{dtype, shape, data}]}: evaluates expr with x = the inputs, backpropagates
grads[k] from the k-th floating output, and writes per case {ok, outputs, grads}
where grads[i] is the gradient of input i (null when it gets none) — or
{ok: false, error}. Test-only; never a dependency of ember itself.
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oracle_codec import to_torch, encode  # noqa: E402


def run(case):
    x = [to_torch(s) for s in case["inputs"]]
    for t, s in zip(x, case["inputs"]):
        if s.get("requires_grad"):
            t.requires_grad_(True)
    r = eval(case["expr"], {"torch": torch, "F": F, "x": x, "math": math})
    outs = list(r) if isinstance(r, (tuple, list)) else [r]
    floats = [o for o in outs if o.is_floating_point() and o.requires_grad]
    grads = [to_torch(g) for g in case["grads"]][:len(floats)]
    if floats:
        torch.autograd.backward(floats, grads)
    return {
        "ok": True,
        "outputs": [encode(o) for o in outs],
        "grads": [encode(t.grad) if t.grad is not None else None for t in x],
    }


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    results = []
    for case in cases:
        try:
            results.append(run(case))
        except Exception as e:  # the spec reports it with the case
            results.append({"ok": False, "error": "%s: %s" % (case["expr"], e)})
    with open(sys.argv[2], "w") as f:
        json.dump(results, f)


main()
