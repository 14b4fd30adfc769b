# vk_torch.py — the peers of vk.lua on CUDA (cuBLAS through torch.matmul, TF32 off),
# printing "torch <name>\t<seconds per call>", timed the same way: best of 3 rounds of
# n calls between synchronizations, after warm-up.
import sys
import time

import torch

small = len(sys.argv) > 1 and sys.argv[1] == "small"
if not torch.cuda.is_available():
    print("# torch: CUDA is not available here; no peer figures", file=sys.stderr)
    sys.exit(0)
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = "cuda"
print("# torch %s on %s" % (torch.__version__, torch.cuda.get_device_name(0)), file=sys.stderr)


def best(f, n):
    for _ in range(3):
        f()
    torch.cuda.synchronize()
    t = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        torch.cuda.synchronize()
        t = min(t, (time.perf_counter() - t0) / n)
    return t


def report(name, t):
    print("torch %s\t%.9g" % (name, t))


torch.manual_seed(0)
with torch.no_grad():
    for n in ([128, 256] if small else [1024, 4096, 8192]):
        a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
        report("matmul f32 %d" % n, best(lambda: a @ b, 5 if n >= 4096 else 50))
    for n in ([256] if small else [4096, 8192]):
        a, b = torch.randn(n, n, device=dev).half(), torch.randn(n, n, device=dev).half()
        report("matmul f16 %d" % n, best(lambda: a @ b, 10))
    n = (1 << 20) if small else (1 << 28)
    x, y = torch.randn(n, device=dev), torch.randn(n, device=dev)
    report("add_ 1GiB", best(lambda: x.add_(y), 10))
    report("sum 1GiB", best(lambda: x.sum(), 10))
    rows = torch.randn(256, 1024, device=dev) if small else torch.randn(8192, 8192, device=dev)
    report("softmax rows", best(lambda: torch.softmax(rows, 1), 10))
    w, bias = torch.ones(rows.shape[1], device=dev), torch.zeros(rows.shape[1], device=dev)
    report("layer_norm rows", best(lambda: torch.nn.functional.layer_norm(rows, (rows.shape[1],), w, bias), 10))

model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)).to(dev)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
xb, yb = torch.randn(32, 64, device=dev), torch.randint(0, 10, (32,), device=dev)
loss_fn = torch.nn.CrossEntropyLoss()


def step():
    opt.zero_grad()
    loss = loss_fn(model(xb), yb)
    loss.backward()
    opt.step()


report("mlp train step", best(step, 200))
