"""The check every model source passes before use: shape and finiteness of the velocity at both ends."""

from __future__ import annotations

import torch

from ..errors import DistillPlanError
from .field import VelocityField

__all__ = ["probe", "first_line", "PROBE_SAMPLES"]

PROBE_SAMPLES = 2


def probe(field: VelocityField, seed: int = 0) -> None:
    """Evaluate ``field`` on :data:`PROBE_SAMPLES` prior draws at ``t = horizon`` and ``t = t_min``; the
    velocity must be a finite tensor of the input's shape, else :class:`DistillPlanError` naming ``model``
    (``process`` when a parameterisation is singular at an end of the process)."""
    label = field.describe().get("source", type(field).__name__)
    x = field.prior(PROBE_SAMPLES, torch.Generator().manual_seed(seed))
    process = field.process
    for t in (float(process.horizon), float(process.t_min)):
        try:
            with torch.no_grad():
                v = field.velocity(x, t)
        except DistillPlanError as exc:
            if exc.argument == "t":
                raise DistillPlanError("process", f"{exc.message}: set the process's t_min / horizon") from None
            raise
        except Exception as exc:  # the model's own failure, reported in one line
            raise DistillPlanError("model", f"{label} failed on input {tuple(x.shape)} at t = {t:g}: "
                                            f"{type(exc).__name__}: {first_line(exc)}") from None
        if not isinstance(v, torch.Tensor):
            raise DistillPlanError("model", f"{label} returned {type(v).__name__}, not a tensor, at t = {t:g}")
        if v.shape != x.shape:
            raise DistillPlanError("model", f"{label} returned shape {tuple(v.shape)} for input {tuple(x.shape)} "
                                            f"at t = {t:g}")
        if not bool(torch.isfinite(v).all()):
            raise DistillPlanError("model", f"{label} returned NaN or infinite values at t = {t:g}")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when empty), for one-line error reports."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
