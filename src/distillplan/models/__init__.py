"""Trained networks as probability-flow velocity fields: noise processes, parameterisations, adapters."""

from .callables import load_callable, resolve_callable
from .diffusers_folder import PREDICTION_TYPES, load_diffusers_folder
from .field import FunctionField, VelocityField
from .mixture_field import MixtureField
from .network import NetworkField, as_process, files_hash, module_hash
from .parameterisations import PARAMETERISATIONS, check_parameterisation, from_velocity, to_velocity
from .probe import probe
from .quality import ClassifierConfig, frechet_distance, frechet_distance_of
from .reference import ReferenceConfig, ReferenceModel, load_or_train_reference, load_reference, save_sample_figure
from .processes import (BETA_SCHEDULES, DEFAULT_SIGMA_MIN, EDM, PROCESSES, CosineVP, DiscreteVP, NoiseProcess, OUVP,
                        RectifiedFlow, make_process)

__all__ = ["FunctionField", "VelocityField", "BETA_SCHEDULES", "DEFAULT_SIGMA_MIN", "EDM", "PROCESSES", "CosineVP",
           "DiscreteVP", "NoiseProcess", "OUVP", "RectifiedFlow", "make_process",
           "PARAMETERISATIONS", "check_parameterisation", "to_velocity", "from_velocity",
           "NetworkField", "as_process", "module_hash", "files_hash", "probe",
           "MixtureField", "load_diffusers_folder", "PREDICTION_TYPES", "load_callable", "resolve_callable",
           "ClassifierConfig", "frechet_distance", "frechet_distance_of", "ReferenceConfig", "ReferenceModel",
           "load_or_train_reference", "load_reference", "save_sample_figure"]
