"""Shared fixtures for the mixture (paper 2) tests."""

from __future__ import annotations

import pytest

from distillplan.mixture import OUProcess


@pytest.fixture
def paper_process() -> OUProcess:
    """β = 5, T = 1 (all of the paper's experiments)."""
    return OUProcess(beta=5.0, horizon=1.0)
