"""train.py — torch eager training steps, the peer of train.lua: the same models,
batch and optimizer, timed the same way (best of 5 runs of n steps, CPU time)."""
import sys
import time

import torch
import torch.nn as nn


def best(step, n):
    for _ in range(20):
        step()
    t = float("inf")
    for _ in range(5):
        c0 = time.perf_counter()
        for _ in range(n):
            step()
        t = min(t, (time.perf_counter() - c0) / n)
    return t


def bench(name, model, x, y, n):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    print("torch %s\t%.9g" % (name, best(step, n)))


def main():
    torch.manual_seed(0)
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads()
    torch.set_num_threads(threads)
    x = torch.rand(32, 64)
    y = torch.randint(0, 10, (32,))
    mlp = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    bench("MLP 64-128-10 step", mlp, x, y, 2000)
    cnn = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10))
    bench("digits CNN step", cnn, x.view(32, 1, 8, 8), y, 500)


main()
