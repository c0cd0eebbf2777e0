"""A tiny deterministic study for the runner tests (importable by spawned worker processes)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from distillplan.runner import Study, Sweep, grid

CALLS: list[tuple[float, int]] = []
"""(scale, seed) of every in-process call, for tests that count runs."""

CALLS_LOG = "DISTILLPLAN_TOY_CALLS_LOG"
"""Environment variable naming a file to which every call, in any process, appends "scale seed pid"."""


@dataclass(frozen=True)
class ToyConfig:
    scale: float = 1.0
    size: int = 3
    label: str = "a"
    sleep_s: float = 0.0
    fail: bool = False


def run_toy(config: ToyConfig, seed: int) -> list[dict]:
    """Two rows per run: a seeded normal draw per step, plus one draw from numpy's global RNG."""
    CALLS.append((config.scale, seed))
    _log_call(config, seed)
    if config.fail:
        raise RuntimeError(f"toy failure at scale {config.scale}")
    time.sleep(config.sleep_s)
    x = np.random.default_rng(seed).normal(size=config.size) * config.scale
    global_draw = np.random.random()  # seeded by seed_everything
    return [
        {"step": 0, "value": x.sum(), "global_draw": global_draw},
        {"step": 1, "value": float(np.abs(x).max()), "global_draw": global_draw},
    ]


def run_or_crash(config: ToyConfig, seed: int) -> list[dict]:
    """Like :func:`run_toy`, but a config with ``fail`` kills its process (a crashed worker)."""
    if config.fail:
        os._exit(1)
    return run_toy(config, seed)


def _log_call(config: ToyConfig, seed: int) -> None:
    path = os.environ.get(CALLS_LOG)
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, f"{config.scale} {seed} {os.getpid()}\n".encode())
        finally:
            os.close(fd)


def quick() -> Sweep:
    return Sweep("toy", grid(ToyConfig, scale=[1.0, 2.0]), seeds=[0, 1, 2])


def slow() -> Sweep:
    return Sweep("toy", grid(ToyConfig, base={"sleep_s": 0.15}, scale=[1.0, 2.0, 3.0, 4.0]), seeds=[0, 1, 2])


def broken() -> Sweep:
    return Sweep("toy", grid(ToyConfig, scale=[1.0, 2.0], fail=[False, True]), seeds=[0])


TOY = Study(
    name="toy",
    config_type=ToyConfig,
    run=run_toy,
    presets={"quick": quick, "slow": slow, "broken": broken},
    group_by=("scale", "step"),
)
