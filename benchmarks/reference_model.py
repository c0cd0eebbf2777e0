"""Benchmark: train the reference DDPM on the digits from an empty cache and measure it.

Trains :class:`~distillplan.models.reference.ReferenceConfig` (the default unless overridden) into a fresh
temporary cache with :func:`~distillplan.models.reference.load_or_train_reference`, then prints the
training wall time, the time to draw the quality samples (DDIM), the classifier's held-out accuracy,
FD(model), the floor FD(real half A, real half B) and the ceiling FD(matched noise, real), the time to
load the model back from the cache, and writes a grid of 64 samples to ``--out``.

    python benchmarks/reference_model.py --out /tmp/reference-samples.png
    python benchmarks/reference_model.py --train-steps 2000 --threads 2 --out samples.png

Timings depend on what else runs on the machine: the script prints the load average before and after.

Measured on the shared 2-core Xeon (torch 2.13 CPU, 2 threads, diffusers 0.42), default config:

=========================================  ==============  ==============
figure                                      3000 steps      4000 steps
                                            (the default)   (earlier run)
=========================================  ==============  ==============
training wall time                          247.3 s         639.5 s
ms per step (free cores / loaded)           70 / 144        71 / 272
sampling, DDIM 100 steps                    19.0 s (1000)   132.8 s (1797)
classifier accuracy (449 held out)          0.9777          0.9777
FD(model, all real)                         6.05 (1000)     2.91 (1797)
FD(model, real half B), floor's sizes       8.35            7.18
FD floor (real half A vs half B)            9.42            9.42
FD ceiling (matched noise)                  396.3           404.0
median nearest distance, model / real A     1.140 / 1.083   -
load from the cache                         0.016 s         0.014 s
=========================================  ==============  ==============

Both runs shared the machine with other workers' jobs (test suites): the 4000-step run under a load
average of 2.7–3.5 most of the time, the 3000-step run under ~1.5 for its first 500 steps and on free
cores after that. The 1500-step model of the same config scored 10.04 at the floor's sample sizes.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shutil
import tempfile
import time

import torch

from distillplan.models.reference import ReferenceConfig, load_or_train_reference, save_sample_figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="PNG path for the 64-sample grid")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--train-steps", type=int, default=None, help="override ReferenceConfig.train_steps")
    parser.add_argument("--lr", type=float, default=None, help="override ReferenceConfig.lr")
    parser.add_argument("--channels", type=str, default=None, help="override block_out_channels, e.g. 32,64")
    parser.add_argument("--cache", default=None, help="cache root (default: a fresh temporary folder, removed after)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    config = ReferenceConfig()
    overrides = {}
    if args.train_steps is not None:
        overrides["train_steps"] = args.train_steps
    if args.lr is not None:
        overrides["lr"] = args.lr
    if args.channels:
        overrides["block_out_channels"] = tuple(int(c) for c in args.channels.split(","))
    config = dataclasses.replace(config, **overrides)
    cache = args.cache or tempfile.mkdtemp(prefix="distillplan-reference-")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads; load average before {os.getloadavg()}")
    print(f"config: {config}")
    last = [time.perf_counter()]

    def progress(step: int, total: int, loss: float) -> None:
        if step % 500 == 0 or step == total:
            now = time.perf_counter()
            print(f"  step {step:>6}/{total}  loss {loss:.4f}  ({now - last[0]:.1f} s since last)", flush=True)
            last[0] = now

    try:
        start = time.perf_counter()
        model = load_or_train_reference(cache, "cpu", config, progress)
        total = time.perf_counter() - start
        t0 = time.perf_counter()
        again = load_or_train_reference(cache, "cpu", config)
        load_s = time.perf_counter() - t0
        assert again.cached and not model.cached
        q = model.quality
        t0 = time.perf_counter()
        samples = model.sample(64)
        sample64_s = time.perf_counter() - t0
        save_sample_figure(samples, args.out)
        print(f"load average after {os.getloadavg()}")
        print(f"folder                         {model.folder}")
        print(f"training wall time             {model.train_seconds:.1f} s ({config.train_steps} steps, "
              f"{1000 * model.train_seconds / config.train_steps:.1f} ms/step; final loss {model.meta['final_loss']:.4f})")
        print(f"sampling time                  {q['sample_seconds']:.1f} s ({q['samples']} samples, DDIM {q['sampler_steps']} "
              f"steps); 64 samples again: {sample64_s:.2f} s")
        print(f"classifier accuracy            {q['classifier_accuracy']:.4f} (held-out {q['classifier_test_size']} digits)")
        print(f"FD(model, real)                {q['fd_model']:.4f}  ({q['samples']} vs {q['real']})")
        print(f"FD(model half, real half B)    {q['fd_model_half']:.4f}  (at the floor's sample sizes)")
        print(f"FD floor (real A vs real B)    {q['fd_floor']:.4f}")
        print(f"FD ceiling (matched noise)     {q['fd_ceiling']:.4f}")
        print(f"median distance to nearest    model {q['nearest_model']:.3f} vs real A {q['nearest_floor']:.3f} "
              f"(pixels in [0, 1], to real half B)")
        print(f"samples per class (0..9)       {q['sample_classes']}")
        print(f"quality evaluation             {q['quality_seconds']:.1f} s (classifier training included)")
        print(f"end to end                     {total:.1f} s; load from cache {load_s:.3f} s")
        print(f"sample figure                  {args.out}")
    finally:
        if args.cache is None:
            shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
