"""The regression loop: loss goes down, stacked = separate students, weight bound, determinism."""

import pytest
import torch

from distillplan.errors import DistillPlanError
from distillplan.nn import MLP, StackedMLP, clip_weights_
from distillplan.nn.fit import TrainSettings
from distillplan.nn.fit import fit


pytestmark = pytest.mark.usefixtures("one_thread")


def _linear_task(n_students=None, batch=32, dim=3, seed=0):
    """Fresh x ~ N(0, I) each step, target A x (one A per student)."""
    gen = torch.Generator().manual_seed(seed)
    mats = torch.randn(n_students or 1, dim, dim, generator=torch.Generator().manual_seed(100))

    def make_chunk(count):
        x = torch.randn(count, n_students or 1, batch, dim, generator=gen)
        y = torch.einsum("kij,ckbj->ckbi", mats, x)
        return (x, y) if n_students else (x[:, 0], y[:, 0])

    return make_chunk


def test_fit_lowers_the_loss_and_is_deterministic():
    settings = TrainSettings(steps=150, batch=32, lr=1e-2, chunk_steps=40)
    x, y = _linear_task(seed=5)(1)
    results, params, before = [], [], []
    for _ in range(2):
        net = MLP(3, 32, 2, "relu", generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            before.append(float((net(x[0]) - y[0]).square().mean()))
        results.append(fit(net, _linear_task(), settings))
        params.append([p.detach().clone() for p in net.parameters()])
    assert results[0].final_loss == results[1].final_loss
    assert all(torch.equal(p, q) for p, q in zip(*params))
    assert results[0].steps == 150 and results[0].timings.total_s >= results[0].timings.data_s >= 0
    assert results[0].final_loss[0] < 0.05 * before[0]


class _Replay:
    """Serve a fixed array of steps ``(steps, ..., 2, B, d)`` -> (inputs, targets) chunk by chunk."""

    def __init__(self, data):
        self.data, self.at = data, 0

    def __call__(self, count):
        chunk = self.data[self.at:self.at + count]
        self.at += count
        return chunk[:, 0], chunk[:, 1]


def test_stacked_students_train_like_separate_ones():
    n, steps = 3, 20
    settings = TrainSettings(steps=steps, batch=16, lr=1e-2, grad_clip=0.5, chunk_steps=7)
    data = torch.stack(_linear_task(n, batch=16)(steps), 1)  # (steps, 2, n, B, d)
    stacked = StackedMLP(n, 3, 8, 2, "alternating", generators=[torch.Generator().manual_seed(10 + k) for k in range(n)])
    fit(stacked, _Replay(data), settings)
    for k, back in enumerate(stacked.unstack()):
        alone = MLP(3, 8, 2, "alternating", generator=torch.Generator().manual_seed(10 + k))
        fit(alone, _Replay(data[:, :, k]), settings)
        for p, q in zip(back.parameters(), alone.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


def test_weight_bound_clips_weights_and_leaves_biases():
    bound = 0.05
    net = MLP(3, 16, 2, "alternating", generator=torch.Generator().manual_seed(2))
    fit(net, _linear_task(), TrainSettings(steps=60, batch=32, lr=5e-2, weight_bound=bound))
    for layer in net.layers:
        assert layer.weight.abs().max() <= bound
    assert max(float(layer.bias.detach().abs().max()) for layer in net.layers) > bound  # biases are free
    assert sum(int((layer.weight.abs() == bound).sum()) for layer in net.layers) > 0  # the bound is active


def test_clip_weights_on_stacked_students():
    net = StackedMLP(2, 3, 8, 2, generators=[torch.Generator().manual_seed(k) for k in range(2)])
    with torch.no_grad():
        for b in net.biases:
            b.fill_(3.0)
    clip_weights_(net, 0.01)
    assert all(w.detach().abs().max() <= 0.01 for w in net.weights)
    assert all(torch.all(b == 3.0) for b in net.biases)


def test_bad_settings_and_chunks():
    with pytest.raises(DistillPlanError, match="steps"):
        TrainSettings(steps=0)
    with pytest.raises(DistillPlanError, match="weight_bound"):
        TrainSettings(steps=1, weight_bound=-1.0)
    with pytest.raises(DistillPlanError, match="settings"):
        fit(MLP(2, 4, 1), _linear_task(dim=2), {"steps": 1})
    with pytest.raises(DistillPlanError, match="make_chunk"):
        fit(MLP(3, 4, 1), lambda count: (torch.zeros(count + 1, 2, 3), torch.zeros(count + 1, 2, 3)),
            TrainSettings(steps=2, batch=2))
    assert TrainSettings(steps=10, batch=1024).chunk("cpu") == 10
    assert TrainSettings(steps=100, batch=1024).chunk("cpu") == 16
    assert TrainSettings(steps=100, batch=4, chunk_steps=3).chunk("cuda") == 3
