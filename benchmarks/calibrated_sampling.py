"""Sampling the reference DDPM on refined calibrated grids: does every sampler converge to the fine teacher?

Calibrates the reference model (``--model digits``: trained on first use, then cached), then for n in
``--segments`` samples ``--eval`` noises (a stream disjoint from the calibration's) with each sampler on the
n-segment calibrated grid and prints the relative error ``‖x_n − x_teacher‖ / ‖x_teacher‖`` of the final
states, the teacher being RK4 with 4 substeps between 257 profile times (1024 steps spaced like the profile).

    python benchmarks/calibrated_sampling.py [--segments 4,8,16,32,64] [--eval 64] [--device auto]
"""

from __future__ import annotations

import argparse
import time

import torch

from distillplan.calibrate import calibrate
from distillplan.calibrate.stability import balanced_grid
from distillplan.calibrate.trajectories import pf_trajectories, profile_times
from distillplan.models import load_diffusers_folder, load_or_train_reference
from distillplan.nn.streams import make_generator
from distillplan.sampling import SAMPLERS, evaluations, sample


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--segments", default="4,8,16,32,64")
    ap.add_argument("--eval", type=int, default=64)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    counts = [int(s) for s in args.segments.split(",")]
    t0 = time.perf_counter()
    reference = load_or_train_reference(device=args.device)
    field = load_diffusers_folder(reference.folder, device=args.device)
    print(f"reference model: {reference.folder} ({'cached' if reference.cached else 'trained now'}, "
          f"{time.perf_counter() - t0:.1f} s)")
    t0 = time.perf_counter()
    cal = calibrate(field, counts[0], samples=64, points=64, iters=8)
    print(f"calibration (64 × 64 × 8): {time.perf_counter() - t0:.1f} s, A_total = {cal.A_total:.4g}, "
          f"{int(cal.unconverged.sum())} of {cal.rho.size} power iterations not converged")
    x = field.prior(args.eval, make_generator("noise", 1, "calibrated-sampling"))
    t0 = time.perf_counter()
    teacher = pf_trajectories(field, x, profile_times(field.process, 257), substeps=4)[:, -1]
    print(f"teacher: RK4, 1024 steps, {time.perf_counter() - t0:.1f} s")
    print(f"{'n':>4} " + " ".join(f"{m:>16}" for m in SAMPLERS) + "   (relative error to the teacher; NFE)")
    for n in counts:
        grid = balanced_grid(cal.curve, n).times
        cells = []
        for method in SAMPLERS:
            out = sample(field, x, grid, method)
            err = float(torch.linalg.norm(out - teacher) / torch.linalg.norm(teacher))
            cells.append(f"{err:10.3e} ({evaluations(method, field.process, grid):3d})")
        print(f"{n:>4} " + " ".join(cells))


if __name__ == "__main__":
    main()
