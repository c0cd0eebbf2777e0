"""Study ``latents``: SSIM, the VAE cache, the latent teacher/students, and tiny end-to-end runs."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from distillplan.commands.study import study
from distillplan.errors import DistillPlanError
from distillplan.studies import get_study
from distillplan.studies import latents as lat
from distillplan.linear import LinearTeacher, canonical_plan
from distillplan.schedules import VPSchedule
from distillplan.latent import denoiser as ld
from distillplan.latent import vae as vae_mod
from distillplan.nn import cache as cache_mod


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TINY = dict(vae_train_steps=20, vae_width=32, teacher_train_steps=20, teacher_hidden=32, teacher_depth=2, train_steps=3,
            batch=32, teacher_steps=4, n_samples=24, n_show=3)


def tiny(tmp_path, **kw) -> lat.LatentsConfig:
    return lat.LatentsConfig(**{**TINY, "cache_dir": str(tmp_path / "cache"), **kw})


# ----------------------------------------------------------------------------- SSIM


@pytest.mark.parametrize("shape", [(3, 1, 8, 8), (2, 3, 64, 64)])
def test_ssim_of_an_image_with_itself_is_one_and_decreases_with_noise(shape):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(shape, generator=gen)
    for fn in (vae_mod.ssim, vae_mod.ms_ssim):
        assert float(fn(x, x)) == pytest.approx(1.0, abs=1e-5)
        values = []
        for level in (0.02, 0.1, 0.3):
            noisy = (x + level * torch.randn(shape, generator=gen)).clamp(0, 1)
            values.append(float(fn(noisy, x)))
        assert 1.0 > values[0] > values[1] > values[2]
        per_image = fn(x, x, reduction="none")
        assert per_image.shape == (shape[0],)


def test_ms_ssim_uses_the_scales_that_fit():
    assert vae_mod.ms_levels(8, 8) == 1
    assert vae_mod.ms_levels(64, 64) == 3
    assert vae_mod.ms_levels(256, 256) == 5
    x = torch.rand(2, 1, 8, 8)
    assert torch.allclose(vae_mod.ms_ssim(x, 1 - x), vae_mod.ssim(x, 1 - x))


def test_ssim_is_differentiable():
    x = torch.rand(2, 1, 16, 16, requires_grad=True)
    vae_mod.ms_ssim(x, torch.rand(2, 1, 16, 16)).backward()
    assert torch.isfinite(x.grad).all()


# ----------------------------------------------------------------------------- VAE


def test_vae_architectures_round_trip_shapes():
    for shape, arch in (((1, 8, 8), "mlp"), ((3, 16, 16), "conv"), ((3, 64, 64), "conv")):
        model = vae_mod.VAE(shape, 6, "auto", 32)
        assert model.arch == arch
        mu, logvar = model.encode(torch.rand(2, *shape))
        assert mu.shape == logvar.shape == (2, 6)
        assert model.decode(mu).shape == (2, *shape)
    with pytest.raises(DistillPlanError):
        vae_mod.VAE((1, 8, 8), 4, "conv")


def test_vae_cache_hit_does_not_retrain(tmp_path, monkeypatch):
    calls = []
    real_fit = vae_mod.fit_vae

    def counting_fit(*args, **kwargs):
        calls.append(1)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(vae_mod, "fit_vae", counting_fit)
    images = np.random.default_rng(0).random((40, 1, 8, 8)).astype(np.float32)
    cfg = vae_mod.VAEConfig(latent_dim=4, width=16, train_steps=5, batch=8)
    first = vae_mod.load_or_train_vae(images, cfg, data_fingerprint="abc", cache_dir=tmp_path)
    second = vae_mod.load_or_train_vae(images, cfg, data_fingerprint="abc", cache_dir=tmp_path)
    assert (first.cached, second.cached, len(calls)) == (False, True, 1)
    assert first.path == second.path and first.path.is_file() and first.path.parent.parent == tmp_path
    np.testing.assert_array_equal(vae_mod.encode_means(first.model, images), vae_mod.encode_means(second.model, images))
    assert second.metrics["recon_mse"] == pytest.approx(first.metrics["recon_mse"])
    # other data or another config: a new key, trained again
    other = vae_mod.load_or_train_vae(images, cfg, data_fingerprint="xyz", cache_dir=tmp_path)
    again = vae_mod.load_or_train_vae(images, dataclasses.replace(cfg, seed=1), data_fingerprint="abc", cache_dir=tmp_path)
    assert not other.cached and not again.cached and len(calls) == 3
    assert len({first.key, other.key, again.key}) == 3


def test_vae_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILLPLAN_CACHE", str(tmp_path / "env"))
    assert cache_mod.default_cache_dir() == tmp_path / "env"
    _, path = cache_mod.cache_file(None, "vae", {"a": 1})
    assert path.parent == tmp_path / "env" / "vae"


# ----------------------------------------------------------------------------- latent teacher and students


def test_untrained_latent_teacher_is_the_linear_teacher():
    sched = VPSchedule.cosine(6)
    lam = np.array([0.05, 0.5, 1.0, 2.0])
    linear = LinearTeacher(sched, lam)
    torch.manual_seed(0)
    model = ld.LatentDenoiser(sched.alphas, lam, hidden=16, depth=2)
    z = torch.randn(5, 4, dtype=torch.float32)
    for t in range(1, 7):
        expected = z.double().numpy() * linear.step[t]
        with torch.no_grad():
            np.testing.assert_allclose(model.ddim_step(z, t).double().numpy(), expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ld.leaf_student(model, t)(z).double().numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ld.teacher_sample(model, z).double().numpy(), z.double().numpy() * linear.surrogate(),
                               rtol=1e-4, atol=1e-6)


def test_distilled_students_follow_the_plan_and_warm_start():
    sched = VPSchedule.cosine(4)
    lam = np.array([0.3, 0.8])
    model = ld.LatentDenoiser(sched.alphas, lam, hidden=16, depth=2)
    lat = torch.randn(64, 2) * torch.tensor(np.sqrt(lam), dtype=torch.float32)
    z = torch.randn(8, 2)
    plan = canonical_plan("vanilla", 4)
    # zero budget: every stage keeps its warm start, the first child's value (the teacher step T → T−1)
    root = ld.distill_plan(model, plan, lat, ld.DistillConfig(train_steps=0))
    with torch.no_grad():
        assert torch.allclose(root(z), ld.leaf_student(model, 4)(z))
    memo: dict = {}
    cfg = ld.DistillConfig(train_steps=30, batch=32, lr=1e-2)
    root = ld.distill_plan(model, plan, lat, cfg, memo)
    assert (root.a, root.end) == (4, 0)
    again = ld.distill_plan(model, plan, lat, cfg, {})
    with torch.no_grad():
        teacher_out = ld.teacher_sample(model, z)
        start_err = (ld.leaf_student(model, 4)(z) - teacher_out).norm()
        assert (root(z) - teacher_out).norm() < start_err  # training moves it toward the composite
        assert torch.equal(again(z), root(z))  # seeded per node
    boot = ld.distill_plan(model, canonical_plan("boot", 4), lat, cfg, memo)
    assert boot.end == 0 and len([k for k in memo if k.startswith("[")]) == 1 + 3


# ----------------------------------------------------------------------------- the study


def test_config_checks():
    with pytest.raises(DistillPlanError) as info:
        lat.LatentsConfig(dataset="mnist")
    assert info.value.argument == "dataset"
    for field, value in (("teacher_steps", 1), ("n_show", 5000), ("vae_arch", "rnn"), ("lam_floor", 0.0), ("device", "tpu")):
        with pytest.raises(DistillPlanError) as info:
            lat.LatentsConfig(**{field: value})
        assert info.value.argument == field


def test_run_on_a_tiny_config_writes_figures_and_tables(tmp_path):
    rows = lat.run(tiny(tmp_path), 0)
    assert [(r["model"], r["method"]) for r in rows] == [(m, k) for m in lat.MODELS for k in lat.METHODS]
    for r in rows:
        for key in ("l2_to_teacher", "rel_l2", "lam_share_le1", "lam_median"):
            assert math.isfinite(r[key])
        if r["method"] != "teacher":
            assert r["rank"] in range(1, 6) and r["l2_to_teacher"] > 0
        assert np.asarray(r["samples"]).shape == (3, 1, 8, 8)
    linear = {r["method"]: r for r in rows if r["model"] == "linear"}
    assert all(math.isfinite(linear[k]["w2"]) for k in lat.PLANS)
    assert linear["optimal"]["w2"] <= min(linear[k]["w2"] for k in lat.PLANS) + 1e-12
    assert 0.0 <= rows[0]["lam_share_le1"] <= 1.0 and len(rows[0]["lams"]) == 16
    written = {p.name for p in lat.write_outputs(rows, tmp_path / "out")}
    assert written == {"latents_samples_linear.png", "latents_samples_trained.png", "latents_lambda_hist.png",
                       "latents_l2.csv", "latents_summary.csv"}
    l2_csv = (tmp_path / "out" / "latents_l2.csv").read_text().splitlines()
    assert l2_csv[0].startswith("dataset,teacher_steps,method,") and len(l2_csv) == 1 + len(lat.METHODS)
    assert rows[0]["vae_cached"] is False and rows[0]["teacher_cached"] is False
    # the second run finds the VAE and the teacher in the cache
    again = lat.run(tiny(tmp_path), 0)
    assert again[0]["vae_cached"] is True and again[0]["teacher_cached"] is True
    assert [r["l2_to_teacher"] for r in again] == [r["l2_to_teacher"] for r in rows]


def test_run_is_deterministic_given_the_seed(tmp_path):
    a = lat.run(tiny(tmp_path / "a"), 3)
    b = lat.run(tiny(tmp_path / "b"), 3)  # separate caches: everything is trained twice
    c = lat.run(tiny(tmp_path / "c"), 4)
    strip = ("run", "load_s", "vae_s", "plan_s", "teacher_s", "distill_s", "decode_s")

    def clean(rows):
        return [{k: v for k, v in r.items() if k not in strip} for r in rows]

    assert clean(a) == clean(b)
    assert [r["l2_to_teacher"] for r in a] != [r["l2_to_teacher"] for r in c]


def test_run_on_npy_latents_skips_the_vae(tmp_path):
    z = np.random.default_rng(0).normal(size=(200, 5)) * np.array([0.3, 0.6, 0.9, 1.2, 2.0])
    np.save(tmp_path / "z.npy", z)
    rows = lat.run(tiny(tmp_path, dataset=f"npy:{tmp_path / 'z.npy'}", train_students=False), 0)
    assert [r["model"] for r in rows] == ["linear"] * len(lat.METHODS)
    assert rows[0]["dim"] == 5 and rows[0]["lam_share_le1"] == pytest.approx(0.6)
    assert all(r["samples"] is None for r in rows) and len(rows[0]["points"][0]) == 2
    written = {p.name for p in lat.latents_figures(rows, tmp_path / "out")}
    assert written == {"latents_samples_linear.png", "latents_lambda_hist.png"}


def test_run_reports_a_bad_dataset_naming_it(tmp_path):
    with pytest.raises(DistillPlanError) as info:
        lat.run(tiny(tmp_path, dataset=f"folder:{tmp_path / 'missing'}"), 0)
    assert info.value.argument == "dataset" and "no such folder" in str(info.value)


def test_study_command_end_to_end(tmp_path):
    assert get_study("latents") is lat.STUDY
    sets = [f"{k}={v}" for k, v in {**TINY, "cache_dir": tmp_path / "cache"}.items()]
    args = ["latents", "--preset", "quick", "--out", str(tmp_path / "out"), "--workers", "1", "--no-progress"]
    for s in sets:
        args += ["--set", s]
    result = CliRunner().invoke(study, args)
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    for name in ("table.csv", "latents_l2.csv", "latents_summary.csv", "latents_samples_linear.png",
                 "latents_samples_trained.png", "latents_lambda_hist.png"):
        assert (out / name).is_file(), name
    table = (out / "table.csv").read_text().splitlines()
    assert len(table) == 1 + 2 * len(lat.METHODS)
    assert "l2_to_teacher_mean" in table[0]


def test_presets():
    quick = lat.STUDY.sweep("quick")
    assert len(quick) == 1 and quick.configs[0].dataset == "digits"
    paper = lat.STUDY.sweep("paper").configs[0]
    assert (paper.latent_dim, paper.teacher_steps, paper.dataset.split(":")[0]) == (128, 32, "celeba")
