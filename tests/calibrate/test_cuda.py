"""``--device cuda``: the same calibration on a GPU (skipped on machines without CUDA, such as CI)."""

import numpy as np
import pytest
import torch

from distillplan.calibrate import calibrate
from distillplan.mixture import IsotropicMixture, OUProcess
from distillplan.models import MixtureField, NetworkField, OUVP
from distillplan.sampling import sample

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_mixture_on_cuda_matches_cpu():
    rng = np.random.default_rng(0)
    mixture = IsotropicMixture.equal_weights(rng.uniform(-2, 2, (4, 3)), 0.3)
    results = {}
    for device in ("cpu", "cuda"):
        field = MixtureField(mixture, OUProcess(5.0, 1.0), device=device)
        x = field.prior(4, torch.Generator().manual_seed(0))
        assert x.device.type == device and x.dtype == torch.float64
        assert field.velocity(x, 0.5).device.type == device
        results[device] = calibrate(field, 4, samples=8, points=16, iters=4, bootstrap=10)
    np.testing.assert_allclose(results["cuda"].grid.times, results["cpu"].grid.times, rtol=1e-6)
    assert results["cuda"].rho.dtype == np.float64


def test_float32_network_on_cuda():
    net = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).cuda()
    field = NetworkField(lambda x, t: net(x), OUVP(5.0, 1.0), "epsilon", (3,), device="cuda", dtype=torch.float32)
    cal = calibrate(field, 4, samples=8, points=16, iters=4, bootstrap=0)
    assert np.all(np.isfinite(cal.rho)) and cal.grid.times[0] == 1.0
    x = field.prior(4, torch.Generator().manual_seed(1))
    out = sample(field, x, cal.grid.times, "heun")
    assert out.device.type == "cuda" and out.dtype == torch.float32
