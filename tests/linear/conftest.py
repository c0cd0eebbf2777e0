import numpy as np
import pytest

from distillplan import VPSchedule
from distillplan.linear import LinearTeacher


@pytest.fixture
def teacher_factory():
    def make(lam, T=8, schedule="cosine"):
        sched = VPSchedule.cosine(T) if schedule == "cosine" else VPSchedule.linear_beta(T)
        return LinearTeacher(sched, np.atleast_1d(np.asarray(lam, dtype=float)))

    return make
