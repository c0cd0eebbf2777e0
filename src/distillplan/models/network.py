"""Any torch callable ``net(x, t_net) -> out`` as a probability-flow velocity field.

The velocity at process time ``t`` is :func:`.parameterisations.to_velocity` of ``out = net(x, t_net)``,
where ``t_net`` (shape ``(n,)``) holds ``network_time(t)``: the time the network was trained on (a
diffusers UNet sees the fractional training step, a flow-matching transformer ``1000 t``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable, Iterable

import torch

from ..errors import DistillPlanError
from ..nn.runtime import resolve_device
from .field import VelocityField
from .parameterisations import check_parameterisation, to_epsilon, to_velocity
from .processes import PROCESSES, DiscreteVP, NoiseProcess, make_process

__all__ = ["NetworkField", "as_process", "check_shape", "check_dtype", "module_hash", "files_hash", "HASH_CHARS"]

HASH_CHARS = 16
"""Hex characters kept of a sha256 content hash."""
_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


class NetworkField(VelocityField):
    """``v(x, t) = to_velocity(net(x, t_net), x, t)`` with ``t_net = network_time(t)`` repeated n times.

    ``process`` may be a :class:`NoiseProcess`, a process name or a config dict (see :func:`as_process`).
    ``device`` and ``dtype`` default to those of the net's parameters (cpu / float32 for a plain function);
    when given, an ``nn.Module`` net is moved to them. The velocity is computed in ``dtype`` and returned
    in the dtype and on the device of ``x``.
    """

    def __init__(self, net: Callable, process, parameterisation: str, shape, network_time: Callable | None = None,
                 device=None, dtype: torch.dtype | None = None, *, source: str = "network",
                 content_hash: str | None = None, details: dict | None = None):
        if not callable(net):
            raise DistillPlanError("net", f"must be callable as net(x, t), got {type(net).__name__}")
        if network_time is not None and not callable(network_time):
            raise DistillPlanError("network_time", f"must be a function of the process time, got {network_time!r}")
        self.process = as_process(process)
        self.parameterisation = check_parameterisation(parameterisation, self.process)
        self.shape = check_shape(shape)
        own_device, own_dtype = _module_placement(net)
        self.device = own_device if device is None else resolve_device(str(device), "device")
        self.dtype = check_dtype(dtype) or own_dtype
        if isinstance(net, torch.nn.Module) and (device is not None or dtype is not None):
            net.to(device=self.device, dtype=self.dtype)
        self.net = net
        self.network_time = network_time
        self.source = source
        self.content_hash = content_hash
        self.details = dict(details or {})
        self._time_dtype = torch.promote_types(self.dtype, torch.float32)

    def velocity(self, x: torch.Tensor, t: float) -> torch.Tensor:
        t, xin, out = self._output(x, t)
        v = to_velocity(out, xin, t, self.process, self.parameterisation)
        return v.to(device=x.device, dtype=x.dtype)

    def epsilon(self, x: torch.Tensor, t: float) -> torch.Tensor:
        """ε̂(x, t) straight from the output (the samplers' input; exact where the velocity's b(t) is not)."""
        t, xin, out = self._output(x, t)
        return to_epsilon(out, xin, t, self.process, self.parameterisation).to(device=x.device, dtype=x.dtype)

    def _output(self, x: torch.Tensor, t: float) -> tuple[float, torch.Tensor, torch.Tensor]:
        """``(t, x in the net's dtype and device, the net's output)``, shape-checked."""
        t = self.process.check_times(t)
        xin = x.to(device=self.device, dtype=self.dtype)
        t_net = float(t) if self.network_time is None else float(self.network_time(t))
        out = self.net(xin, torch.full((x.shape[0],), t_net, dtype=self._time_dtype, device=self.device))
        if not isinstance(out, torch.Tensor):
            raise DistillPlanError("model", f"{self.source} returned {type(out).__name__}, not a tensor")
        if out.shape != xin.shape:
            raise DistillPlanError("model", f"{self.source} returned shape {tuple(out.shape)} for input "
                                            f"{tuple(xin.shape)}")
        return t, xin, out.to(self.dtype)

    def describe(self) -> dict:
        out = {"source": self.source, "parameterisation": self.parameterisation, "process": self.process.config(),
               "shape": list(self.shape), "dtype": str(self.dtype).removeprefix("torch.")}
        if self.content_hash is not None:
            out["content_hash"] = self.content_hash
        for key, value in self.details.items():  # extra facts of the source never replace the core ones
            out.setdefault(key, value)
        return out


def as_process(process) -> NoiseProcess:
    """A :class:`NoiseProcess` from itself, a name in :data:`.processes.PROCESSES` (default parameters;
    ``discrete-vp`` is diffusers' linear schedule) or a :meth:`NoiseProcess.config` dict."""
    if isinstance(process, NoiseProcess):
        return process
    if isinstance(process, str):
        if process not in PROCESSES:
            raise DistillPlanError("process", f"unknown process {process!r}; choose from {list(PROCESSES)}")
        return DiscreteVP.from_betas() if process == "discrete-vp" else PROCESSES[process]()
    if isinstance(process, dict) and process.get("process") == "discrete-vp" and "alphas_bar" not in process:
        raise DistillPlanError("process", "a discrete-vp config needs its alphas_bar table")
    return make_process(process)


def module_hash(net) -> str | None:
    """Short sha256 over an ``nn.Module``'s state (each entry's name, then its bytes); None for other callables."""
    if not isinstance(net, torch.nn.Module):
        return None
    digest = hashlib.sha256()
    for name, tensor in net.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:HASH_CHARS]


def files_hash(paths: Iterable[Path]) -> str:
    """Short sha256 over files, in name order: each file's name, then its bytes."""
    digest = hashlib.sha256()
    for path in sorted(paths, key=lambda p: p.name):
        digest.update(path.name.encode())
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:HASH_CHARS]


def check_dtype(dtype):
    """``dtype`` if it is None or a floating torch dtype."""
    if dtype is not None and dtype not in _FLOAT_DTYPES:
        raise DistillPlanError("dtype", f"must be a floating torch dtype, got {dtype!r}")
    return dtype


def check_shape(shape) -> tuple[int, ...]:
    """The shape of one sample as a non-empty tuple of positive integers."""
    try:
        dims = tuple(shape)
    except TypeError:
        raise DistillPlanError("shape", f"must be a tuple of positive integers, got {shape!r}") from None
    if not dims or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in dims):
        raise DistillPlanError("shape", f"must be a non-empty tuple of positive integers, got {shape!r}")
    return dims


def _module_placement(net) -> tuple[torch.device, torch.dtype]:
    """Device and floating dtype of the first floating parameter of an ``nn.Module``; else cpu, float32."""
    if isinstance(net, torch.nn.Module):
        for tensor in (*net.parameters(), *net.buffers()):
            if tensor.is_floating_point():
                return tensor.device, tensor.dtype
    return torch.device("cpu"), torch.float32
