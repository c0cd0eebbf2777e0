"""load_diffusers_folder on a tiny random UNet2DModel saved in both layouts, and on broken folders."""

import json
import shutil

import pytest
import torch

from distillplan import DistillPlanError
from distillplan.models import EDM, DiscreteVP, RectifiedFlow, load_diffusers_folder, to_velocity

diffusers = pytest.importorskip("diffusers")
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """``(unet, root)``: ``root/pipe`` (DDPMPipeline layout) and ``root/bare`` (config.json + scheduler_config.json)."""
    torch.manual_seed(0)
    unet = diffusers.UNet2DModel(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(8, 16),
                                 layers_per_block=1, down_block_types=("DownBlock2D", "DownBlock2D"),
                                 up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4).eval()
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear")
    root = tmp_path_factory.mktemp("diffusers")
    diffusers.DDPMPipeline(unet=unet, scheduler=scheduler).save_pretrained(root / "pipe")
    unet.save_pretrained(root / "bare")
    scheduler.save_pretrained(root / "bare")
    return unet, root


def _copy(root, tmp_path, name="model"):
    return shutil.copytree(root / "bare", tmp_path / name)


def _edit_scheduler(folder, **changes):
    path = folder / "scheduler_config.json"
    config = json.loads(path.read_text()) | changes
    path.write_text(json.dumps({k: v for k, v in config.items() if v is not None}))


def _manual(unet, field, x, t, t_net):
    with torch.no_grad():
        out = unet(x, torch.full((x.shape[0],), t_net)).sample
    return to_velocity(out, x, t, field.process, field.parameterisation)


@pytest.mark.parametrize("layout", ["pipe", "bare", "pipe/unet"])
def test_both_layouts_load_and_match_the_formula(folders, layout):
    unet, root = folders
    field = load_diffusers_folder(root / layout, device="cpu")
    assert field.shape == (1, 8, 8) and field.dtype == torch.float32 and field.parameterisation == "epsilon"
    assert isinstance(field.process, DiscreteVP) and field.process.horizon == 999
    desc = field.describe()
    assert desc["parameterisation"] == "epsilon" and desc["process"]["process"] == "discrete-vp"
    assert len(desc["content_hash"]) == 16 and desc["class"] == "UNet2DModel"
    x = field.prior(3, torch.Generator().manual_seed(1))
    for t in (0.0, 417.25, 999.0):
        with torch.no_grad():
            v = field.velocity(x, t)
        assert v.shape == x.shape and bool(torch.isfinite(v).all())
        torch.testing.assert_close(v, _manual(unet, field, x, t, t), rtol=1e-5, atol=1e-5)


def test_same_weights_same_hash(folders):
    _, root = folders
    assert (load_diffusers_folder(root / "pipe", "cpu").describe()["content_hash"]
            == load_diffusers_folder(root / "bare", "cpu").describe()["content_hash"])


@pytest.mark.parametrize("prediction, kind", [("sample", "x0"), ("v_prediction", "v")])
def test_prediction_types(folders, tmp_path, prediction, kind):
    unet, root = folders
    folder = _copy(root, tmp_path)
    _edit_scheduler(folder, prediction_type=prediction, beta_schedule="scaled_linear", beta_start=0.00085,
                    beta_end=0.012)
    field = load_diffusers_folder(folder, device="cpu", parameterisation=kind, process="discrete-vp")
    assert field.parameterisation == kind and "scaled_linear" in field.process.label
    x = field.prior(2, torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(field.velocity(x, 300.5), _manual(unet, field, x, 300.5, 300.5), rtol=1e-5,
                                   atol=1e-5)


def test_flow_matching_scheduler(folders, tmp_path):
    unet, root = folders
    folder = _copy(root, tmp_path)
    (folder / "scheduler_config.json").unlink()
    diffusers.FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0).save_pretrained(folder)
    field = load_diffusers_folder(folder, device="cpu", process=RectifiedFlow(1e-3, 0.999))
    assert field.parameterisation == "velocity" and field.process.t_min == 1e-3
    assert field.describe()["network_time"] == "1000 t"
    x = field.prior(2, torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(field.velocity(x, 0.375), _manual(unet, field, x, 0.375, 375.0))


def test_learned_variance_keeps_the_mean_channels(tmp_path):
    torch.manual_seed(1)
    unet = diffusers.UNet2DModel(sample_size=8, in_channels=1, out_channels=2, block_out_channels=(8, 16),
                                 layers_per_block=1, down_block_types=("DownBlock2D", "DownBlock2D"),
                                 up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4).eval()
    unet.save_pretrained(tmp_path)
    diffusers.DDPMScheduler(variance_type="learned_range").save_pretrained(tmp_path)
    field = load_diffusers_folder(tmp_path, device="cpu")
    assert field.shape == (1, 8, 8)
    x = field.prior(2, torch.Generator().manual_seed(4))
    with torch.no_grad():
        eps = unet(x, torch.full((2,), 10.5)).sample[:, :1]
        expected = to_velocity(eps, x, 10.5, field.process, "epsilon")
        torch.testing.assert_close(field.velocity(x, 10.5), expected)


def test_bad_folders(folders, tmp_path):
    _, root = folders
    cases = []
    cases.append(tmp_path / "missing")
    (tmp_path / "file.txt").write_text("x")
    cases.append(tmp_path / "file.txt")
    (tmp_path / "empty").mkdir()
    cases.append(tmp_path / "empty")
    junk = _copy(root, tmp_path, "junk")
    (junk / "config.json").write_text("{not json")
    cases.append(junk)
    unknown = _copy(root, tmp_path, "unknown")
    (unknown / "config.json").write_text(json.dumps({"_class_name": "NoSuchModel", "in_channels": 1}))
    cases.append(unknown)
    not_model = _copy(root, tmp_path, "not_model")
    (not_model / "config.json").write_text(json.dumps({"_class_name": "DDPMScheduler"}))
    cases.append(not_model)
    no_scheduler = _copy(root, tmp_path, "no_scheduler")
    (no_scheduler / "scheduler_config.json").unlink()
    cases.append(no_scheduler)
    sigmoid = _copy(root, tmp_path, "sigmoid")
    _edit_scheduler(sigmoid, beta_schedule="sigmoid")
    cases.append(sigmoid)
    sde = _copy(root, tmp_path, "sde")
    _edit_scheduler(sde, prediction_type="sde")
    cases.append(sde)
    for name, change in (("conditional", {"_class_name": "UNet2DConditionModel"}), ("classes", {"num_class_embeds": 3}),
                         ("learned_time", {"time_embedding_type": "learned"}), ("no_size", {"sample_size": None}),
                         ("out_channels", {"out_channels": 3})):
        folder = _copy(root, tmp_path, name)
        config = json.loads((folder / "config.json").read_text()) | change
        (folder / "config.json").write_text(json.dumps(config))
        cases.append(folder)
    no_weights = _copy(root, tmp_path, "no_weights")
    next(no_weights.glob("*.safetensors")).unlink()
    cases.append(no_weights)
    broken = _copy(root, tmp_path, "broken")
    weights = next(broken.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:100])
    cases.append(broken)
    for folder in cases:
        with pytest.raises(DistillPlanError) as err:
            load_diffusers_folder(folder, device="cpu")
        assert err.value.argument == "model", folder.name
        assert "\n" not in err.value.message


@pytest.mark.parametrize("override, argument", [({"parameterisation": "x0"}, "parameterisation"),
                                                ({"parameterisation": "eps"}, "parameterisation"),
                                                ({"process": EDM()}, "process"),
                                                ({"process": DiscreteVP.from_betas("squaredcos_cap_v2")}, "process"),
                                                ({"process": "flow"}, "process"),
                                                ({"device": "gpu"}, "device")])
def test_contradicting_overrides(folders, override, argument):
    _, root = folders
    with pytest.raises(DistillPlanError) as err:
        load_diffusers_folder(root / "bare", **({"device": "cpu"} | override))
    assert err.value.argument == argument
    if override.get("parameterisation") == "x0" or isinstance(override.get("process"), (EDM, DiscreteVP)):
        assert "the folder's scheduler config says" in err.value.message


def test_agreeing_overrides(folders):
    _, root = folders
    field = load_diffusers_folder(root / "pipe", "cpu", parameterisation="epsilon", process="discrete-vp")
    assert field.parameterisation == "epsilon"
