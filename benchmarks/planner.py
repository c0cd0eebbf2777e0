"""Planner speed, memory and certificates: wall time, CPU time, peak resident memory and the gap bound.

Each case runs in its own process, so its peak RSS (``ru_maxrss``) is that case's alone (the Python,
numpy and distillplan baseline included, about 80 MB). Targets on 2 CPU cores:

* contracting-regime DP at T = 1024 under 5 s; scalar transition zone (λ = 1.08, T = 32) under 10 s;
* diagonal Λ (log-normal spectrum, median λ 0.6, σ_log 0.8, every λ_i distinct): 16,384 λ_i at T = 32 under
  60 s and 2 GB with a gap bound of at most 1 % of W2; 16,384 at T = 64 under 5 min.

    python benchmarks/planner.py [--skip-slow] [--case NAME]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

from distillplan import VPSchedule
from distillplan.linear import STRATEGIES, LinearTeacher, MergeModel, evaluate_plan, optimal_plan

MODEL = MergeModel(6.4)


def spectrum(dim: int, seed: int = 0) -> np.ndarray:
    """Log-normal variances, median 0.6, σ_log 0.8: spread across the transition zone, all distinct."""
    return np.exp(np.random.default_rng(seed).normal(np.log(0.6), 0.8, dim))


def _case_table() -> dict[str, tuple[int, object, dict, bool]]:
    """name -> (T, λ factory, optimal_plan options, slow)."""
    cases: dict[str, tuple[int, object, dict, bool]] = {}
    for T in (32, 256, 1024):
        cases[f"contracting DP, λ = 0.5, T = {T}"] = (T, lambda: [0.5], {}, False)
    for T in (32, 64):
        cases[f"scalar transition zone, λ = 1.08, T = {T}"] = (T, lambda: [1.08], {}, False)
    cases["scalar front (every stage budget), λ = 1.08, T = 32"] = (32, lambda: [1.08], {"front": True}, False)
    cases["scalar, λ = 1.3, T = 64"] = (64, lambda: [1.3], {}, False)
    for d in (128, 1024, 4096, 16384):
        cases[f"diagonal, {d} distinct λ, T = 32"] = (32, lambda d=d: spectrum(d), {}, d > 4096)
    cases["diagonal, 16384 distinct λ, T = 64"] = (64, lambda: spectrum(16384), {}, True)
    cases["diagonal with a stage budget of 8, 128 distinct λ, T = 32"] = (32, lambda: spectrum(128),
                                                                          {"max_stages": 8}, True)
    return cases


def run_case(name: str) -> dict:
    """One case in this process: timings, peak RSS and the certificate, as a JSON-able dict."""
    T, lam, options, _ = _case_table()[name]
    teacher = LinearTeacher(VPSchedule.cosine(T), lam())
    w0, c0 = time.perf_counter(), time.process_time()
    res = optimal_plan(teacher, MODEL, **options)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    budget = options.get("max_stages") or T
    canonical = min((evaluate_plan(build(T), teacher, MODEL).w2 for build in STRATEGIES.values()
                     if build(T).stages <= budget))
    return {"case": name, "wall": wall, "cpu": cpu, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "solver": res.solver, "certified": res.certified, "w2": res.w2, "lower_bound": res.lower_bound,
            "gap_bound": res.gap_bound, "canonical": canonical, "stages": res.plan.stages}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-slow", action="store_true", help="skip the 16,384-variance cases and the stage budget")
    ap.add_argument("--case", help="run one case in this process and print its JSON line")
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case)))
        return
    print(f"{'case':<58} {'wall':>8} {'cpu':>8} {'peak RSS':>10}  result")
    for name, (_, _, _, slow) in _case_table().items():
        if slow and args.skip_slow:
            continue
        out = subprocess.run([sys.executable, __file__, "--case", name], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rel = r["gap_bound"] / r["w2"] if r["w2"] > 0 else 0.0
        print(f"{name:<58} {r['wall']:7.2f}s {r['cpu']:7.2f}s {r['peak_mib']:8.0f} MB  {r['solver']}, "
              f"certified={r['certified']}, W2 {r['w2']:.6e} (best canonical within the stage budget {r['canonical']:.6e}), "
              f"lower bound {r['lower_bound']:.6e}, gap bound {r['gap_bound']:.1e} ({100 * rel:.3g}% of W2), "
              f"{r['stages']} stages", flush=True)


if __name__ == "__main__":
    main()
