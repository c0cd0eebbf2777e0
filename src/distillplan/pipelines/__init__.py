"""What a command does, as Python functions: :func:`recommend` (plan, grid, exports and report from latents)
and :func:`run_phase` (the phase-transition study of paper 1)."""

from .phase import phase_row, run_phase
from .recommend import check_latents, recommend

__all__ = ["check_latents", "phase_row", "recommend", "run_phase"]
