"""A teacher pool: probability-flow trajectories of any :class:`~distillplan.models.field.VelocityField`, run once.

Real velocity fields are expensive (a UNet per evaluation), so segment distillation of such a field
(:mod:`.generic`) never calls the teacher while training: :meth:`TeacherPool.build` integrates ``samples``
noise draws once from ``horizon`` down to ``t_min`` and every grid reads its training pairs from the pool.

**Build.** Noises ``field.prior(samples, ("noise", seed, "teacher-pool"))``; trajectories with classical
RK4 (:func:`~distillplan.calibrate.trajectories.walk`) recorded at ``points`` nodes spaced uniformly in the
profile coordinate (:func:`~distillplan.calibrate.trajectories.profile_times`: uniform in log-SNR inside
EDM's noise range, first node exactly ``horizon``, last exactly ``t_min``) with ``substeps`` RK4 steps
between nodes. At every node the pool also stores the velocity ``v(x, t_j) = dx/dt`` (one extra batched
evaluation per node). Cost: ``samples · (points − 1) · (4·substeps) + samples · points`` velocity
evaluations, in batches of ``batch`` rows.

**Storage.** States and velocities as float32 tensors ``(samples, points, *shape)`` on ``storage``
(CPU by default), i.e. ``samples · points · numel · 4 bytes × 2`` (:func:`pool_nbytes`): 2048 samples ×
129 points of a 3×32×32 image take 6.5 GB, of an 8×8 digit 135 MB.

**Reading.** :meth:`TeacherPool.states_at` returns the state of every trajectory at any ``t`` in
``[t_min, horizon]`` by piecewise cubic Hermite interpolation in ``t`` between the bracketing nodes, using
the states and the stored derivatives ``dx/dt`` — exact at the nodes, ``O(h⁴)`` between them.

**Saving.** :meth:`TeacherPool.to_dict` holds plain tensors, floats, lists and the process config
(:meth:`~distillplan.models.processes.NoiseProcess.config`), so ``torch.save(pool.to_dict(), path)`` loads
back with ``torch.load(path, weights_only=True)`` and :meth:`TeacherPool.from_dict` (:meth:`save` /
:meth:`load` do both).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_write
from ..calibrate.trajectories import profile_times, walk
from ..errors import DistillPlanError, check_int_at_least, check_int_range, check_seed
from ..models.field import VelocityField
from ..models.processes import NoiseProcess, make_process
from ..nn.streams import make_generator

__all__ = ["DEFAULT_POOL_BATCH", "DEFAULT_POOL_POINTS", "DEFAULT_POOL_SUBSTEPS", "TeacherPool", "pool_nbytes"]

DEFAULT_POOL_POINTS = 129
"""Trajectory nodes of a pool (uniform in the profile coordinate)."""
DEFAULT_POOL_SUBSTEPS = 4
"""RK4 steps between consecutive pool nodes."""
DEFAULT_POOL_BATCH = 1024
"""Trajectories integrated together while building a pool."""
_FORMAT = 1
_SPAN_SLACK = 1e-12  # relative slack on the pool's span for times that round off its ends


def pool_nbytes(samples: int, points: int, shape) -> int:
    """Bytes of a float32 pool: states and velocities, ``samples · points · numel · 4 × 2``."""
    return int(samples) * int(points) * int(np.prod(tuple(shape), dtype=np.int64)) * 4 * 2


@dataclass(eq=False)
class TeacherPool:
    """Teacher trajectories and their velocities at ``times`` (see the module docstring).

    ``times`` (float64, strictly decreasing, ``points`` entries) runs from the noise end to the data end;
    ``states`` and ``velocities`` have shape ``(samples, points, *shape)``; ``source`` is the field's
    :meth:`~distillplan.models.field.VelocityField.describe` (JSON-able).
    """

    process: NoiseProcess
    shape: tuple[int, ...]
    times: np.ndarray
    states: torch.Tensor
    velocities: torch.Tensor
    seed: int = 0
    substeps: int = DEFAULT_POOL_SUBSTEPS
    source: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.process, NoiseProcess):
            raise DistillPlanError("process", f"must be a NoiseProcess, got {type(self.process).__name__}")
        self.shape = tuple(int(s) for s in self.shape)
        times = np.asarray(self.times, dtype=np.float64)
        if times.ndim != 1 or times.size < 2 or not np.all(np.isfinite(times)) or not np.all(np.diff(times) < 0):
            raise DistillPlanError("times", "must be a finite, strictly decreasing 1-d array of at least 2 times")
        times = times.copy()
        times.setflags(write=False)
        self.times = times
        want = (times.size, *self.shape)
        for name in ("states", "velocities"):
            value = getattr(self, name)
            if not isinstance(value, torch.Tensor) or value.dim() < 2 or tuple(value.shape[1:]) != want \
                    or not value.is_floating_point():
                got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise DistillPlanError(name, f"must be a float tensor of shape (samples, {', '.join(map(str, want))}), "
                                             f"got {got}")
        if self.states.shape[0] != self.velocities.shape[0] or self.states.shape[0] < 1:
            raise DistillPlanError("velocities", "must hold as many trajectories as states (at least one)")
        if self.velocities.device != self.states.device:
            raise DistillPlanError("velocities", "must lie on the same device as the states")

    # ------------------------------------------------------------------ building
    @classmethod
    @torch.no_grad()
    def build(cls, field_: VelocityField, samples: int, seed: int = 0, points: int = DEFAULT_POOL_POINTS,
              substeps: int = DEFAULT_POOL_SUBSTEPS, batch: int = DEFAULT_POOL_BATCH,
              storage: str | torch.device = "cpu") -> TeacherPool:
        """Integrate ``samples`` noise draws of ``field_`` once (module docstring), ``batch`` trajectories at a
        time, and keep float32 states and velocities at the ``points`` profile times on ``storage``.

        Raises :class:`DistillPlanError` (``field``) when a stored state or velocity is not finite.
        """
        if not isinstance(field_, VelocityField):
            raise DistillPlanError("field", f"must be a VelocityField, got {type(field_).__name__}")
        samples = check_int_range("samples", samples, 1, 2**31 - 1)
        seed = check_seed("seed", seed)
        points = check_int_range("points", points, 2, 1_000_000)
        substeps = check_int_at_least("substeps", substeps, 1)
        batch = check_int_at_least("batch", batch, 1)
        storage = torch.device(storage)
        times = profile_times(field_.process, points)
        noise = field_.prior(samples, make_generator("noise", seed, "teacher-pool"))
        shape = tuple(field_.shape)
        states = torch.empty((samples, points, *shape), dtype=torch.float32, device=storage)
        velocities = torch.empty_like(states)
        for start in range(0, samples, batch):
            rows = slice(start, min(start + batch, samples))
            for j, x in walk(field_, noise[rows], times, substeps):
                v = field_.velocity(x, float(times[j]))
                states[rows, j] = x.to(device=storage, dtype=torch.float32)
                velocities[rows, j] = v.to(device=storage, dtype=torch.float32)
        for name, value in (("states", states), ("velocities", velocities)):
            if not bool(torch.isfinite(value).all()):
                raise DistillPlanError("field", f"the teacher trajectories have non-finite {name} "
                                                f"(float32 storage); check the field near t_min and horizon")
        return cls(field_.process, shape, times, states, velocities, seed, substeps, _plain(field_.describe()))

    # ------------------------------------------------------------------ reading
    @property
    def samples(self) -> int:
        return int(self.states.shape[0])

    @property
    def points(self) -> int:
        return int(self.times.size)

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def horizon(self) -> float:
        """The noise end of the pool (its first node)."""
        return float(self.times[0])

    @property
    def t_min(self) -> float:
        """The data end of the pool (its last node)."""
        return float(self.times[-1])

    @property
    def device(self) -> torch.device:
        return self.states.device

    @property
    def nbytes(self) -> int:
        """Bytes held by the states and velocities."""
        return (self.states.numel() * self.states.element_size()
                + self.velocities.numel() * self.velocities.element_size())

    def check_time(self, t, name: str = "t") -> float:
        """``t`` as a float in ``[t_min, horizon]`` (values within a relative 1e−12 of an end snap onto it)."""
        try:
            value = float(t)
        except (TypeError, ValueError):
            raise DistillPlanError(name, f"must be a number, got {t!r}") from None
        slack = _SPAN_SLACK * max(1.0, abs(self.horizon), abs(self.t_min))
        if not (np.isfinite(value) and self.t_min - slack <= value <= self.horizon + slack):
            raise DistillPlanError(name, f"must lie in the pool's span [{self.t_min:g}, {self.horizon:g}], "
                                         f"got {value!r}")
        return min(max(value, self.t_min), self.horizon)

    def states_at(self, t: float) -> torch.Tensor:
        """States ``(samples, *shape)`` of every trajectory at time ``t``: the stored node state when ``t`` is a
        node, else the cubic Hermite interpolant in ``t`` of the bracketing nodes' states and ``dx/dt``."""
        t = self.check_time(t)
        j0, j1, u = self._bracket(t)
        if j1 is None:
            return self.states[:, j0].clone()
        h = float(self.times[j1] - self.times[j0])  # < 0: nodes run from noise to data
        u2, u3 = u * u, u * u * u
        h00, h10 = 2.0 * u3 - 3.0 * u2 + 1.0, u3 - 2.0 * u2 + u
        h01, h11 = -2.0 * u3 + 3.0 * u2, u3 - u2
        out = self.states[:, j0] * h00
        out.add_(self.states[:, j1], alpha=h01)
        out.add_(self.velocities[:, j0], alpha=h10 * h)
        out.add_(self.velocities[:, j1], alpha=h11 * h)
        return out

    def _bracket(self, t: float) -> tuple[int, int | None, float]:
        """``(j, None, 0)`` when ``t == times[j]``, else ``(j, j + 1, u)`` with ``times[j] > t > times[j + 1]`` and
        ``u = (t − times[j]) / (times[j + 1] − times[j])`` in (0, 1)."""
        ascending = self.times[::-1]
        i = int(np.searchsorted(ascending, t, side="left"))  # ascending[i − 1] < t <= ascending[i]
        j = self.points - 1 - i
        if self.times[j] == t:
            return j, None, 0.0
        t0, t1 = float(self.times[j]), float(self.times[j + 1])
        return j, j + 1, (t - t0) / (t1 - t0)

    def to(self, device: str | torch.device) -> TeacherPool:
        """The same pool with its tensors on ``device``."""
        return replace(self, states=self.states.to(device), velocities=self.velocities.to(device))

    # ------------------------------------------------------------------ saving
    def to_dict(self) -> dict:
        """Plain data (CPU tensors, floats, lists, the process config); :meth:`from_dict` inverts it."""
        return {"format": _FORMAT, "process": self.process.config(), "shape": list(self.shape),
                "times": [float(t) for t in self.times], "states": self.states.detach().cpu(),
                "velocities": self.velocities.detach().cpu(), "seed": int(self.seed), "substeps": int(self.substeps),
                "source": _plain(self.source)}

    @classmethod
    def from_dict(cls, data: dict, device: str | torch.device = "cpu") -> TeacherPool:
        """The pool :meth:`to_dict` wrote, its tensors on ``device``."""
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise DistillPlanError("pool", f"not a teacher pool of format {_FORMAT}")
        try:
            return cls(make_process(data["process"]), tuple(data["shape"]), np.asarray(data["times"], np.float64),
                       data["states"].to(device), data["velocities"].to(device), int(data["seed"]),
                       int(data["substeps"]), dict(data.get("source", {})))
        except (KeyError, TypeError, AttributeError) as exc:
            raise DistillPlanError("pool", f"incomplete teacher pool: {exc!r}") from None

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` with ``torch.save`` (atomically)."""
        path = Path(path)
        with atomic_write(path, "wb") as fh:
            torch.save(self.to_dict(), fh)
        return path

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> TeacherPool:
        """Read a pool :meth:`save` wrote (``torch.load(weights_only=True)``: no code runs while loading)."""
        return cls.from_dict(torch.load(Path(path), map_location="cpu", weights_only=True), device)


def _plain(obj) -> dict:
    """``obj`` through JSON (numpy values as lists, anything else unknown as text): safe for weights_only loading."""
    def default(value):
        return value.tolist() if hasattr(value, "tolist") else str(value)

    return json.loads(json.dumps(obj, default=default)) if obj else {}
