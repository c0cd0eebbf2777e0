"""A time grid in a process's own time, from its noise end down to its data end ``t_min``.

:class:`~distillplan.schedules.TimeGrid` ends at exactly 0 (paper 2's OU process). A calibrated grid ends at
the process's ``t_min`` instead (``t_min > 0`` for EDM, the cosine VP, or an OU process stopped early), so
it is its own small value type that states its terminal point; :meth:`ProcessGrid.to_time_grid` converts
when ``t_min = 0``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import DistillPlanError
from ..schedules import DecreasingGrid, TimeGrid

__all__ = ["ProcessGrid"]


@dataclass(frozen=True, eq=False)
class ProcessGrid(DecreasingGrid):
    """Strictly decreasing times ``t_0 = horizon > t_1 > … > t_n = t_min`` (n ≥ 1 segments) in the time of
    the process named by ``process`` (its :meth:`~distillplan.models.processes.NoiseProcess.config`).
    Segment k maps ``t_{k−1} → t_k`` (noise to data)."""

    process: dict
    kind: str = "calibrated"

    def __post_init__(self) -> None:
        self._freeze_times()
        if not isinstance(self.process, dict) or "process" not in self.process:
            raise DistillPlanError("process", "must be a process config dict with a 'process' entry")

    @property
    def t_min(self) -> float:
        """The terminal (data-side) time ``t_n``."""
        return float(self.times[-1])

    def to_time_grid(self) -> TimeGrid:
        """The same grid as a :class:`~distillplan.schedules.TimeGrid` (only when it ends at ``t_min = 0``)."""
        if self.t_min != 0.0:
            raise DistillPlanError("grid", f"ends at t_min = {self.t_min:g}, but a TimeGrid must end at 0")
        return TimeGrid(self.times, kind=self.kind)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "process": dict(self.process), "t_min": self.t_min, "times": self.times.tolist()}

    def __repr__(self) -> str:
        return (f"ProcessGrid(kind={self.kind!r}, process={self.process.get('process')!r}, segments={self.segments}, "
                f"horizon={self.horizon:g}, t_min={self.t_min:g})")
