"""Samplers over any time grid and the step-selection programmes of other schedule tools."""

from .dp import GITS_COEFFICIENT, gits_steps, optimal_steps
from .samplers import SAMPLERS, epsilon, evaluations, sample

__all__ = ["GITS_COEFFICIENT", "SAMPLERS", "epsilon", "evaluations", "gits_steps", "optimal_steps", "sample"]
