"""A local diffusers model folder as a :class:`.network.NetworkField`.

Two layouts: a pipeline folder (``model_index.json``, a ``unet/`` or ``transformer/`` model, ``scheduler/``),
or a bare model folder (``config.json`` + weights, with ``scheduler_config.json`` beside it or in
``scheduler/``). The model class is ``_class_name`` of ``config.json``, loaded from local files only.

The scheduler config fixes the process and the parameterisation:

* a β table (``beta_schedule``, ``beta_start``, ``beta_end``, ``num_train_timesteps`` or ``trained_betas``):
  :class:`.processes.DiscreteVP`; ``prediction_type`` epsilon → ``epsilon``, sample → ``x0``,
  v_prediction → ``v``; the network sees the fractional training step t itself;
* a flow-matching scheduler (``FlowMatch…``): :class:`.processes.RectifiedFlow`, the network predicts the
  velocity ε − x_0 and sees ``t · num_train_timesteps`` (a sampling ``shift`` changes only the grid).
"""

from __future__ import annotations

import importlib.util
import inspect
import json
from pathlib import Path

import numpy as np
import torch

from ..errors import DistillPlanError
from ..nn.runtime import resolve_device
from .network import NetworkField, as_process, check_dtype, files_hash
from .parameterisations import PARAMETERISATIONS
from .probe import first_line, probe
from .processes import BETA_SCHEDULES, DiscreteVP, NoiseProcess, RectifiedFlow

__all__ = ["load_diffusers_folder", "PREDICTION_TYPES", "WEIGHT_SUFFIXES"]

PREDICTION_TYPES = {"epsilon": "epsilon", "sample": "x0", "v_prediction": "v"}
"""diffusers ``prediction_type`` → parameterisation."""
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
_MODEL_FOLDERS = ("unet", "transformer")
_DEFAULTS = {"num_train_timesteps": 1000, "beta_start": 1e-4, "beta_end": 0.02, "beta_schedule": "linear"}


def load_diffusers_folder(path, device="auto", dtype: torch.dtype | None = None, *,
                          parameterisation: str | None = None, process=None) -> NetworkField:
    """The model in the diffusers folder ``path`` as a probed :class:`NetworkField` (see the module docstring).

    ``parameterisation`` and ``process`` (a :class:`NoiseProcess`, name or config) may restate the folder's;
    a contradiction raises :class:`DistillPlanError` naming them. A process object of the same kind replaces
    the folder's (e.g. a rectified flow on ``[1e-4, 0.999]``). Every other problem names ``model``. The
    content hash reads every weight file once.
    """
    device = resolve_device(device, "device")
    check_dtype(dtype)
    model_dir, scheduler_path = _locate(path)
    config = _read_json(model_dir / "config.json")
    model_class = _model_class(config, model_dir)  # "not a diffusers model" comes before a missing scheduler
    if isinstance(scheduler_path, list):
        raise DistillPlanError("model", f"no scheduler config for {model_dir}: looked for "
                                        f"{', '.join(str(p) for p in scheduler_path)}")
    scheduler = _read_json(scheduler_path)
    own_process, own_param, scale = _scheduler_spec(scheduler, scheduler_path)
    channels, shape = _shape(config, scheduler, model_dir)
    if parameterisation is not None and parameterisation != own_param:
        if parameterisation not in PARAMETERISATIONS:
            raise DistillPlanError("parameterisation", f"unknown {parameterisation!r}; choose from "
                                                       f"{list(PARAMETERISATIONS)}")
        raise DistillPlanError("parameterisation", f"{parameterisation!r} contradicts the folder: the folder's "
                                                   f"scheduler config says {own_param!r} ({scheduler_path.name})")
    chosen = own_process if process is None else _same_process(process, own_process)
    weights = [p for p in model_dir.iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES)]
    if not weights:
        raise DistillPlanError("model", f"{model_dir} holds no weight file ({', '.join(WEIGHT_SUFFIXES)})")

    try:
        model = model_class.from_pretrained(str(model_dir), local_files_only=True, torch_dtype=dtype,
                                            low_cpu_mem_usage=_has_accelerate())
    except Exception as exc:  # a broken or missing weight file, reported in one line
        raise DistillPlanError("model", f"could not load {model_class.__name__} from {model_dir}: "
                                        f"{type(exc).__name__}: {first_line(exc)}") from None
    model.eval().requires_grad_(False)
    field = NetworkField(_DiffusersCall(model, channels), chosen, own_param, shape,
                         network_time=None if scale is None else _Scaled(scale), device=device, dtype=dtype,
                         source="diffusers", content_hash=files_hash(weights),
                         details={"path": str(model_dir.resolve()), "class": model_class.__name__,
                                  "scheduler": scheduler.get("_class_name", "unknown"),
                                  "network_time": "t" if scale is None else f"{scale:g} t"})
    probe(field)
    return field


class _DiffusersCall(torch.nn.Module):
    """``model(x, timestep=t).sample``, its first ``channels`` channels (the rest is a learned variance)."""

    def __init__(self, model: torch.nn.Module, channels: int):
        super().__init__()
        self.model = model
        self.channels = channels

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        out = self.model(x, timestep=t).sample
        return out if out.shape[1] == self.channels else out[:, : self.channels]


class _Scaled:
    """Network time ``scale · t``."""

    def __init__(self, scale: float):
        self.scale = scale

    def __call__(self, t: float) -> float:
        return self.scale * t


def _has_accelerate() -> bool:
    """diffusers loads with low memory use only through accelerate (and warns when it is missing)."""
    return importlib.util.find_spec("accelerate") is not None


def _locate(path) -> tuple[Path, Path | list[Path]]:
    """``(model folder, scheduler config)`` of either layout (the places looked in when there is none)."""
    if not isinstance(path, (str, Path)):
        raise DistillPlanError("model", f"must be a folder path, got {type(path).__name__}")
    root = Path(path).expanduser()
    if not root.exists():
        raise DistillPlanError("model", f"{root} does not exist")
    if not root.is_dir():
        raise DistillPlanError("model", f"{root} is not a folder (expected a diffusers model or pipeline folder)")
    if (root / "model_index.json").is_file():
        found = [root / name for name in _MODEL_FOLDERS if (root / name / "config.json").is_file()]
        if not found:
            raise DistillPlanError("model", f"pipeline folder {root} has no unet/ or transformer/ model with a "
                                            "config.json")
        model_dir, schedulers = found[0], [root / "scheduler" / "scheduler_config.json"]
    else:
        if not (root / "config.json").is_file():
            raise DistillPlanError("model", f"{root} has no config.json (nor model_index.json): not a diffusers "
                                            "model folder")
        model_dir = root
        schedulers = [root / "scheduler_config.json", root / "scheduler" / "scheduler_config.json"]
        if (root.parent / "model_index.json").is_file():  # the model folder of a pipeline
            schedulers.append(root.parent / "scheduler" / "scheduler_config.json")
    for candidate in schedulers:
        if candidate.is_file():
            return model_dir, candidate
    return model_dir, schedulers


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DistillPlanError("model", f"cannot read {path}: {first_line(exc)}") from None
    if not isinstance(data, dict):
        raise DistillPlanError("model", f"{path} must hold a JSON object, got {type(data).__name__}")
    return data


def _model_class(config: dict, model_dir: Path) -> type:
    """The diffusers ``ModelMixin`` named by ``_class_name``, callable as ``model(x, timestep=t)``."""
    name = config.get("_class_name")
    if not isinstance(name, str) or not name:
        raise DistillPlanError("model", f"{model_dir / 'config.json'} has no _class_name")
    try:
        import diffusers
    except ImportError:
        raise DistillPlanError("model", "loading a diffusers folder needs the diffusers package "
                                        "(pip install 'distillplan[diffusers]')") from None
    cls = getattr(diffusers, name, None) if name.isidentifier() else None
    if not (isinstance(cls, type) and issubclass(cls, diffusers.ModelMixin)):
        what = "unknown to diffusers" if cls is None else "not a diffusers model (ModelMixin)"
        raise DistillPlanError("model", f"_class_name {name!r} in {model_dir / 'config.json'} is {what}")
    params = list(inspect.signature(cls.forward).parameters.values())[1:]  # drop self
    if "timestep" not in [p.name for p in params]:
        raise DistillPlanError("model", f"{name}.forward takes no timestep argument")
    needed = [p.name for p in params[1:] if p.name != "timestep" and p.default is inspect.Parameter.empty
              and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if needed or config.get("num_class_embeds") is not None or config.get("class_embed_type") is not None:
        extra = ", ".join(needed) if needed else "class labels"
        raise DistillPlanError("model", f"{name} is conditional (needs {extra}); only unconditional models can "
                                        "be loaded as a velocity field")
    if config.get("time_embedding_type", "positional") != "positional":
        raise DistillPlanError("model", f"{name} uses a {config['time_embedding_type']!r} time embedding; only "
                                        "positional (fractional training steps) is supported")
    return cls


def _scheduler_spec(config: dict, path: Path) -> tuple[NoiseProcess, str, float | None]:
    """``(process, parameterisation, network-time scale or None for t itself)`` from a scheduler config."""
    kind = str(config.get("_class_name", "unknown scheduler"))
    steps = config.get("num_train_timesteps", _DEFAULTS["num_train_timesteps"])
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 2:
        raise DistillPlanError("model", f"{path}: num_train_timesteps must be an integer >= 2, got {steps!r}")
    if kind.startswith("FlowMatch"):
        if config.get("invert_sigmas"):
            raise DistillPlanError("model", f"{path}: {kind} with invert_sigmas is not supported")
        return RectifiedFlow(), "velocity", float(steps)
    if "beta_schedule" not in config and config.get("trained_betas") is None:
        raise DistillPlanError("model", f"{path}: scheduler {kind} has no β schedule; supported are β-table "
                                        "schedulers (DDPM, DDIM, PNDM, Euler, DPM-Solver, ...) and flow matching")
    if config.get("rescale_betas_zero_snr"):
        raise DistillPlanError("model", f"{path}: rescale_betas_zero_snr (zero terminal SNR) is not supported")
    if config.get("timestep_type", "discrete") != "discrete":
        raise DistillPlanError("model", f"{path}: timestep_type {config['timestep_type']!r} is not supported; "
                                        "only discrete training steps")
    prediction = config.get("prediction_type", "epsilon")
    if prediction not in PREDICTION_TYPES:
        raise DistillPlanError("model", f"{path}: unsupported prediction_type {prediction!r}; supported: "
                                        f"{list(PREDICTION_TYPES)}")
    try:
        if config.get("trained_betas") is not None:
            betas = np.asarray(config["trained_betas"], dtype=np.float64)
            process = DiscreteVP(np.cumprod(1.0 - betas), "trained_betas")
        else:
            schedule = config.get("beta_schedule", _DEFAULTS["beta_schedule"])
            if schedule not in BETA_SCHEDULES:
                raise DistillPlanError("model", f"unsupported beta_schedule {schedule!r}; supported: "
                                                f"{list(BETA_SCHEDULES)}")
            process = DiscreteVP.from_betas(schedule, float(config.get("beta_start", _DEFAULTS["beta_start"])),
                                            float(config.get("beta_end", _DEFAULTS["beta_end"])), steps)
    except (DistillPlanError, TypeError, ValueError) as exc:
        message = exc.message if isinstance(exc, DistillPlanError) else first_line(exc)
        raise DistillPlanError("model", f"{path}: {message}") from None
    return process, PREDICTION_TYPES[prediction], None


def _shape(config: dict, scheduler: dict, model_dir: Path) -> tuple[int, tuple[int, ...]]:
    """``(channels, (C, H, W))`` from ``in_channels`` and ``sample_size``; a model whose ``out_channels`` is twice
    ``in_channels`` with a learned-variance scheduler keeps the first half of its output."""
    channels, size = config.get("in_channels"), config.get("sample_size")
    if isinstance(size, int):
        size = [size, size]
    ok = isinstance(channels, int) and isinstance(size, (list, tuple)) and len(size) == 2
    if not ok or not all(isinstance(s, int) and s > 0 for s in (channels, *size)):
        raise DistillPlanError("model", f"{model_dir / 'config.json'} needs in_channels and sample_size (an image "
                                        f"model), got in_channels={channels!r}, "
                                        f"sample_size={config.get('sample_size')!r}")
    out = config.get("out_channels") or channels
    learned = str(scheduler.get("variance_type", "")).startswith("learned")
    if out != channels and not (learned and out == 2 * channels):
        raise DistillPlanError("model", f"{model_dir / 'config.json'}: out_channels {out} differs from in_channels "
                                        f"{channels}")
    return channels, (channels, *size)


def _same_process(process, own: NoiseProcess) -> NoiseProcess:
    """The caller's process when it is the folder's kind (and, for a β table, has the same ᾱ), else an error;
    a bare name only restates the kind, so the folder's own process is kept."""
    given = as_process(process)
    same = given.name == own.name
    if same and isinstance(process, str):
        return own
    if same and isinstance(own, DiscreteVP):
        same = given.alphas_bar.shape == own.alphas_bar.shape and np.allclose(given.alphas_bar, own.alphas_bar,
                                                                              rtol=1e-5, atol=0.0)
    if not same:
        said = own.label if isinstance(own, DiscreteVP) else own.name
        raise DistillPlanError("process", f"the {given.name} process contradicts the folder: the folder's "
                                          f"scheduler config says {own.name} ({said})")
    return given
