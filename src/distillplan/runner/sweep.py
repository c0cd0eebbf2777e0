"""Sweeps: a grid of configs times a list of seeds, expanded into content-addressed tasks."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence

from ..errors import DistillPlanError, check_seed

__all__ = ["Sweep", "Task", "grid", "canonical_json", "task_key", "check_seeds"]


def canonical_json(config: Any) -> str:
    """The config dataclass as JSON with sorted keys and no spaces (the identity of a config)."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise DistillPlanError("config", f"must be a dataclass instance, got {type(config).__name__}")
    try:
        return json.dumps(dataclasses.asdict(config), sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise DistillPlanError(
            "config", f"{type(config).__name__} fields must be finite JSON values (numbers, strings, lists): {exc}"
        ) from None


def task_key(study_name: str, config: Any, seed: int) -> str:
    """sha256 hex digest of ``(study name, canonical config JSON, seed)``: one run's identity."""
    payload = json.dumps([study_name, canonical_json(config), int(seed)], separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Task:
    """One run of study ``study``: a config and a seed, identified by :func:`task_key`."""

    key: str
    config: Any
    seed: int
    study: str


@dataclass(frozen=True)
class Sweep:
    """The runs of a study: every config in ``configs`` with every seed in ``seeds``."""

    study_name: str
    configs: Sequence[Any]
    seeds: Sequence[int]

    def __post_init__(self) -> None:
        configs = tuple(self.configs)
        if not configs:
            raise DistillPlanError("configs", "a sweep needs at least one config")
        config_type = type(configs[0])
        for config in configs:
            canonical_json(config)  # validates: dataclass with JSON-serialisable fields
            if type(config) is not config_type:
                raise DistillPlanError(
                    "configs", f"all configs must have one type; got {config_type.__name__} and {type(config).__name__}"
                )
        object.__setattr__(self, "configs", configs)
        object.__setattr__(self, "seeds", check_seeds(self.seeds))

    @property
    def config_type(self) -> type:
        return type(self.configs[0])

    def tasks(self) -> Iterator[Task]:
        """Every (config, seed) pair once, configs outermost; duplicates (same key) are dropped."""
        seen: set[str] = set()
        for config in self.configs:
            for seed in self.seeds:
                key = task_key(self.study_name, config, seed)
                if key not in seen:
                    seen.add(key)
                    yield Task(key, config, seed, self.study_name)

    def __len__(self) -> int:
        return sum(1 for _ in self.tasks())

    def with_seeds(self, seeds: Iterable[int]) -> "Sweep":
        """The same configs with other seeds."""
        return Sweep(self.study_name, self.configs, tuple(seeds))

    def with_overrides(self, overrides: Mapping[str, Any]) -> "Sweep":
        """Every config with ``overrides`` applied (``dataclasses.replace``, so config checks run)."""
        if not overrides:
            return self
        _check_fields("set", self.config_type, overrides)
        return Sweep(self.study_name, [dataclasses.replace(c, **overrides) for c in self.configs], self.seeds)


def grid(config_type: type, base: Any = None, **axes: Iterable[Any]) -> list[Any]:
    """Cartesian product of ``axes`` (field name -> values) over ``base``, first axis outermost.

    ``base`` is a config instance or a mapping of field values; fields in neither take their
    dataclass defaults. Example: ``grid(Cfg, base={"n": 8}, lr=[0.1, 0.01], depth=[1, 2])``.
    """
    if not (isinstance(config_type, type) and dataclasses.is_dataclass(config_type)):
        raise DistillPlanError("config_type", f"must be a dataclass type, got {config_type!r}")
    if base is None:
        base_values: dict[str, Any] = {}
    elif isinstance(base, Mapping):
        base_values = dict(base)
    elif isinstance(base, config_type):
        base_values = {f.name: getattr(base, f.name) for f in dataclasses.fields(config_type) if f.init}
    else:
        raise DistillPlanError("base", f"must be a {config_type.__name__} or a mapping, got {type(base).__name__}")
    _check_fields("base", config_type, base_values)
    _check_fields("axes", config_type, axes)
    names = list(axes)
    value_lists = []
    for name in names:
        values = list(axes[name])
        if not values:
            raise DistillPlanError(name, "grid axis must have at least one value")
        value_lists.append(values)
    return [config_type(**{**base_values, **dict(zip(names, combo))}) for combo in itertools.product(*value_lists)]


def check_seeds(seeds: Iterable[int]) -> tuple[int, ...]:
    """Seeds as a tuple of distinct ints in ``0..SEED_MAX``, or :class:`DistillPlanError` naming ``seeds``."""
    if isinstance(seeds, (str, bytes)):
        raise DistillPlanError("seeds", f"must be a list of integers, got {seeds!r}")
    try:
        values = tuple(check_seed("seeds", s) for s in seeds)
    except TypeError:
        raise DistillPlanError("seeds", f"must be a list of integers, got {seeds!r}") from None
    if not values:
        raise DistillPlanError("seeds", "need at least one seed")
    duplicates = sorted({s for s in values if values.count(s) > 1})
    if duplicates:
        raise DistillPlanError("seeds", f"duplicate seeds {duplicates}")
    return values


def _check_fields(argument: str, config_type: type, names: Iterable[str]) -> None:
    known = [f.name for f in dataclasses.fields(config_type) if f.init]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise DistillPlanError(
            argument, f"unknown {config_type.__name__} field(s) {unknown}; fields are {known}"
        )
