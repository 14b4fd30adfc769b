"""dispatch.py — torch eager per-call cost of the same ops (peer of dispatch.lua)."""
import time
import torch

torch.set_num_threads(1)
a, b = torch.ones(64), torch.ones(64)


def best(f, n):
    t = float("inf")
    for _ in range(5):
        c0 = time.process_time()
        f(n)
        t = min(t, (time.process_time() - c0) / n)
    return t


def plus(n):
    for _ in range(n):
        c = a + b


def add_(n):
    for _ in range(n):
        a.add_(b)


n = 100000
print("torch a+b\t%.9g" % best(plus, n))
print("torch a:add_(b)\t%.9g" % best(add_, n))
