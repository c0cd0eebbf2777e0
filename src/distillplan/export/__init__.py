"""Exports of time grids to the samplers users run, and the schedule card that carries them home.

* :mod:`.formats` — grids as :class:`SamplingPath` (VP signal levels along the sampling path) and their
  exports: diffusers ``timesteps=`` / ``sigmas=``, k-diffusion / ComfyUI sigmas σ/α, flow-matching times
  t = σ/(α + σ), the JSON document; terminal handling ``"zero"`` / ``"sigma_min"``.
* :mod:`.card` — the schedule card (JSON, ``card_version`` 1): what the grid is for, the evidence, the model,
  the process and its time convention, the grid and every export; :func:`make_card`, :func:`write_card`,
  :func:`read_card`, :func:`card_export`.
"""

from .card import (CARD_KEYS, CARD_VERSION, MAX_CARD_BYTES, PROFILE_KEYS, card_export, content_hash, make_card,
                   read_card, write_card)
from .formats import (BETA_SCHEDULES, EXPORT_KEYS, MAX_GRID_POINTS, MAX_TRAIN_STEPS, TARGETS, TERMINALS,
                      SamplingPath, ddim_sample, diffusers_sigmas, diffusers_timesteps, dumps, export_convention,
                      export_document, flow_matching_times, from_alphas, from_ou_grid, from_process_grid,
                      from_vp_indices, kdiffusion_sigmas, plan_boundaries, training_alphas_bar)

__all__ = [
    "SamplingPath", "from_ou_grid", "from_vp_indices", "from_alphas", "from_process_grid", "plan_boundaries",
    "training_alphas_bar", "diffusers_timesteps", "diffusers_sigmas", "kdiffusion_sigmas", "flow_matching_times",
    "export_document", "export_convention", "ddim_sample", "dumps", "TARGETS", "TERMINALS", "EXPORT_KEYS",
    "BETA_SCHEDULES", "MAX_GRID_POINTS", "MAX_TRAIN_STEPS",
    "CARD_VERSION", "CARD_KEYS", "PROFILE_KEYS", "MAX_CARD_BYTES", "make_card", "write_card", "read_card",
    "card_export", "content_hash",
]
