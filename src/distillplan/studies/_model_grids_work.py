"""The work of one ``model-grids`` run: its schedules, the sampling scores and the distilled students."""

from __future__ import annotations

import time

import numpy as np
import torch

from ..nn.streams import make_generator
from ._model_context import ModelContext

__all__ = ["ScheduleBook", "sampling_rows", "distill_rows", "FIT_ROWS"]

POOL_SUBSTEPS = 2
"""RK4 steps between consecutive nodes of the distillation pool's teacher (Hermite dense output between)."""
FIT_ROWS = 4000
"""Rows of real data the mixture fit of the ``mixture-stability`` schedule reads (as ``recommend``)."""


class ScheduleBook:
    """The schedule of a run for every n, with the shared artefacts it needs (cached in the context)."""

    def __init__(self, ctx: ModelContext, config) -> None:
        self.ctx, self.config = ctx, config
        self._jump_costs: np.ndarray | None = None

    # -- artefacts --------------------------------------------------------------------------------
    def calibration(self, profile: str = "jacobian"):
        """The ``calibrate`` result of the model on the calibration noises (``profile`` kind)."""
        from ..calibrate import calibrate

        c = self.config
        return self.ctx.artefact("calibration", {"profile": profile}, lambda: {"value": calibrate(
            self.ctx.field, 8, samples=c.cal_samples, points=c.cal_points, iters=c.cal_iters, profile=profile,
            seed=self.ctx.seed, bootstrap=0)})["value"]

    def mixture_fit(self) -> tuple:
        """``(IsotropicMixture, OUProcess)``: what ``recommend`` fits to the data (components by BIC, at most
        :data:`FIT_ROWS` rows) and its default OU process (β = 5, T = 1). Coordinates that never vary (the
        digits' border pixels) are left out: they move no mean apart and have no variance to pool."""
        from ..mixture import OUProcess, fit_isotropic_mixture
        from ..nn.streams import numpy_generator

        def compute():
            data = self.ctx.data
            if data.shape[0] > FIT_ROWS:
                data = data[numpy_generator("data", self.ctx.seed, "mixture-fit").choice(data.shape[0], FIT_ROWS,
                                                                                          replace=False)]
            varying = data.std(axis=0) > 0
            return {"value": (fit_isotropic_mixture(data[:, varying], seed=self.ctx.seed), OUProcess(5.0, 1.0))}

        return self.ctx.artefact("mixture-fit", {}, compute)["value"]

    def fine_teacher(self) -> dict:
        """Fine-grid teacher states of the calibration batch (GITS- and OptimalSteps-style programmes)."""
        from ..calibrate.trajectories import draw_noise, pf_trajectories, profile_times

        c = self.config

        def compute():
            times = profile_times(self.ctx.process, c.fine_points)
            noise = draw_noise(self.ctx.field, c.cal_samples, self.ctx.seed)
            with torch.no_grad():
                states = pf_trajectories(self.ctx.field, noise, times, substeps=4)
            return {"times": times, "states": states.cpu()}

        return self.ctx.artefact("fine-teacher", {}, compute)

    def evaluation(self) -> dict:
        """Evaluation noises (disjoint from the calibration's), the fine teacher's finals and its FD floor."""
        from ..calibrate.trajectories import pf_trajectories, profile_times
        from ..models.quality import frechet_distance_of

        c = self.config
        field_ = self.ctx.field

        def compute():
            noise = field_.prior(c.eval_samples, make_generator("noise", self.ctx.seed, "model-grids-eval"))
            start = time.perf_counter()
            with torch.no_grad():
                final = pf_trajectories(field_, noise, profile_times(field_.process, c.teacher_points), 4)[:, -1]
            rows = self.ctx.to_rows(final)
            return {"noise": noise.cpu(), "final": final.cpu(), "teacher_s": time.perf_counter() - start,
                    "fd_teacher": frechet_distance_of(self.ctx.features(rows), self.ctx.data_features)}

        return self.ctx.artefact("evaluation", {}, compute)

    def jump_costs(self, fine_times, fine_states) -> np.ndarray:
        """The GITS-style cost matrix of the fine teacher (the same for every n: computed once per run)."""
        from ..sampling.schedules import jump_costs

        if self._jump_costs is None:
            self._jump_costs = jump_costs(self.ctx.field, fine_times, fine_states)
        return self._jump_costs

    # -- schedules --------------------------------------------------------------------------------
    def times(self, n: int) -> np.ndarray:
        """The schedule's n-step grid in the model's process time (horizon → t_min)."""
        from ..sampling.schedules import make_schedule_times

        name = self.config.schedule
        inputs: dict = {"process": self.ctx.process, "field": self.ctx.field}
        if name == "mixture-stability":
            inputs["mixture"] = self.mixture_fit()
        elif name == "calibrated":
            inputs["calibration"] = self.calibration("jacobian")
        elif name == "acceleration":
            inputs["calibration"] = self.calibration("acceleration")
        elif name in ("gits", "oss"):
            fine = self.fine_teacher()
            inputs.update(fine_times=fine["times"], fine_states=fine["states"].to(self.ctx.field.device),
                          coefficient=self.config.gits_coefficient)
            if name == "gits":
                inputs["costs"] = self.jump_costs(inputs["fine_times"], inputs["fine_states"])
        return np.asarray(make_schedule_times(name, n, **inputs), dtype=np.float64)

    def describe(self, n: int, times: np.ndarray) -> dict:
        """Row fields of a grid: its times and the calibrated Â at them (and, for the calibrated n = 8
        grid, the Â(t) curve the figure draws)."""
        cal = self.calibration("jacobian")
        out = {"grid": [float(t) for t in times], "grid_A": [float(a) for a in cal.stability_at(times)]}
        if self.config.schedule == "calibrated" and n == 8:
            out.update(curve_t=[float(t) for t in cal.times], curve_A=[float(a) for a in cal.A_hat])
        return out


def _scores(ctx: ModelContext, x: torch.Tensor, evaluation: dict) -> dict:
    """``relmse`` (Σ‖x̂ − x‖²/Σ‖x‖² against the teacher's finals) and ``fd`` (to real data)."""
    from ..models.quality import frechet_distance_of

    rows = ctx.to_rows(x)
    truth = ctx.to_rows(evaluation["final"])
    relmse = float(np.sum((rows - truth) ** 2) / np.sum(truth**2))
    fd = frechet_distance_of(ctx.features(rows), ctx.data_features) if np.all(np.isfinite(rows)) else np.inf
    return {"relmse": relmse if np.isfinite(relmse) else float("inf"), "fd": float(fd),
            "fd_teacher": float(evaluation["fd_teacher"])}


def sampling_rows(ctx: ModelContext, book: ScheduleBook, config) -> list[dict]:
    """One row per (n, sampler)."""
    from ..sampling.diffusers_samplers import effective_times, run_sampler

    evaluation = book.evaluation()
    noise = evaluation["noise"].to(ctx.field.device)
    rows = []
    for n in config.segments:
        times = book.times(n)
        for sampler in config.samplers:
            start = time.perf_counter()
            with torch.no_grad():
                x, nfe = run_sampler(ctx.field, noise, times, sampler)
            run_times = [float(v) for v in effective_times(ctx.field, times, sampler)]
            rows.append({"segments": n, "sampler": sampler, "nfe": int(nfe), "grid_run": run_times,
                         **_scores(ctx, x.cpu(), evaluation),
                         "sample_s": time.perf_counter() - start, **book.describe(n, times)})
    return rows


def distill_rows(ctx: ModelContext, book: ScheduleBook, config, seed: int) -> list[dict]:
    """One row per n: paper 2's segment students along the grid, scored end to end."""
    from ..flowmap.generic import compose_flat, distill_segments
    from ..flowmap.pool import TeacherPool
    from ..flowmap.segments import StudentSpec

    evaluation = book.evaluation()
    stored = ctx.artefact("pool", {"pool_samples": config.pool_samples, "pool_points": config.pool_points}, lambda: (
        TeacherPool.build(ctx.field, config.pool_samples, seed=seed, points=config.pool_points,
                         substeps=POOL_SUBSTEPS).to_dict()))
    pool = TeacherPool.from_dict(stored, ctx.field.device)
    noise = evaluation["noise"]
    rows = []
    for n in config.segments:
        times = book.times(n)
        start = time.perf_counter()
        result = distill_segments(pool, times, config.settings(config.total_train_steps // n),
                                  StudentSpec(config.width, config.depth, config.activation), seed=seed)
        train_s = time.perf_counter() - start
        with torch.no_grad():
            x = compose_flat(result.students, noise.to(ctx.field.device)).cpu()
        rows.append({"segments": n, "sampler": "students", "nfe": n, **_scores(ctx, x, evaluation),
                     "train_s": train_s, "final_loss": [float(v) for v in result.final_loss],
                     **book.describe(n, times)})
    return rows
