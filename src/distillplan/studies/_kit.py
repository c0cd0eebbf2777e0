"""What every study shares: validated config blocks, the runtime of a run, and the reporting helpers.

A study config is a frozen dataclass deriving from :class:`StudyConfig` and from the blocks it needs;
fields stay flat (``--set sigma0=0.1``, not ``--set mixture.sigma0=0.1``):

* :class:`MixtureSpec` — the paper's mixture ``(1/K) Σ_k N(μ_k, σ0² I)`` with means uniform in ``[−box, box]^d``;
* :class:`OUSpec` — the OU process (β, horizon T); :class:`FlowSpec` — both, with the exact flow field;
* :class:`MergeSpec` — paper 1's linear model: T teacher steps, VP schedule, optimization time s, init, rate;
* :class:`OptimiserSpec` — batch, learning rate, weight decay, gradient clip of the one training loop;
* :class:`EvaluationSpec` — held-out evaluation draws and their seed;
* :class:`RuntimeSpec` — device (``auto|cpu|cuda[:i]|mps``) and torch threads (0 = automatic).

Every field has a stated range (:class:`Int`, :class:`Real`, :class:`OneOf`) in the ``RANGES`` of the class
that declares it; :meth:`StudyConfig.__post_init__` checks them all, then the study's own :meth:`~StudyConfig.check`.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Mapping, Sequence

import numpy as np

from ..errors import SEED_MAX as MAX_SEED
from ..errors import DistillPlanError, check_device

__all__ = [
    "Int", "Real", "OneOf", "SubsetOf", "DeviceName", "Text", "IntSet", "BOOL", "ACTIVATION", "StudyConfig", "MixtureSpec", "OUSpec", "FlowSpec", "MergeSpec", "OptimiserSpec", "EvaluationSpec",
    "RuntimeSpec", "field_ranges", "mean_std_text", "errorbar_figure", "by_cell", "scaled_cost", "mlp_work",
]

MAX_STEPS = 10_000_000
MAX_SAMPLES = 10_000_000


# ------------------------------------------------------------------------------------- ranges
@dataclass(frozen=True)
class Int:
    """An integer in ``[lo, hi]`` (``None`` allowed when ``optional``)."""

    lo: int
    hi: int
    optional: bool = False

    def check(self, name: str, value: Any) -> Any:
        if value is None and self.optional:
            return None
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not self.lo <= value <= self.hi:
            raise DistillPlanError(name, f"must be an integer in {self}, got {value!r}")
        return int(value)

    def __str__(self) -> str:
        return f"[{self.lo}, {self.hi}]" + (" or none" if self.optional else "")


@dataclass(frozen=True)
class Real:
    """A finite number in ``[lo, hi]``, or ``(lo, hi]`` when ``open_lo`` (``None`` allowed when ``optional``)."""

    lo: float
    hi: float
    open_lo: bool = False
    optional: bool = False

    def check(self, name: str, value: Any) -> Any:
        if value is None and self.optional:
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise DistillPlanError(name, f"must be a number in {self}, got {value!r}") from None
        if isinstance(value, bool) or not math.isfinite(number) or not (
                (self.lo < number if self.open_lo else self.lo <= number) and number <= self.hi):
            raise DistillPlanError(name, f"must be a number in {self}, got {value!r}")
        return number

    def __str__(self) -> str:
        return f"{'(' if self.open_lo else '['}{self.lo:g}, {self.hi:g}]" + (" or none" if self.optional else "")


@dataclass(frozen=True)
class OneOf:
    """One of ``options``: a tuple, or ``"module:ATTRIBUTE"`` naming one that is imported on first use (so a
    config module names torch-side choices such as activations without importing torch)."""

    options: tuple | str

    @property
    def choices(self) -> tuple:
        if isinstance(self.options, str):
            module, attribute = self.options.split(":")
            return tuple(getattr(importlib.import_module(module), attribute))
        return self.options

    def check(self, name: str, value: Any) -> Any:
        choices = self.choices
        if isinstance(value, bool) and all(isinstance(o, bool) for o in choices):
            return value
        if isinstance(value, bool) or value not in choices:
            raise DistillPlanError(name, f"must be one of {list(choices)}, got {value!r}")
        return value

    def __str__(self) -> str:
        return " | ".join(str(o).lower() if isinstance(o, bool) else str(o) for o in self.choices)


@dataclass(frozen=True)
class SubsetOf:
    """A non-empty list of distinct items of ``options`` (a single item is taken as a list of one)."""

    options: tuple

    def check(self, name: str, value: Any) -> tuple:
        items = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, (tuple, list)) else None
        bad = [v for v in items or () if v not in self.options]
        if not items or bad:
            raise DistillPlanError(name, f"must be a non-empty subset of {list(self.options)}, got {value!r}")
        return tuple(dict.fromkeys(items))

    def __str__(self) -> str:
        return "subset of " + ", ".join(self.options)


@dataclass(frozen=True)
class IntSet:
    """A non-empty set of distinct integers in ``[lo, hi]`` (a single integer is a set of one), kept sorted."""

    lo: int
    hi: int

    def check(self, name: str, value: Any) -> tuple:
        items = (value,) if isinstance(value, int) else tuple(value) if isinstance(value, (tuple, list)) else ()
        if not items or any(isinstance(v, bool) or not isinstance(v, int) or not self.lo <= v <= self.hi
                            for v in items):
            raise DistillPlanError(name, f"must be a non-empty set of integers in [{self.lo}, {self.hi}], got {value!r}")
        return tuple(sorted(set(items)))

    def __str__(self) -> str:
        return f"set of integers in [{self.lo}, {self.hi}]"


ACTIVATION = OneOf("distillplan.nn.students:ACTIVATIONS")
"""The hidden-layer activation of an MLP student (:data:`distillplan.nn.ACTIVATIONS`)."""


class Text:
    """Any string."""

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise DistillPlanError(name, f"must be a string, got {value!r}")
        return value

    def __str__(self) -> str:
        return "text"


@dataclass(frozen=True)
class DeviceName:
    """A torch device name: ``auto``, ``cpu``, ``cuda``, ``cuda:<i>`` or ``mps`` (availability is checked at run time)."""

    def check(self, name: str, value: Any) -> str:
        return check_device(name, value)

    def __str__(self) -> str:
        return "auto | cpu | cuda[:i] | mps"


BOOL = OneOf((True, False))


def field_ranges(config_type: type) -> dict[str, Any]:
    """Every field's range, collected from ``RANGES`` along the class hierarchy (subclasses override)."""
    ranges: dict[str, Any] = {}
    for cls in reversed(config_type.__mro__):
        ranges.update(cls.__dict__.get("RANGES", {}))
    return ranges


# ------------------------------------------------------------------------------------- blocks
@dataclass(frozen=True)
class StudyConfig:
    """Base of every study config: each field is checked against its range on construction."""

    RANGES: ClassVar[dict[str, Any]] = {}

    def __post_init__(self) -> None:
        ranges = field_ranges(type(self))
        for spec in dataclasses.fields(self):
            check = ranges.get(spec.name)
            if check is None:
                raise TypeError(f"{type(self).__name__}.{spec.name} has no declared range")
            object.__setattr__(self, spec.name, check.check(spec.name, getattr(self, spec.name)))
        self.check()

    def check(self) -> None:
        """Checks across fields (a study overrides it; ranges are already checked)."""

    def preflight(self) -> None:
        """Checks that need this machine, run by :func:`distillplan.runner.run_study` before any run starts."""


@dataclass(frozen=True)
class MixtureSpec(StudyConfig):
    """The paper's mixture: K means uniform in ``[−box, box]^d`` from torch seed ``means_seed``, std σ0."""

    dim: int = 64
    components: int = 20
    means_seed: int = 0
    box: float = 5.0
    sigma0: float = 1.0

    RANGES: ClassVar[dict[str, Any]] = dict(dim=Int(1, 4096), components=Int(1, 1024), means_seed=Int(0, MAX_SEED),
                                            box=Real(0.0, 1e4, open_lo=True), sigma0=Real(1e-8, 1e4))

    def mixture(self, means_seed: int | None = None):
        """The :class:`~distillplan.mixture.IsotropicMixture` (``means_seed`` overrides the field)."""
        from ..mixture import paper_mixture

        seed = self.means_seed if means_seed is None else means_seed
        return paper_mixture(self.components, self.dim, seed, self.box, self.sigma0)


@dataclass(frozen=True)
class OUSpec(StudyConfig):
    """The OU process ``dx = −βx dt + √(2β) dW`` on ``[0, T]``."""

    beta: float = 5.0
    horizon: float = 1.0

    RANGES: ClassVar[dict[str, Any]] = dict(beta=Real(1e-6, 1e3), horizon=Real(1e-6, 1e3))

    def process(self):
        from ..mixture import OUProcess

        return OUProcess(self.beta, self.horizon)


@dataclass(frozen=True)
class FlowSpec(MixtureSpec, OUSpec):
    """The paper's mixture under the OU process, with its exact probability flow."""

    def field(self, device: Any = "cpu", dtype: Any = None, means_seed: int | None = None):
        """The :class:`~distillplan.flowmap.MixtureField` (float32 unless ``dtype``) on ``device``."""
        import torch

        from ..flowmap import MixtureField

        return MixtureField(self.mixture(means_seed), self.process(), dtype or torch.float32, device=device)


@dataclass(frozen=True)
class MergeSpec(StudyConfig):
    """Paper 1's linear model: T teacher steps on a VP schedule, optimization time s per stage, init, rate."""

    teacher_steps: int = 32
    schedule: str = "cosine"
    budget: float = 6.4
    init: str = "warm"
    rate: str = "normalized"

    RANGES: ClassVar[dict[str, Any]] = dict(teacher_steps=Int(2, 4096), schedule=OneOf("distillplan.schedules:SCHEDULES"),
                                            budget=Real(0.0, 1e4), init=OneOf("distillplan.linear:INITS"),
                                            rate=OneOf("distillplan.linear:RATES"))

    def model(self):
        from ..linear import MergeModel

        return MergeModel(self.budget, self.init, self.rate)

    def vp_schedule(self):
        from ..schedules import make_schedule

        return make_schedule(self.schedule, self.teacher_steps)


@dataclass(frozen=True)
class OptimiserSpec(StudyConfig):
    """AdamW batch, learning rate and weight decay, and the per-student gradient-norm clip (none: off)."""

    batch: int = 1024
    lr: float = 2e-4
    weight_decay: float = 0.0
    grad_clip: float | None = 1.0

    RANGES: ClassVar[dict[str, Any]] = dict(batch=Int(1, 1_000_000), lr=Real(0.0, 10.0, open_lo=True),
                                            weight_decay=Real(0.0, 10.0), grad_clip=Real(0.0, 1e6, True, True))

    def settings(self, steps: int, **extra: Any):
        """:class:`~distillplan.nn.TrainSettings` for ``steps`` optimiser steps (``extra``: weight_bound, lr_floor)."""
        from ..nn import TrainSettings

        return TrainSettings(steps=steps, batch=self.batch, lr=self.lr, weight_decay=self.weight_decay,
                             grad_clip=self.grad_clip, **extra)


@dataclass(frozen=True)
class EvaluationSpec(StudyConfig):
    """``eval_samples`` held-out draws from the stream ``("eval", eval_seed, ...)``."""

    eval_samples: int = 50_000
    eval_seed: int = 0

    RANGES: ClassVar[dict[str, Any]] = dict(eval_samples=Int(1, MAX_SAMPLES), eval_seed=Int(0, MAX_SEED))


@dataclass(frozen=True)
class RuntimeSpec(StudyConfig):
    """Where a run computes: ``device`` (``auto|cpu|cuda[:i]|mps``) and torch CPU ``threads`` (0 = automatic)."""

    threads: int = 0
    device: str = "cpu"

    RANGES: ClassVar[dict[str, Any]] = dict(threads=Int(0, 1024), device=DeviceName())

    def preflight(self) -> None:
        """The device must be available on this machine (:func:`distillplan.nn.resolve_device`)."""
        from ..nn.runtime import resolve_device

        resolve_device(self.device)

    @contextmanager
    def runtime(self) -> Iterator[tuple[Any, int]]:
        """``(torch device, thread count)`` for the block: threads set and restored, subnormals flushed."""
        from ..nn.runtime import cpu_runtime, resolve_device

        device = resolve_device(self.device)
        with cpu_runtime(self.threads) as threads:
            yield device, threads


# ------------------------------------------------------------------------------------- cost
def scaled_cost(work: Callable[[Any], float], reference: Any, seconds: float) -> Callable[[Any], float]:
    """``cost(config) = seconds · work(config) / work(reference)``: a measured run scaled by the work it does
    (for :attr:`distillplan.runner.Study.cost`; an estimate, good to a factor of about two)."""
    base = float(work(reference))

    def cost(config: Any) -> float:
        return seconds * float(work(config)) / base

    return cost


def mlp_work(dim: int, width: int, depth: int) -> float:
    """Multiply-adds of one forward pass of an MLP ``d → width^depth → d``, per row."""
    return dim * width + (depth - 1) * width * width + width * dim


# ------------------------------------------------------------------------------------- reports
def mean_std_text(values: Sequence[float], digits: int = 2) -> str:
    """``"mean ± std"`` in scientific notation (sample std, ddof = 1); the mean alone for one value."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return f"{mean:.{digits}e}"
    return f"{mean:.{digits}e} ± {float(np.std(values, ddof=1)):.{digits}e}"


def by_cell(rows: Sequence[Mapping], keys: Sequence[str], value: str) -> dict[tuple, list[float]]:
    """``{tuple(row[k] for k in keys): [row[value], ...]}``, skipping missing and NaN values."""
    cells: dict[tuple, list[float]] = {}
    for row in rows:
        v = row.get(value)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        cells.setdefault(tuple(row[k] for k in keys), []).append(float(v))
    return cells


def errorbar_figure(series: Mapping[str, Mapping[float, Sequence[float]]], path: str | Path, *, xlabel: str,
                    ylabel: str, title: str, log2_x: bool = True, floors: Mapping[str, float] | None = None,
                    size: tuple[float, float] = (5.2, 3.6), legend_size: float | None = None) -> Path:
    """Mean ± std (over seeds) against x for each series, log y (log₂ x with the data's ticks); ``floors``
    draws labelled grey horizontal lines. Returns the written path."""
    from ..plots import label_axes, pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=size)
    xs_all: set[float] = set()
    for label, points in series.items():
        xs = sorted(points)
        xs_all.update(xs)
        mean = [float(np.mean(points[x])) for x in xs]
        std = [float(np.std(points[x], ddof=1)) if len(points[x]) > 1 else 0.0 for x in xs]
        ax.errorbar(xs, mean, yerr=std, marker="o", capsize=3, label=label)
    for (label, level), style in zip((floors or {}).items(), ("--", ":", "-.")):
        if math.isfinite(level):
            ax.axhline(level, color="gray", linestyle=style, linewidth=1, label=label)
    if log2_x:
        ax.set_xscale("log", base=2)
        ticks = sorted(xs_all)
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    label_axes(ax, xlabel=xlabel, ylabel=ylabel, title=title, legend_size=legend_size)
    return save_figure(fig, path, dpi=130)
