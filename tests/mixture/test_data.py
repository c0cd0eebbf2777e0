"""distillplan.mixture.data: the paper's means and fitting an isotropic mixture to data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from distillplan.errors import DistillPlanError
from distillplan.mixture import IsotropicMixture, fit_isotropic_mixture, mean_diameter, paper_means

from .helpers import PAPER_D0


def test_paper_means_reproduce_the_authors_draw():
    means = paper_means()
    assert means.shape == (20, 64) and means.dtype == np.float64
    torch.manual_seed(0)
    reference = ((torch.rand(20, 64) * 2 - 1) * 5).numpy().astype(np.float64)
    np.testing.assert_array_equal(means, reference)
    assert np.all(np.abs(means) <= 5.0)


def test_paper_means_diameter():
    # The authors' 40.99732208251953 is a float32 distance; the float64 distance of the same
    # (float32) means differs in the 7th digit.
    assert mean_diameter(paper_means(20, 64, 0)) == pytest.approx(PAPER_D0, rel=2e-7)


def test_paper_means_leave_torch_global_generator_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    paper_means(5, 4, seed=7)
    assert torch.equal(torch.rand(3), expected)


def test_paper_means_validate_arguments():
    with pytest.raises(DistillPlanError, match="^box:"):
        paper_means(box=0)
    with pytest.raises(DistillPlanError, match="^components:"):
        paper_means(components=0)


@pytest.fixture(scope="module")
def synthetic() -> tuple[IsotropicMixture, np.ndarray]:
    truth = IsotropicMixture([0.5, 0.3, 0.2], [[0.0, 0.0, 0.0, 0.0], [8.0, 0.0, 0.0, 0.0], [0.0, 8.0, 0.0, 0.0]], 0.4)
    return truth, truth.sample(3000, seed=1)


def _matched(fitted: IsotropicMixture, truth: IsotropicMixture) -> np.ndarray:
    """Permutation of the fitted components onto the true ones (nearest mean)."""
    distances = np.linalg.norm(fitted.means[:, None, :] - truth.means[None, :, :], axis=-1)
    return distances.argmin(axis=0)


@pytest.mark.parametrize("components", [3, None])
def test_fit_recovers_sigma0_weights_and_means(synthetic, components):
    truth, x = synthetic
    fitted = fit_isotropic_mixture(x, components=components)
    assert fitted.components == 3
    order = _matched(fitted, truth)
    np.testing.assert_allclose(fitted.means[order], truth.means, atol=0.05)
    np.testing.assert_allclose(fitted.weights[order], truth.weights, atol=0.03)
    assert fitted.sigma0 == pytest.approx(0.4, rel=0.03)


@pytest.mark.parametrize(
    ("x", "components"),
    [(np.full((20, 2), np.nan), 2), (np.zeros(20), 2), (np.zeros((2, 3, 4)), 1), (np.zeros((5, 2)), 3),
     ([["a", "b"]], 1)],
)
def test_fit_rejects_bad_data(x, components):
    with pytest.raises(DistillPlanError, match="^data:"):
        fit_isotropic_mixture(x, components=components)


def test_fit_needs_two_rows_for_bic():
    with pytest.raises(DistillPlanError, match="^data:"):
        fit_isotropic_mixture(np.zeros((1, 3)))
