"""What the pieces of the ``model-grids`` study cost on the reference DDPM: fitting each schedule, sampling
through diffusers against the native samplers, and the distillation teacher pool.

Prints, for n = 8 on the reference model (trained on first use, then cached): the seconds to build each
schedule from a calibration batch (GITS: one evaluation per fine point; OptimalSteps: up to n·P), the
seconds per sampler run of ``--eval`` noises natively and through diffusers' schedulers (and their
agreement), and the time and bytes of a teacher pool.

    python benchmarks/model_grids.py [--eval 256] [--cal 32] [--fine 33] [--pool 256] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from distillplan.calibrate import calibrate
from distillplan.calibrate.trajectories import draw_noise, pf_trajectories, profile_times
from distillplan.flowmap.pool import TeacherPool
from distillplan.mixture import OUProcess, fit_isotropic_mixture
from distillplan.models import load_diffusers_folder, load_or_train_reference
from distillplan.nn.streams import make_generator
from distillplan.sampling import sample
from distillplan.sampling.diffusers_samplers import run_sampler
from distillplan.sampling.schedules import SCHEDULES, make_schedule_times


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--eval", type=int, default=256)
    ap.add_argument("--cal", type=int, default=32)
    ap.add_argument("--fine", type=int, default=33)
    ap.add_argument("--pool", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    reference = load_or_train_reference(device="cpu")
    field = load_diffusers_folder(reference.folder, device="cpu")
    process, n = field.process, 8
    print(f"reference model {reference.folder}; {args.threads} threads; n = {n}")

    (jac, t_jac) = _timed(lambda: calibrate(field, n, samples=args.cal, points=48, iters=8, bootstrap=0))
    (acc, t_acc) = _timed(lambda: calibrate(field, n, samples=args.cal, points=48, profile="acceleration",
                                            bootstrap=0))
    fine_times = profile_times(process, args.fine)
    with torch.no_grad():
        fine, t_fine = _timed(lambda: pf_trajectories(field, draw_noise(field, args.cal), fine_times, substeps=4))
    from distillplan.data.digits import load_digits

    rows = load_digits().data.reshape(-1, 64).astype(np.float64) * 2 - 1
    mixture, t_fit = _timed(lambda: fit_isotropic_mixture(rows[:, rows.std(axis=0) > 0]))
    print(f"shared inputs: Jacobian calibration {t_jac:.1f} s, acceleration {t_acc:.1f} s, fine teacher "
          f"({args.cal} × {args.fine} points) {t_fine:.1f} s, mixture fit {t_fit:.1f} s")
    inputs = {"mixture-stability": dict(mixture=(mixture, OUProcess(5.0, 1.0))), "calibrated": dict(calibration=jac),
              "acceleration": dict(calibration=acc),
              "gits": dict(field=field, fine_times=fine_times, fine_states=fine),
              "oss": dict(field=field, fine_times=fine_times, fine_states=fine)}
    grids = {}
    for name in SCHEDULES:
        grids[name], seconds = _timed(lambda: make_schedule_times(name, n, process=process, **inputs.get(name, {})))
        print(f"  schedule {name:<17} {seconds:7.3f} s  " + ", ".join(f"{t:.4g}" for t in grids[name]))

    noise = field.prior(args.eval, make_generator("noise", 0, "benchmark"))
    print(f"sampling {args.eval} noises on the log-SNR grid (native vs diffusers' schedulers):")
    for sampler in ("euler", "heun", "dpmpp-2m"):
        with torch.no_grad():
            (x_d, nfe), t_d = _timed(lambda: run_sampler(field, noise.clone(), grids["logsnr"], sampler))
            x_n, t_n = _timed(lambda: sample(field, noise.clone(), grids["logsnr"], sampler))
        gap = float((x_d.double() - x_n.double()).norm() / x_n.double().norm())
        print(f"  {sampler:<9} native {t_n:6.2f} s, diffusers {t_d:6.2f} s ({nfe} evaluations), relative "
              f"difference {gap:.2e}")
    pool, t_pool = _timed(lambda: TeacherPool.build(field, args.pool, points=65, substeps=2))
    per_sample = t_pool / args.pool
    print(f"teacher pool: {args.pool} trajectories × 65 nodes in {t_pool:.1f} s ({per_sample * 1024:.0f} s per 1024), "
          f"{pool.nbytes / 2**20:.1f} MiB ({pool.nbytes / args.pool * 1024 / 2**20:.0f} MiB per 1024)")


if __name__ == "__main__":
    main()
