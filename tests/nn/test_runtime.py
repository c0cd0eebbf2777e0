import pytest
import torch

from distillplan.errors import DistillPlanError
from distillplan.nn import (
    THREADS_ENV,
    at_most_threads,
    cpu_runtime,
    derive_seed,
    make_generator,
    resolve_threads,
    torch_threads,
)


def test_resolve_threads(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert resolve_threads(3) == 3
    assert resolve_threads(0) >= 1
    monkeypatch.setenv(THREADS_ENV, "2")
    assert resolve_threads(0) == 2 and resolve_threads(1) == 1
    monkeypatch.setenv(THREADS_ENV, "many")
    with pytest.raises(DistillPlanError):
        resolve_threads(0)
    with pytest.raises(DistillPlanError):
        resolve_threads(-1)


def test_thread_and_denormal_settings_are_restored():
    before = torch.get_num_threads()
    with torch_threads(1) as count:
        assert count == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with cpu_runtime(1):
        assert torch.tensor([1e-44], dtype=torch.float32).item() == 0.0  # subnormal flushed
    assert torch.tensor([1e-44], dtype=torch.float32).item() > 0.0


def test_at_most_threads_caps_and_restores():
    with torch_threads(2):
        with at_most_threads(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with at_most_threads(4):
            assert torch.get_num_threads() == 2


def test_derived_seeds_are_stable_and_distinct():
    assert derive_seed("data", 1, 2, 3) == derive_seed("data", 1, 2, 3)
    assert len({derive_seed("data", s, k) for s in range(20) for k in range(20)}) == 400
    assert 0 <= derive_seed("data", 0) < 2**63
    assert torch.equal(torch.rand(4, generator=make_generator("data", 5, 1)), torch.rand(4, generator=make_generator("data", 5, 1)))
