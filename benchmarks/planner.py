"""Planner speed and memory: prints wall time and peak traced memory for the reference cases.

Targets (2 CPU cores): contracting-regime DP at T = 1024 under 5 s; general scalar planner at T = 32
in the transition zone (λ = 1.08) under 10 s; diagonal planner on a 128-dim spectrum with most
λ_i ≤ 1 at T = 32 under 60 s.

    python benchmarks/planner.py [--skip-slow]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from distillplan import VPSchedule
from distillplan.linear import LinearTeacher, MergeModel, canonical_plan, evaluate_plan, optimal_plan
from distillplan.linear.strategies import STRATEGIES


def measure(label, fn):
    """Wall and CPU time of an untraced run, then peak traced memory of a second run."""
    w0, c0 = time.perf_counter(), time.process_time()
    res = fn()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    best_can = min(evaluate_plan(canonical_plan(n, res.plan.start), res_teacher[0], MODEL).w2 for n in STRATEGIES)
    print(f"{label:<52} {wall:7.2f} s {cpu:7.2f} s {peak / 2**20:8.1f} MiB  solver={res.solver:<11} "
          f"certified={str(res.certified):<5} W2={res.w2:.3e} (best canonical {best_can:.3e}, "
          f"gap bound {res.gap_bound:.1e})", flush=True)


MODEL = MergeModel(6.4)
res_teacher = [None]


def teacher(T, lam):
    res_teacher[0] = LinearTeacher(VPSchedule.cosine(T), lam)
    return res_teacher[0]


def vae_like_spectrum(dim=128, seed=0):
    """Log-normal variances, median e^-1: most λ_i ≤ 1 with a tail above (like VAE latents)."""
    return np.exp(np.random.default_rng(seed).normal(-1.0, 0.8, dim))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-slow", action="store_true", help="skip the 128-dim case")
    args = ap.parse_args()
    print(f"{'case':<52} {'wall':>9} {'cpu':>9} {'peak mem':>12}")
    for T in (32, 256, 1024):
        te = teacher(T, [0.5])
        measure(f"contracting DP, λ = 0.5, T = {T}", lambda: optimal_plan(te, MODEL))
    for T in (32, 64):
        te = teacher(T, [1.08])
        measure(f"general scalar (auto), λ = 1.08, T = {T}", lambda: optimal_plan(te, MODEL))
        measure(f"general scalar (Pareto forced), λ = 1.08, T = {T}", lambda: optimal_plan(te, MODEL, solver="pareto"))
    te = teacher(32, [1.08])
    measure("scalar front (all stage budgets), λ = 1.08, T = 32", lambda: optimal_plan(te, MODEL, front=True))
    te = teacher(64, [1.3])
    measure("general scalar (auto), λ = 1.3, T = 64", lambda: optimal_plan(te, MODEL))
    if not args.skip_slow:
        lam = vae_like_spectrum()
        te = teacher(32, lam)
        print(f"128-dim spectrum: {np.mean(lam <= 1):.0%} of λ_i ≤ 1, max {lam.max():.2f}")
        measure("diagonal Pareto, 128 dims, T = 32", lambda: optimal_plan(te, MODEL))


if __name__ == "__main__":
    main()
