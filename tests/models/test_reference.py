"""The reference DDPM (tiny configs: a few seconds in all), its cache folder, the DDIM sampler and the
Fréchet distance against closed forms."""

import dataclasses
import json

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers")

from distillplan import DistillPlanError  # noqa: E402
from distillplan.data.digits import load_digits  # noqa: E402
from distillplan.models import reference  # noqa: E402
from distillplan.models.quality import (ClassifierConfig, classifier_features, digit_labels, frechet_distance,  # noqa: E402
                                        frechet_distance_of, load_or_train_classifier, nearest_distances,
                                        split_indices)
from distillplan.models.reference import (ReferenceConfig, load_or_train_reference, reference_folder,  # noqa: E402
                                          save_sample_figure, train_reference)
from distillplan.models.sampling import ddim_sample, ddim_timesteps  # noqa: E402

TINY_CLASSIFIER = ClassifierConfig(channels=(4, 8), features=8, steps=40, batch=64)
TINY = ReferenceConfig(block_out_channels=(8, 16), norm_num_groups=4, train_steps=30, batch=32, quality_samples=96,
                       sampler_steps=4, classifier=TINY_CLASSIFIER)


def _state(unet) -> dict:
    return {k: v.detach().cpu().clone() for k, v in unet.state_dict().items()}


def _same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def trained(cache):
    calls = []
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = load_or_train_reference(cache, "cpu", TINY, progress=lambda *a: calls.append(a))
    finally:
        torch.set_num_threads(previous)
    return model, calls


def test_trains_reports_progress_and_quality(trained):
    model, calls = trained
    assert not model.cached and model.train_seconds > 0
    assert [c[0] for c in calls] == list(range(1, TINY.train_steps + 1))
    assert all(c[1] == TINY.train_steps and np.isfinite(c[2]) for c in calls)
    q = model.quality
    assert q["samples"] == TINY.quality_samples and q["real"] == 1797 and q["classifier_features"] == 8
    for name in ("fd_model", "fd_model_half", "fd_floor", "fd_ceiling"):
        assert np.isfinite(q[name]) and q[name] > 0
    assert q["nearest_model"] > 0 and q["nearest_floor"] > 0
    assert sum(q["sample_classes"]) == TINY.quality_samples and 0 <= q["classifier_accuracy"] <= 1


def test_folder_is_a_diffusers_pipeline_folder(trained):
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

    model, _ = trained
    folder = model.folder
    assert folder == reference_folder(TINY, folder.parents[1])
    assert folder.name == f"digits-{model.key[:16]}" and folder.parent.name == "models"
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "DDPMPipeline" and index["unet"][1] == "UNet2DModel"
    pipe = DDPMPipeline.from_pretrained(folder, local_files_only=True)
    assert isinstance(pipe.unet, UNet2DModel) and isinstance(pipe.scheduler, DDPMScheduler)
    unet = UNet2DModel.from_pretrained(folder / "unet", local_files_only=True)
    assert _same_weights(_state(unet), _state(model.unet)) and _same_weights(_state(pipe.unet), _state(model.unet))
    images = pipe(batch_size=2, num_inference_steps=2, output_type="np",
                  generator=torch.Generator().manual_seed(0)).images  # a user's path through the folder
    assert images.shape == (2, 8, 8, 1) and np.all(np.isfinite(images))
    assert model.scheduler_config["num_train_timesteps"] == 1000 and model.scheduler_config["prediction_type"] == "epsilon"
    meta = json.loads((folder / "distillplan.json").read_text())
    assert meta["key"] == model.key and meta["data"]["fingerprint"] == load_digits().fingerprint
    assert meta["quality"] == model.quality and meta["train_seconds"] == model.train_seconds
    assert (folder / "samples.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temporary folders left


def test_second_call_loads_from_cache_without_training(trained, cache, monkeypatch):
    model, _ = trained

    def fail(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(reference, "train_reference", fail)
    again = load_or_train_reference(cache, "cpu", TINY)
    assert again.cached and again.folder == model.folder and again.quality == model.quality
    assert _same_weights(_state(again.unet), _state(model.unet))
    assert again.config == TINY


def test_cache_key_follows_the_config_and_the_data(tmp_path):
    fp = load_digits().fingerprint
    base = TINY.key(fp)
    assert base == dataclasses.replace(TINY).key(fp)
    others = [dataclasses.replace(TINY, seed=1), dataclasses.replace(TINY, train_steps=31),
              dataclasses.replace(TINY, block_out_channels=(8, 8)), dataclasses.replace(TINY, lr=2e-3),
              dataclasses.replace(TINY, classifier=dataclasses.replace(TINY_CLASSIFIER, seed=3))]
    keys = {c.key(fp) for c in others}
    assert base not in keys and len(keys) == len(others)
    assert TINY.key("another data set") != base
    assert reference_folder(TINY, tmp_path) != reference_folder(others[0], tmp_path)


def test_seeds_give_identical_weights(one_thread):
    images = load_digits(limit=256).data
    small = dataclasses.replace(TINY, train_steps=8)
    a, stats_a = train_reference(images, small)
    b, stats_b = train_reference(images, small)
    c, _ = train_reference(images, dataclasses.replace(small, seed=1))
    assert _same_weights(_state(a), _state(b)) and stats_a["final_loss"] == stats_b["final_loss"]
    assert not _same_weights(_state(a), _state(c))


def test_a_finished_folder_of_a_racing_process_is_kept(tmp_path, trained, monkeypatch, one_thread):
    """Another process publishes the same model while this one trains: its folder stays, ours is dropped."""
    model, _ = trained
    import shutil

    folder = reference_folder(TINY, tmp_path)
    real = reference._is_complete
    checks = []

    def racing(path, key):
        checks.append(path)
        if len(checks) == 1:  # our first look finds nothing; the other process then publishes
            shutil.copytree(model.folder, path)
            return False
        return real(path, key)

    monkeypatch.setattr(reference, "_is_complete", racing)
    monkeypatch.setattr(reference, "train_reference", lambda images, config, device, progress: (
        reference.build_unet(config), {"train_seconds": 0.0, "final_loss": 0.0}))
    got = load_or_train_reference(tmp_path, "cpu", TINY)
    assert got.folder == folder and got.train_seconds == model.train_seconds
    assert _same_weights(_state(got.unet), _state(model.unet))
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]


def test_an_incomplete_folder_is_replaced(tmp_path, trained, monkeypatch, one_thread):
    model, _ = trained
    folder = reference_folder(TINY, tmp_path)
    folder.mkdir(parents=True)
    (folder / "junk.txt").write_text("half written by hand")
    monkeypatch.setattr(reference, "train_reference", lambda images, config, device, progress: (
        reference.build_unet(config), {"train_seconds": 1.5, "final_loss": 0.0}))
    monkeypatch.setattr(reference, "evaluate_quality", lambda *a, **k: {"fd_model": 1.0})
    got = load_or_train_reference(tmp_path, "cpu", TINY)
    assert not got.cached and got.train_seconds == 1.5 and not (folder / "junk.txt").exists()
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]


@pytest.mark.parametrize("changes, argument", [
    ({"block_out_channels": (8, 10)}, "norm_num_groups"), ({"block_out_channels": (8, 8, 8, 8, 8)}, "block_out_channels"),
    ({"quality_samples": 1}, "quality_samples"), ({"sampler_steps": 1001}, "sampler_steps"), ({"lr": 0}, "lr"),
    ({"ema_decay": 1.0}, "ema_decay"), ({"seed": -1}, "seed"), ({"attention": "yes"}, "attention"),
])
def test_bad_configs_name_the_argument(changes, argument):
    with pytest.raises(DistillPlanError) as err:
        dataclasses.replace(TINY, **changes)
    assert err.value.argument == argument


# ----------------------------------------------------------------------------------- sampler


def test_ddim_timesteps_descend_from_the_noise_end_to_zero():
    for n, s in ((1000, 100), (1000, 1000), (10, 3), (7, 1)):
        t = ddim_timesteps(n, s)
        assert t[0] == n - 1 and len(t) == s and (s == 1 or t[-1] == 0) and np.all(np.diff(t) < 0)
    with pytest.raises(DistillPlanError):
        ddim_timesteps(10, 11)


def test_ddim_with_the_exact_noise_predictor_of_gaussian_data_recovers_it():
    """Data N(m, s²) per coordinate: x_t ~ N(√ᾱ m, ᾱ s² + 1 − ᾱ), so ε̂ = √(1−ᾱ)(x − √ᾱ m)/(ᾱ s² + 1 − ᾱ)
    exactly; the η = 0 flow then carries N(0, 1) noise to N(m, s²) (up to discretisation)."""
    ab = reference.ReferenceConfig().process().alphas_bar
    m, s = 0.3, 0.5
    table = torch.tensor(ab, dtype=torch.float64)

    def eps(x, t):
        a = table[t].view(-1, 1)
        return (1 - a).sqrt() * (x - a.sqrt() * m) / (a * s**2 + 1 - a)

    noise = torch.randn(4000, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = ddim_sample(eps, ab, noise, 100, clip=None)
    assert abs(x.mean().item() - m) < 0.02 and abs(x.std().item() - s) < 0.02
    # deterministic: the same noise gives the same samples
    assert torch.equal(x, ddim_sample(eps, ab, noise, 100, clip=None))
    clipped = ddim_sample(eps, ab, noise * 10, 20, clip=0.4)
    assert clipped.abs().max() <= 0.4 + 1e-12


# ----------------------------------------------------------------------------------- quality


def test_frechet_distance_of_identical_sets_is_zero_and_symmetric():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6))
    y = rng.normal(size=(400, 6)) + 0.5
    assert abs(frechet_distance_of(x, x)) < 1e-8 * np.trace(np.cov(x, rowvar=False))
    assert frechet_distance_of(x, y) == pytest.approx(frechet_distance_of(y, x), rel=1e-9)
    assert frechet_distance_of(x, y) > 0


def test_frechet_distance_matches_closed_forms():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    a, b = rng.uniform(0.1, 3.0, 5), rng.uniform(0.1, 3.0, 5)
    # diagonal covariances: Σ (√a_i − √b_i)²
    exact = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(exact, rel=1e-10)
    # general covariances: Tr (Σ₁Σ₂)^{1/2} = Tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}, computed by eigendecompositions
    g1, g2 = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    c1, c2 = g1 @ g1.T + 0.1 * np.eye(5), g2 @ g2.T + 0.1 * np.eye(5)
    w, v = np.linalg.eigh(c1)
    r1 = v @ np.diag(np.sqrt(w)) @ v.T
    cross = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(r1 @ c2 @ r1), 0, None)))
    exact = np.sum((mu1 - mu2) ** 2) + np.trace(c1) + np.trace(c2) - 2 * cross
    assert frechet_distance(mu1, c1, mu2, c2) == pytest.approx(exact, rel=1e-9)
    # one dimension: (μ₁ − μ₂)² + (s₁ − s₂)²
    assert frechet_distance([1.0], [[4.0]], [0.0], [[1.0]]) == pytest.approx(2.0)
    with pytest.raises(DistillPlanError):
        frechet_distance(mu1, c1, mu2[:4], c2[:4, :4])


def test_frechet_distance_of_large_gaussian_samples_approaches_the_closed_form():
    rng = np.random.default_rng(2)
    c1, c2 = np.diag([1.0, 2.0, 0.5]), np.array([[1.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 1.5]])
    mu1, mu2 = np.zeros(3), np.array([0.5, -0.2, 0.1])
    x = rng.multivariate_normal(mu1, c1, size=200_000)
    y = rng.multivariate_normal(mu2, c2, size=200_000)
    assert frechet_distance_of(x, y) == pytest.approx(frechet_distance(mu1, c1, mu2, c2), abs=0.01)


def test_classifier_is_cached_and_gives_features(tmp_path, one_thread):
    data = load_digits()
    labels = digit_labels()
    first = load_or_train_classifier(data.data, labels, TINY_CLASSIFIER, data_fingerprint=data.fingerprint,
                                     cache_dir=tmp_path)
    again = load_or_train_classifier(data.data, labels, TINY_CLASSIFIER, data_fingerprint=data.fingerprint,
                                     cache_dir=tmp_path)
    assert not first.cached and again.cached and again.accuracy == first.accuracy
    feats = classifier_features(again.model, data.data[:50])
    assert feats.shape == (50, TINY_CLASSIFIER.features) and feats.dtype == np.float64
    np.testing.assert_array_equal(feats, classifier_features(first.model, data.data[:50]))
    train_idx, test_idx = split_indices(1797, 0.25, 0)
    assert len(test_idx) == 449 and not set(train_idx) & set(test_idx) and len(train_idx) + len(test_idx) == 1797


def test_nearest_distances():
    ref = np.zeros((3, 1, 2, 2))
    ref[1] += 1.0
    queries = np.stack([np.full((1, 2, 2), 0.25), np.full((1, 2, 2), 0.9)])
    np.testing.assert_allclose(nearest_distances(queries, ref), [0.5, 0.2])


def test_sample_figure_is_a_png(tmp_path):
    images = np.random.default_rng(0).uniform(size=(70, 1, 8, 8))
    path = save_sample_figure(images, tmp_path / "grid" / "s.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(DistillPlanError):
        save_sample_figure(np.zeros((4, 2, 8, 8)), tmp_path / "bad.png")
