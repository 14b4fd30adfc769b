"""startup.py — wall time and peak RSS of `ember -e ''` beside `python3 -c 'import torch'`.

Each command runs 5 times; the best wall time and its peak RSS (os.wait4's rusage of
that very child) are printed with the ratios.
"""
import os
import subprocess
import sys
import time


def measure(cmd):
    best = None
    for _ in range(5):
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        t = time.perf_counter() - t0
        if status != 0:
            sys.exit("startup: %s failed" % cmd)
        if best is None or t < best[0]:
            best = (t, ru.ru_maxrss / 1024.0)
    return best


e = measure([sys.argv[1], "-e", ""])
t = measure(["/usr/bin/python3", "-c", "import torch"])
print("start-up   ember %6.1f ms %6.1f MB   torch %7.1f ms %6.1f MB   torch/ember %6.1fx time %5.1fx memory"
      % (e[0] * 1e3, e[1], t[0] * 1e3, t[1], t[0] / e[0], t[1] / e[1]))
