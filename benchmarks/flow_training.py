"""Benchmark: segment flow-map distillation on CPU, the fixed reference run of issue 3.

Reference run: the paper's data (d = 64, K = 20 means from torch seed 0 in [−5, 5]^64, β = 5,
T = 1, σ0 = 1), the 8-segment stability grid, one seed, ReLU MLP students of width 512 and depth 4,
batch 1024, AdamW lr 2e−4, 4000 training steps in total (500 per student), 5000 eval samples
against the 100-step RK4 reference. Prints the end-to-end wall time, training steps per second,
where the time went (the students' forward/backward vs teacher + sampling, optimizer,
evaluation) and the final relMSE.

    python benchmarks/flow_training.py                      # the reference run, default mode
    python benchmarks/flow_training.py --mode both          # batched and sequential, one after the other
    python benchmarks/flow_training.py --threads 1 --total-steps 800

The authors' script takes ~670 s for this run on a 2-core machine (final relMSE 0.37).

Measured (torch CPU build, width 512, batch 1024, 2 threads; students' fwd/bwd are MKL GEMMs):

=================================  ==========  ==============  =================  ========
machine, mode                       wall        student steps/s  outside fwd/bwd   relMSE
=================================  ==========  ==============  =================  ========
this 2-core Xeon, sequential        157.8 s     25.4             24.6%             0.3670
this 2-core Xeon, batched           158.0 s     25.4             24.3%             0.3708
2 cores of the 16-core device
  (taskset, 480 steps, teacher then
  on 2 threads): sequential         18.1 s      26.9             19.5%             -
  same, batched                     31.6 s      15.4             30.8%             -
=================================  ==========  ==============  =================  ========

The shared 2-core machine also ran other jobs (load 0.3–1.6 during the 157.8 s run; an earlier
run at load ~2.4, with the teacher still on 2 threads, took 276.5 s). The RK4 teacher runs on one
thread (:data:`distillplan.flowmap.teacher.CPU_THREADS`); what remains outside the GEMMs is the
teacher + sampling (~18%), AdamW + clipping (~5%) and evaluation (<1%).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from distillplan.mixture import IsotropicMixture, OUProcess, make_grid, paper_means
from distillplan.flowmap import DEFAULT_MODE, MixtureField, StudentSpec, eval_generator, evaluate_flow_map, train_segments
from distillplan.nn import TrainSettings, cpu_runtime


def reference_run(mode: str, threads: int, total_steps: int, eval_samples: int, seed: int, segments: int,
                  grid_kind: str, width: int, batch: int) -> dict:
    """One timed run; every number printed comes from here."""
    start = time.perf_counter()
    cpu_start = time.process_time()
    with cpu_runtime(threads) as used_threads:
        mixture = IsotropicMixture.equal_weights(paper_means(20, 64, 0, 5.0), 1.0)
        process = OUProcess(5.0, 1.0)
        grid = make_grid(grid_kind, segments, process, mixture)
        field = MixtureField(mixture, process)
        result = train_segments(field, grid.times, TrainSettings(steps=total_steps // segments, batch=batch, lr=2e-4),
                                StudentSpec(width, 4, "relu"), seed=seed, mode=mode)
        eval_start = time.perf_counter()
        scores = evaluate_flow_map(field, result.students, eval_samples, eval_generator(0, segments, 1.0))
        eval_s = time.perf_counter() - eval_start
    wall = time.perf_counter() - start
    t = result.timings
    student_steps = result.steps * segments
    return {
        "mode": result.mode, "threads": used_threads, "wall_s": wall, "cpu_s": time.process_time() - cpu_start,
        "train_s": t.total_s, "teacher_s": t.data_s, "forward_backward_s": t.forward_backward_s,
        "optimizer_s": t.update_s, "loop_other_s": t.other_s, "eval_s": eval_s,
        "setup_s": wall - t.total_s - eval_s, "student_steps": student_steps,
        "steps_per_s": student_steps / t.total_s, "relmse": scores.relmse, "nll0": scores.nll0,
    }


def report(r: dict) -> str:
    outside = r["wall_s"] - r["forward_backward_s"]
    lines = [
        f"mode {r['mode']}, {r['threads']} thread(s)",
        f"  end-to-end wall        {r['wall_s']:8.1f} s   (process CPU {r['cpu_s']:.1f} s)",
        f"  training               {r['train_s']:8.1f} s   {r['steps_per_s']:.2f} student steps/s "
        f"({r['student_steps']} steps of batch {r['batch']})",
        f"    students fwd/bwd     {r['forward_backward_s']:8.1f} s",
        f"    teacher + sampling   {r['teacher_s']:8.1f} s",
        f"    optimizer + clip     {r['optimizer_s']:8.1f} s",
        f"    other loop work      {r['loop_other_s']:8.1f} s",
        f"  evaluation             {r['eval_s']:8.1f} s",
        f"  setup                  {r['setup_s']:8.1f} s",
        f"  outside students' fwd/bwd: {outside:.1f} s = {100 * outside / r['wall_s']:.1f}% of the wall time",
        f"  final relMSE {r['relmse']:.4f}   NLL0 {r['nll0']:.2f} nats",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["auto", "batched", "sequential", "both"], default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores / $DISTILLPLAN_THREADS)")
    parser.add_argument("--total-steps", type=int, default=4000)
    parser.add_argument("--eval-samples", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--segments", type=int, default=8)
    parser.add_argument("--grid", default="stability")
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--batch", type=int, default=1024)
    args = parser.parse_args()
    modes = ["batched", "sequential"] if args.mode == "both" else [args.mode]
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, auto mode on CPU = {DEFAULT_MODE['cpu']}")
    print(f"reference run: n = {args.segments} {args.grid} grid, width {args.width}, depth 4, batch {args.batch}, "
          f"{args.total_steps} total steps, {args.eval_samples} eval samples, seed {args.seed}")
    for mode in modes:
        result = reference_run(mode, args.threads, args.total_steps, args.eval_samples, args.seed, args.segments,
                               args.grid, args.width, args.batch)
        result["batch"] = args.batch
        print(report(result), flush=True)


if __name__ == "__main__":
    main()
