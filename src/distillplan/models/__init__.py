"""Trained networks as probability-flow velocity fields: noise processes, parameterisations, adapters."""

from .field import FunctionField, VelocityField
from .processes import (BETA_SCHEDULES, DEFAULT_SIGMA_MIN, EDM, PROCESSES, CosineVP, DiscreteVP, NoiseProcess, OUVP,
                        RectifiedFlow, make_process)

__all__ = ["FunctionField", "VelocityField", "BETA_SCHEDULES", "DEFAULT_SIGMA_MIN", "EDM", "PROCESSES", "CosineVP", "DiscreteVP", "NoiseProcess", "OUVP",
           "RectifiedFlow", "make_process"]
