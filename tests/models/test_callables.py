"""load_callable and probe: a module file of good and bad callables."""

import sys
import textwrap

import pytest
import torch

from distillplan import DistillPlanError
from distillplan.models import EDM, NetworkField, load_callable, probe

pytestmark = pytest.mark.usefixtures("one_thread")

SOURCE = textwrap.dedent('''
    import torch

    def good(x, t):
        return 0.5 * x / (1.0 + t[:, None] ** 2)

    def wrong_shape(x, t):
        return x[:, :2]

    def nan_at_noise_end(x, t):
        return x * torch.where(t > 1.0, float("nan"), 1.0)[:, None]

    def not_a_tensor(x, t):
        return x.tolist()

    def raises(x, t):
        raise RuntimeError("boom\\nsecond line")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.full((3,), 0.25))

        def forward(self, x, t):
            return self.scale * x

    net = Net()
    number = 3
''')


@pytest.fixture
def user_file(tmp_path):
    path = tmp_path / "user_models.py"
    path.write_text(SOURCE)
    return path


def test_good_callable_from_a_file(user_file):
    field = load_callable(f"{user_file}:good", "edm", "epsilon", (3,), dtype=torch.float64)
    x = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(field.velocity(x, 2.0), 0.5 * x / 5.0)  # EDM: v = ε̂
    desc = field.describe()
    assert desc["spec"].endswith(":good") and desc["parameterisation"] == "epsilon" and "content_hash" not in desc


def test_module_instance_is_hashed(user_file):
    field = load_callable(f"{user_file}:net", {"process": "edm", "t_min": 0.01, "horizon": 10.0}, "x0", (3,))
    assert field.dtype == torch.float32 and len(field.describe()["content_hash"]) == 16
    assert field.process.horizon == 10.0


def test_import_by_module_name(user_file, monkeypatch):
    monkeypatch.syspath_prepend(str(user_file.parent))
    monkeypatch.delitem(sys.modules, "user_models", raising=False)
    field = load_callable("user_models:good", EDM(), "epsilon", (3,))
    assert isinstance(field, NetworkField)


@pytest.mark.parametrize("attr, fragment", [("wrong_shape", "returned shape (2, 2) for input (2, 3)"),
                                            ("nan_at_noise_end", "NaN"), ("not_a_tensor", "not a tensor"),
                                            ("raises", "RuntimeError: boom"), ("number", "not callable"),
                                            ("Net", "is a class"), ("missing", "no attribute")])
def test_bad_callables_name_model(user_file, attr, fragment):
    with pytest.raises(DistillPlanError) as err:
        load_callable(f"{user_file}:{attr}", "edm", "epsilon", (3,))
    assert err.value.argument == "model" and fragment in err.value.message
    assert "\n" not in err.value.message


@pytest.mark.parametrize("spec", ["no_colon", "nowhere/file.py:good", "no_such_module_xyz:good", ":good", "m:"])
def test_bad_specs(spec):
    with pytest.raises(DistillPlanError) as err:
        load_callable(spec, "edm", "epsilon", (3,))
    assert err.value.argument == "model"


@pytest.mark.parametrize("process, parameterisation, argument", [("ddpm", "epsilon", "process"),
                                                                 ("edm", "noise", "parameterisation"),
                                                                 ("edm", "v", "parameterisation"),
                                                                 ({"process": "discrete-vp"}, "epsilon", "process")])
def test_bad_process_or_parameterisation(user_file, process, parameterisation, argument):
    with pytest.raises(DistillPlanError) as err:
        load_callable(f"{user_file}:good", process, parameterisation, (3,))
    assert err.value.argument == argument


def test_probe_reports_a_singular_end_as_the_process():
    field = NetworkField(lambda x, t: x, "rectified-flow", "epsilon", (3,))  # α = 0 at t = 1
    with pytest.raises(DistillPlanError) as err:
        probe(field)
    assert err.value.argument == "process"
