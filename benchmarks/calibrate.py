"""Benchmark: what a calibration costs, and how it grows with N·M·k.

Two fields, both float32 like a trained model: the exact PF velocity of the paper's mixture (d = 64,
K = 20 means in [−5, 5]^64 from torch seed 0, σ0 = 0.5, β = 5, T = 1), and a small MLP velocity
(64 → 256 → 256 → 64 with the time as an extra input, seeded random weights). For each (N, M, k) it
prints the wall time, the estimated forward-pass equivalents of :func:`calibration_cost`, and the
measured equivalents: wall time divided by the time of one batched forward pass per sample (so a
measured/estimated ratio near 1 means the cost model holds for that field).

    python benchmarks/calibrate.py            # the table below
    python benchmarks/calibrate.py --quick    # two rows per field
    python benchmarks/calibrate.py --threads 2

Measured on the shared 2-core development machine (torch 2.13 CPU, 1 thread, load ≈ 2; segments 8,
bootstrap 200; "iters": mean power iterations used of k, "unconv": (row, point) pairs not converged):

==============  =====  ====  ===  ======  ========  =========  =====  =====  ======
field           N      M     k    wall s  est. fwd  meas. fwd  ratio  iters  unconv
==============  =====  ====  ===  ======  ========  =========  =====  =====  ======
paper-mixture   16     32    4    0.13    1.27e4    7.0e4      5.6    2.5    74
paper-mixture   64     32    4    0.16    5.07e4    2.0e5      4.0    2.6    328
paper-mixture   256    32    4    0.49    2.03e5    3.6e5      1.8    2.6    1309
paper-mixture   64     64    8    0.40    1.67e5    5.4e5      3.2    3.5    344
paper-mixture   64     64    32   0.79    5.61e5    3.9e5      0.70   8.1    30
paper-mixture   64     128   8    0.76    3.35e5    3.7e5      1.1    3.5    608
paper-mixture   256    64    8    1.14    6.70e5    6.6e5      0.98   3.6    1164
paper-mixture   1024   64    8    4.56    2.68e6    2.8e6      1.03   3.7    4532
mlp             16     32    4    0.19    1.27e4    5.1e4      4.0    4.0    512
mlp             64     32    4    0.22    5.07e4    9.5e4      1.9    4.0    2048
mlp             256    32    4    0.54    2.03e5    1.3e5      0.64   4.0    8192
mlp             64     64    8    0.79    1.67e5    1.6e5      0.96   8.0    3848
mlp             64     64    32   2.66    5.61e5    5.5e5      0.97   32.0   623
mlp             64     128   8    1.50    3.35e5    3.1e5      0.92   8.0    7714
mlp             256    64    8    1.80    6.70e5    4.3e5      0.64   8.0    15327
mlp             1024   64    8    6.11    2.68e6    2.2e6      0.82   8.0    61196
==============  =====  ====  ===  ======  ========  =========  =====  =====  ======

Wall time grows linearly in N·M·(4·substeps + 1 + 4k) once batches are large enough to amortise the
per-call overhead of ``torch.func`` (small N: ratio 2–6, Python overhead dominates). The random MLP's
top singular values are close, so power iteration rarely meets tol = 1e-3 within k ≤ 8 (most rows
unconverged); the mixture's profile converges in ~3–4 iterations. Multi-threaded torch on this shared
machine was up to 100× slower for these small batches, hence ``--threads 1``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from distillplan.calibrate import calibrate, calibration_cost
from distillplan.mixture import paper_mixture
from distillplan.models import OUVP, FunctionField
from distillplan.nn.streams import global_stream

BETA, HORIZON, SIGMA0 = 5.0, 1.0, 0.5
TABLE = [(16, 32, 4), (64, 32, 4), (256, 32, 4), (64, 64, 4), (64, 64, 8), (64, 64, 32), (64, 128, 8), (256, 64, 8),
         (1024, 64, 8)]
QUICK = [(16, 32, 4), (64, 32, 4)]


def mixture_field(dtype=torch.float32) -> FunctionField:
    """``v = −β(x + ∇log p_t)`` of the paper's mixture with ``s_t² = σ0² − (1 − σ0²)·expm1(−2βt)``."""
    mixture = paper_mixture(sigma0=SIGMA0)
    means = torch.tensor(np.array(mixture.means), dtype=dtype)
    s02 = SIGMA0 ** 2

    def velocity(x, t):
        s2 = s02 - (1.0 - s02) * np.expm1(-2.0 * BETA * t)
        m = np.exp(-BETA * t) * means
        logits = -((x[:, None, :] - m[None]) ** 2).sum(-1) / (2.0 * s2)
        return -BETA * (x - (x - torch.softmax(logits, dim=1) @ m) / s2)

    return FunctionField(velocity, OUVP(BETA, HORIZON, 0.0), (mixture.dim,), dtype=dtype, label="paper-mixture")


def mlp_field(dim: int = 64, width: int = 256) -> FunctionField:
    with global_stream("init", 0, "benchmark-calibrate"):
        net = torch.nn.Sequential(torch.nn.Linear(dim + 1, width), torch.nn.SiLU(), torch.nn.Linear(width, width),
                                  torch.nn.SiLU(), torch.nn.Linear(width, dim))
    net.requires_grad_(False)

    def velocity(x, t):
        return net(torch.cat([x, torch.full_like(x[:, :1], t)], dim=1))

    return FunctionField(velocity, OUVP(BETA, HORIZON, 0.0), (dim,), dtype=torch.float32, label="mlp")


def forward_seconds_per_sample(field: FunctionField, n: int, repeats: int = 50) -> float:
    x = torch.randn(n, *field.shape, dtype=field.dtype)
    with torch.no_grad():
        field.velocity(x, 0.3)
        start = time.perf_counter()
        for _ in range(repeats):
            field.velocity(x, 0.3)
    return (time.perf_counter() - start) / (repeats * n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="two (N, M, k) rows per field")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = QUICK if args.quick else TABLE
    print(f"torch {torch.__version__}, {args.threads} thread(s); segments 8, bootstrap 200, substeps 2, tol 1e-3")
    header = f"{'field':<14}{'N':>6}{'M':>6}{'k':>4}{'wall s':>9}{'est. fwd':>11}{'meas. fwd':>11}{'ratio':>7}" \
             f"{'iters':>7}{'unconv':>8}"
    for field in (mixture_field(), mlp_field()):
        print(header)
        for n, m, k in rows:
            per_sample = forward_seconds_per_sample(field, n)
            calibrate(field, 8, samples=n, points=8, iters=1, bootstrap=0)  # warm-up
            start = time.perf_counter()
            result = calibrate(field, 8, samples=n, points=m, iters=k, bootstrap=200)
            wall = time.perf_counter() - start
            estimate = calibration_cost(field, n, m, k).total
            measured = wall / per_sample
            print(f"{field.label:<14}{n:>6}{m:>6}{k:>4}{wall:>9.2f}{estimate:>11.3g}{measured:>11.3g}"
                  f"{measured / estimate:>7.2f}{result.iterations.mean():>7.1f}{result.unconverged_total:>8}")


if __name__ == "__main__":
    main()
