"""The torch mixture DDIM teacher matches the float64 numpy reference (distillplan.merging.vp_mixture)."""

import numpy as np
import pytest
import torch

from distillplan.errors import DistillPlanError
from distillplan.merging.vp_mixture import composite, coordinate_variances, ddim_step, denoise, responsibilities
from distillplan.schedules import VPSchedule
from distillplan.merging.mixture_ddim import MixtureDDIM
from distillplan.nn.streams import make_generator


@pytest.fixture
def schedule() -> VPSchedule:
    return VPSchedule.cosine(8)


def test_matches_the_numpy_reference(small_mixture, schedule):
    teacher = MixtureDDIM(small_mixture, schedule, dtype=torch.float64)
    z = np.random.default_rng(0).standard_normal((64, 3)) * 2
    zt = torch.tensor(z)
    for t in (0, 1, 4, 8):
        np.testing.assert_allclose(teacher.denoise(zt, t).numpy(), denoise(small_mixture, schedule, z, t), atol=1e-12)
        np.testing.assert_allclose(teacher.responsibilities(zt, t).numpy(),
                                   responsibilities(small_mixture, schedule, z, t), atol=1e-12)
    for t in (1, 5, 8):
        np.testing.assert_allclose(teacher.step(zt, t).numpy(), ddim_step(small_mixture, schedule, z, t), atol=1e-12)
    out, seq = teacher.composite(zt, 8, 0, record=True)
    ref, ref_seq = composite(small_mixture, schedule, z, 8, 0, record=True)
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-11)
    np.testing.assert_array_equal(seq.numpy(), ref_seq)
    assert seq.dtype == torch.long and seq.shape == (64, 8)


def test_float32_is_close(small_mixture, schedule):
    teacher = MixtureDDIM(small_mixture, schedule)
    z = np.random.default_rng(1).standard_normal((32, 3))
    out = teacher.composite(torch.tensor(z, dtype=torch.float32), 6, 1)
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), composite(small_mixture, schedule, z, 6, 1), atol=1e-4)


def test_sampling_is_seeded_and_has_the_marginal_moments(small_mixture, schedule):
    teacher = MixtureDDIM(small_mixture, schedule, dtype=torch.float64)
    a = teacher.sample(3, 50_000, make_generator("data", 1, 2))
    b = teacher.sample(3, 50_000, make_generator("data", 1, 2))
    assert torch.equal(a, b) and a.shape == (50_000, 3)
    al, sg = schedule.alphas[3], schedule.sigmas[3]
    mean = al * small_mixture.weights @ small_mixture.means
    np.testing.assert_allclose(a.mean(0).numpy(), mean, atol=0.03)
    x0 = teacher.sample_x0(50_000, make_generator("data", 3))
    counts = np.bincount(torch.cdist(x0, teacher.means).argmin(1).numpy(), minlength=4) / 50_000
    np.testing.assert_allclose(counts, small_mixture.weights, atol=0.05)  # components overlap a little
    np.testing.assert_allclose(a.var(0).numpy(), al**2 * coordinate_variances(small_mixture) + sg**2, rtol=0.03)
    z_noise = teacher.sample(8, 20_000, make_generator("data", 4))  # t = T: pure noise
    np.testing.assert_allclose(z_noise.var(0).numpy(), 1.0, atol=0.05)


def test_bad_times_raise(small_mixture, schedule):
    teacher = MixtureDDIM(small_mixture, schedule)
    z = torch.zeros(2, 3)
    for call in (lambda: teacher.step(z, 0), lambda: teacher.denoise(z, 9), lambda: teacher.composite(z, 2, 2)):
        with pytest.raises(DistillPlanError):
            call()
