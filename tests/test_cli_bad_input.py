"""Every bad invocation ends in exactly one stderr line ``error: <argument>: ...`` and exit status 2.

One table of ``(argv, argument)`` cases across every command, run in-process through
:func:`distillplan.cli.main`. ``{tmp}`` in an argument is the folder of bad files the ``files``
fixture writes. Every case must fail during validation, before any work starts, so the table is fast.
"""

from __future__ import annotations

import importlib
import json
import os
import warnings

import numpy as np
import pytest

from distillplan import cli
from distillplan.errors import DistillPlanError
from distillplan.pipelines.phase import PHASE_COLUMNS

ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0
NESTED = "[" * 5000 + "]" * 5000
GRID_10001 = ",".join(str(x) for x in np.linspace(1.0, 0.0, 10_001))
DRAW_13 = ",".join(str(x) for x in range(1, 14))
LATENTS = ["recommend", "--data", "{tmp}/latents.npy", "--out", "{tmp}/rec"]
TINY_PLAN = ["plan", "--lam", "0.5", "--steps", "8"]
CAL = ["calibrate", "--out", "{tmp}/cal"]
GAUSS = ["--process", "ou", "--parameterisation", "epsilon", "--shape", "3"]

CASES = [
    # -- output paths: --out / --draw with a missing or file parent, a folder, or an unsupported type
    (TINY_PLAN + ["--draw", "{tmp}/missing/plan.png"], "draw"),
    (TINY_PLAN + ["--draw", "{tmp}/afile/plan.png"], "draw"),
    (TINY_PLAN + ["--draw", "{tmp}/plan.xyz"], "draw"),
    (TINY_PLAN + ["--draw", "{tmp}/plan"], "draw"),
    (TINY_PLAN + ["--draw", "{tmp}/plan.pgf"], "draw"),
    (TINY_PLAN + ["--draw", "{tmp}/folder.npy"], "draw"),
    (["plan", "--lam", "0.5", "--steps", "4096", "--draw", "{tmp}/missing/plan.png"], "draw"),
    (["phase", "--steps", "8", "--points", "3", "--out", "{tmp}/afile"], "out"),
    (["phase", "--steps", "8", "--points", "3", "--out", "{tmp}/afile/sub"], "out"),
    (["phase", "--steps", "8", "--points", "3", "--out", "{tmp}/phase_garbage"], "out"),
    (["phase", "--steps", "8", "--points", "3", "--out", "{tmp}/phase_bad_csv"], "out"),
    (["phase", "--steps", "8", "--points", "3", "--out", "{tmp}/phase_other"], "out"),
    (["study", "linear-sweep", "--out", "{tmp}/afile"], "out"),
    (["study", "linear-sweep", "--out", "{tmp}/afile/sub"], "out"),
    (["recommend", "--data", "{tmp}/latents.npy", "--out", "{tmp}/afile"], "out"),
    (["recommend", "--data", "{tmp}/latents.npy", "--out", "{tmp}/afile/sub/deeper"], "out"),
    (["report", "{tmp}/reportable", "--out", "{tmp}/missing/report.html"], "out"),
    (["report", "{tmp}/reportable", "--out", "{tmp}/afile/report.html"], "out"),
    (["report", "{tmp}/reportable", "--out", "{tmp}/report.txt"], "out"),
    (["report", "{tmp}/reportable", "--out", "{tmp}/folder.npy"], "out"),
    (["report", "{tmp}/afile"], "dir"),
    (["report", "{tmp}/missing"], "dir"),
    (["report", "{tmp}/empty_folder"], "dir"),
    pytest.param(["report", "{tmp}/locked"], "dir", marks=pytest.mark.skipif(ROOT_USER, reason="root writes anywhere")),
    pytest.param(TINY_PLAN + ["--draw", "{tmp}/locked/plan.png"], "draw",
                 marks=pytest.mark.skipif(ROOT_USER, reason="root writes anywhere")),

    # -- sizes: every size option has a stated limit
    (["plan", "--steps", "100000"], "steps"),
    (["plan", "--steps", "4097"], "steps"),
    (["plan", "--steps", "1"], "steps"),
    (["plan", "--steps", "0"], "steps"),
    (["plan", "--steps", "-5"], "steps"),
    (["plan", "--steps", str(10**30)], "steps"),
    (["plan", "--schedule", "linear", "--steps", "1001"], "steps"),
    (["plan", "--schedule", "{tmp}/alpha_long.npy"], "schedule"),
    (["plan", "--schedule", "{tmp}/alpha_short.csv"], "schedule"),
    (["plan", "--lam", "0.5", "--steps", "4096", "--front"], "front"),
    (["plan", "--lam", "0.5", "--steps", "128", "--front"], "front"),
    (["plan", "--lam", "0.5", "--steps", "128", "--max-stages", "200"], "max-stages"),
    (["plan", "--lam", "0.5", "--steps", "2048", "--max-stages", "3"], "max-stages"),
    (["plan", "--max-stages", "0"], "max-stages"),
    (["plan", "--max-stages", "-1"], "max-stages"),
    (["plan", "--variances", "{tmp}/many_lams.txt", "--max-stages", "3"], "variances"),  # the Pareto DP's limit
    (["plan", "--variances", "{tmp}/many_lams.txt", "--init", "jump"], "variances"),
    (["plan", "--variances", "{tmp}/many_lams.txt", "--steps", "4000"], "variances"),  # relaxed tables too large
    (["plan", "--variances", "{tmp}/ten_lams.txt", "--steps", "4096"], "variances"),
    (["plan", "--variances", "{tmp}/ten_lams.txt", "--steps", "2048", "--solver", "pareto"], "variances"),
    (["plan", "--variances", "{tmp}/lams_1_1e6.npy"], "variances"),
    (["plan", "--solver", "exhaustive", "--steps", "32"], "solver"),
    (["plan", "--steps", "4", "--plan", NESTED], "plan"),
    (["plan", "--steps", "4", "--plan", "{tmp}/plan_deep.json"], "plan"),
    (["phase", "--points", "3000", "--out", "{tmp}/ph"], "points"),
    (["phase", "--points", "1", "--out", "{tmp}/ph"], "points"),
    (["phase", "--points", "0", "--out", "{tmp}/ph"], "points"),
    (["phase", "--steps", "5000", "--out", "{tmp}/ph"], "steps"),
    (["phase", "--steps", "8", "--draw-at", DRAW_13, "--out", "{tmp}/ph"], "draw-at"),
    (["grid", "--dim", "100000000"], "dim"),
    (["grid", "--dim", "16385"], "dim"),
    (["grid", "--dim", "0"], "dim"),
    (["grid", "--components", "100000000"], "components"),
    (["grid", "--components", "1001"], "components"),
    (["grid", "--components", "0"], "components"),
    (["grid", "--segments", "100000"], "segments"),
    (["grid", "--segments", "0"], "segments"),
    (["grid", "--data", "{tmp}/latents.npy", "--components", "500"], "data"),
    (["export", "--grid", GRID_10001], "grid"),
    (["export", "--grid", "1,0.5,0", "--train-steps", "1"], "train-steps"),
    (["export", "--grid", "1,0.5,0", "--train-steps", "1000000000"], "train-steps"),
    (["export", "--grid", "8,4,0", "--convention", "vp-index", "--steps", "100000000"], "steps"),
    (["export", "--grid", "[[4,3],[2,1]]", "--convention", "plan", "--steps", "5000"], "steps"),
    (["export", "--grid", NESTED, "--convention", "plan"], "grid"),
    (LATENTS + ["--steps", "100000"], "steps"),
    (LATENTS + ["--steps", "1"], "steps"),
    (LATENTS + ["--segments", "0"], "segments"),
    (LATENTS + ["--segments", "100000"], "segments"),
    (LATENTS + ["--components", "0"], "components"),
    (LATENTS + ["--components", "5000"], "components"),
    (LATENTS + ["--components", "300"], "components"),
    (LATENTS + ["--max-stages", "0"], "max-stages"),
    (["recommend", "--data", "{tmp}/latents_wide.npy", "--steps", "1024", "--out", "{tmp}/rec"], "data"),
    # -- calibrate: models that cannot load, callables that misbehave, options that contradict the model
    (CAL + ["--model", "{tmp}/missing_dir"], "model"),
    (CAL + ["--model", "{tmp}/latents.npy"], "model"),
    (CAL + ["--model", "{tmp}/empty_folder"], "model"),
    (CAL + ["--model", "{tmp}/notmodel"], "model"),
    (CAL + ["--model", "{tmp}/model_noscheduler"], "model"),
    (CAL + ["--model", ""], "model"),
    (CAL + ["--model", "{tmp}/good_model", "--parameterisation", "x0"], "parameterisation"),
    (CAL + ["--model", "{tmp}/good_model", "--process", "edm"], "process"),
    (CAL + ["--model", "{tmp}/good_model", "--sigma0", "0.5"], "sigma0"),
    (CAL + ["--model", "{tmp}/calls.py:wrong_shape"] + GAUSS, "model"),
    (CAL + ["--model", "{tmp}/calls.py:nan_out"] + GAUSS, "model"),
    (CAL + ["--model", "{tmp}/calls.py:raises"] + GAUSS, "model"),
    (CAL + ["--model", "{tmp}/calls.py:missing_name"] + GAUSS, "model"),
    (CAL + ["--model", "{tmp}/calls.py:not_callable"] + GAUSS, "model"),
    (CAL + ["--model", "nosuchmodule_xyz:fn"] + GAUSS, "model"),
    (CAL + ["--model", "{tmp}/calls.py:good", "--process", "ddpm", "--parameterisation", "epsilon", "--shape", "3"],
     "process"),
    (CAL + ["--model", "{tmp}/calls.py:good", "--process", "ou", "--parameterisation", "noise", "--shape", "3"],
     "parameterisation"),
    (CAL + ["--model", "{tmp}/calls.py:good", "--process", "edm", "--parameterisation", "v", "--shape", "3"],
     "parameterisation"),
    (CAL + ["--model", "{tmp}/calls.py:good", "--parameterisation", "epsilon", "--shape", "3"], "process"),
    (CAL + ["--model", "{tmp}/calls.py:good", "--process", "ou", "--shape", "3"], "parameterisation"),
    (CAL + ["--model", "{tmp}/calls.py:good", "--process", "ou", "--parameterisation", "epsilon"], "shape"),
    (CAL + ["--model", "{tmp}/calls.py:good", "--process", "ou", "--parameterisation", "epsilon", "--shape", "0,3"],
     "shape"),
    (CAL + ["--model", "{tmp}/calls.py:good", "--process", "ou", "--parameterisation", "epsilon", "--shape", "a"],
     "shape"),
    (CAL + ["--model", "{tmp}/calls.py:good", "--process", "ou", "--parameterisation", "epsilon", "--shape", "3,"],
     "shape"),
    (CAL + ["--model", "mixture", "--shape", "3"], "shape"),
    (CAL + ["--model", "mixture", "--process", "ou"], "process"),
    (CAL + ["--model", "digits", "--dim", "4"], "dim"),
    (CAL + ["--model", "digits", "--parameterisation", "epsilon"], "parameterisation"),
    (CAL + ["--model", "mixture", "--segments", "0"], "segments"),
    (CAL + ["--model", "mixture", "--samples", "1"], "samples"),
    (CAL + ["--model", "mixture", "--samples", "65536", "--points", "4096"], "samples"),
    (CAL + ["--model", "mixture", "--points", "5000"], "points"),
    (CAL + ["--model", "mixture", "--iters", "0"], "iters"),
    (CAL + ["--model", "mixture", "--quantile", "1.5"], "quantile"),
    (CAL + ["--model", "mixture", "--quantile", "nan"], "quantile"),
    (CAL + ["--model", "mixture", "--bootstrap", "-1"], "bootstrap"),
    (CAL + ["--model", "mixture", "--seed", "-1"], "seed"),
    (CAL + ["--model", "mixture", "--profile", "hessian"], "profile"),
    (CAL + ["--model", "mixture", "--terminal", "one"], "terminal"),
    (CAL + ["--model", "mixture", "--device", "tpu"], "device"),
    (CAL + ["--model", "mixture", "--device", "cuda:7"], "device"),
    (CAL + ["--model", "mixture", "--components", "0"], "components"),
    (CAL + ["--model", "mixture", "--sigma0", "0"], "sigma0"),
    (CAL + ["--model", "mixture", "--beta", "0"], "beta"),
    (CAL + ["--model", "mixture", "--beta", "500"], "horizon"),
    (CAL + ["--model", "mixture", "--means-seed", "-1"], "means-seed"),
    (CAL + ["--model", "mixture", "--box", "0"], "box"),
    (CAL + ["--model", "mixture", "--dim", "0"], "dim"),
    (["calibrate", "--model", "mixture", "--out", "{tmp}/afile"], "out"),
    (["calibrate", "--model", "mixture", "--out", "{tmp}/afile/sub"], "out"),
    (["calibrate", "--model", "mixture"], "out"),
    (["calibrate", "--out", "{tmp}/cal"], "model"),
    (["recommend", "--data", "{tmp}/latents_1col.npy", "--out", "{tmp}/rec", "--steps", "2048",
      "--max-stages", "3"], "max-stages"),
    (["study", "linear-sweep", "--workers", "0", "--out", "{tmp}/st"], "workers"),
    (["study", "linear-sweep", "--workers", "-3", "--out", "{tmp}/st"], "workers"),

    # -- extreme floats: NaN, inf, subnormal, out of the stated ranges
    (["plan", "--lam", "1e-310"], "lam"),
    (["plan", "--lam", "5e-324"], "lam"),
    (["plan", "--lam", "1e-13"], "lam"),
    (["plan", "--lam", "1e13"], "lam"),
    (["plan", "--lam", "1e309"], "lam"),
    (["plan", "--lam", "nan"], "lam"),
    (["plan", "--lam", "inf"], "lam"),
    (["plan", "--lam", "-inf"], "lam"),
    (["plan", "--lam", "0"], "lam"),
    (["plan", "--lam", "-2"], "lam"),
    (["plan", "--budget", "-1"], "budget"),
    (["plan", "--budget", "nan"], "budget"),
    (["plan", "--budget", "inf"], "budget"),
    (["plan", "--variances", "{tmp}/tiny_lam.txt"], "variances"),
    (["plan", "--variances", "{tmp}/huge_lam.txt"], "variances"),
    (["plan", "--variances", "{tmp}/neg_lam.txt"], "variances"),
    (["grid", "--sigma0", "1e-300"], "sigma0"),
    (["grid", "--sigma0", "1e-9"], "sigma0"),
    (["grid", "--sigma0", "1e5"], "sigma0"),
    (["grid", "--sigma0", "0"], "sigma0"),
    (["grid", "--sigma0", "-1"], "sigma0"),
    (["grid", "--sigma0", "nan"], "sigma0"),
    (["grid", "--beta", "1e308"], "beta"),
    (["grid", "--beta", "1e-320"], "beta"),
    (["grid", "--beta", "0"], "beta"),
    (["grid", "--beta", "-2"], "beta"),
    (["grid", "--beta", "inf"], "beta"),
    (["grid", "--horizon", "1000"], "horizon"),
    (["grid", "--horizon", "1e-7"], "horizon"),
    (["grid", "--horizon", "0"], "horizon"),
    (["grid", "--horizon", "nan"], "horizon"),
    (["grid", "--beta", "1e-6", "--kind", "karras"], "horizon"),
    (["grid", "--beta", "1e6", "--kind", "logsnr"], "horizon"),
    (["grid", "--box", "0"], "box"),
    (["grid", "--box", "1e300"], "box"),
    (["grid", "--box", "nan"], "box"),
    (["grid", "--means-seed", "-1"], "means-seed"),
    (["grid", "--means-seed", str(2**32)], "means-seed"),
    (["grid", "--components", "1"], "sigma0"),
    (["grid", "--data", "{tmp}/latents_1e9.npy"], "data"),
    (["grid", "--data", "{tmp}/latents_huge.npy"], "data"),
    (["phase", "--lam-min", "0", "--out", "{tmp}/ph"], "lam-min"),
    (["phase", "--lam-min", "1e-320", "--out", "{tmp}/ph"], "lam-min"),
    (["phase", "--lam-min", "nan", "--out", "{tmp}/ph"], "lam-min"),
    (["phase", "--lam-max", "1e20", "--out", "{tmp}/ph"], "lam-max"),
    (["phase", "--lam-min", "2", "--lam-max", "1", "--out", "{tmp}/ph"], "lam-max"),
    (["phase", "--steps", "8", "--draw-at", "-1", "--out", "{tmp}/ph"], "draw-at"),
    (["phase", "--steps", "8", "--draw-at", "1e-320", "--out", "{tmp}/ph"], "draw-at"),
    (["phase", "--steps", "8", "--draw-at", "0.5,nan", "--out", "{tmp}/ph"], "draw-at"),
    (["export", "--grid", "1,0.5,0", "--beta", "0"], "beta"),
    (["export", "--grid", "1,0.5,0", "--beta", "1e300"], "beta"),
    (["export", "--grid", "1,0.5,0", "--beta", "nan"], "beta"),
    (["export", "--grid", "1e9,0"], "grid"),
    (["export", "--grid", "1,nan,0"], "grid"),
    (["export", "--grid", "1,inf,0"], "grid"),
    (LATENTS + ["--beta", "1e9"], "beta"),
    (LATENTS + ["--horizon", "1000"], "horizon"),
    (LATENTS + ["--budget", "nan"], "budget"),
    (LATENTS + ["--budget", "-1"], "budget"),
    (["study", "linear-sweep", "--engine", "dask", "--scheduler", "tcp://127.0.0.1:1", "--connect-timeout", "-1",
      "--out", "{tmp}/st"], "connect_timeout"),  # the study runner's name for --connect-timeout

    # -- shapes and contents: 2-d arrays, noise-free schedules, empty list items, constant data, empty files
    (["plan", "--variances", "{tmp}/ones33.npy"], "variances"),
    (["plan", "--variances", "{tmp}/latents.npy"], "variances"),
    (["plan", "--schedule", "{tmp}/ones33.npy"], "schedule"),
    (["plan", "--schedule", "{tmp}/alpha_end1.npy", "--lam", "0.5"], "alphas"),
    (["plan", "--schedule", "{tmp}/alpha_up.csv"], "alphas"),
    (["plan", "--schedule", "{tmp}/alpha_start.csv"], "alphas"),
    (["plan", "--schedule", "{tmp}/alpha_long.npy", "--steps", "5"], "schedule"),
    (["phase", "--steps", "8", "--draw-at", "1,,0", "--out", "{tmp}/ph"], "draw-at"),
    (["phase", "--steps", "8", "--draw-at", "0.5,", "--out", "{tmp}/ph"], "draw-at"),
    (["phase", "--steps", "8", "--draw-at", "0.5,x", "--out", "{tmp}/ph"], "draw-at"),
    (["export", "--grid", "1,,0"], "grid"),
    (["export", "--grid", ",1,0"], "grid"),
    (["export", "--grid", "abc"], "grid"),
    (["export", "--grid", ""], "grid"),
    (["export", "--grid", "1,0.5,0.7,0"], "grid"),
    (["export", "--grid", "1,0.5"], "grid"),
    (["export", "--grid", "0,0.5,2", "--convention", "alpha"], "grid"),
    (["export", "--grid", "0.5,0.4,1", "--convention", "alpha"], "grid"),
    (["export", "--grid", "1,0.5,0", "--unsupported"], "unsupported"),
    (["export", "--grid", "8,4.5,0", "--convention", "vp-index", "--steps", "8"], "grid"),
    (["export", "--grid", "8,4,0", "--convention", "vp-index", "--steps", "4"], "grid"),
    (["export", "--grid", "8,4,0", "--convention", "vp-index"], "steps"),
    (["export", "--grid", "[[4,3],[1]]", "--convention", "plan"], "grid"),
    (["export", "--grid", "1,0.5,0", "--convention", "plan"], "grid"),
    (["export", "--grid", "[[4,3],[2,1]]", "--convention", "plan", "--steps", "8"], "grid"),
    (["grid", "--data", "{tmp}/const.npy"], "data"),
    (["grid", "--data", "{tmp}/const_col.npy"], "data"),
    (["recommend", "--data", "{tmp}/const.npy", "--out", "{tmp}/rec"], "data"),
    (["recommend", "--data", "{tmp}/const_col.npy", "--out", "{tmp}/rec"], "data"),
    (["grid", "--data", "{tmp}/empty.npy"], "data"),
    (["grid", "--data", "{tmp}/empty2d.npy"], "data"),
    (["grid", "--data", "{tmp}/zero_bytes.npy"], "data"),
    (["grid", "--data", "{tmp}/empty.csv"], "data"),
    (["grid", "--data", "{tmp}/flat.npy"], "data"),
    (["plan", "--variances", "{tmp}/empty.npy"], "variances"),
    (["plan", "--variances", "{tmp}/zero_bytes.npy"], "variances"),
    (["plan", "--variances", "{tmp}/empty.csv"], "variances"),
    (["plan", "--variances", "{tmp}/folder.npy"], "variances"),
    (["grid", "--data", "{tmp}/folder.npy"], "data"),
    (["plan", "--schedule", "{tmp}/folder.npy"], "schedule"),
    (["plan", "--steps", "4", "--plan", "{tmp}/folder.json"], "plan"),
    (["recommend", "--data", "{tmp}/folder.csv", "--out", "{tmp}/rec"], "data"),
    (["recommend", "--data", "{tmp}/flat.npy", "--out", "{tmp}/rec"], "data"),
    (["recommend", "--data", "{tmp}/latents_few.npy", "--out", "{tmp}/rec"], "data"),
    (["recommend", "--data", "{tmp}/latents_nan.npy", "--out", "{tmp}/rec"], "data"),
    (["recommend", "--data", "{tmp}/latents_tiny.npy", "--out", "{tmp}/rec"], "data"),
    (["recommend", "--data", "{tmp}/latents_huge.npy", "--out", "{tmp}/rec"], "data"),
    (["plan", "--steps", "4", "--strategy", "custom"], "strategy"),
    (["plan", "--steps", "4", "--plan", "[[4,3],[1]]"], "plan"),
    (["plan", "--steps", "4", "--plan", "[[4,3],1]"], "plan"),
    (["plan", "--steps", "4", "--plan", "[[4,3],[2,1]"], "plan"),
    (["plan", "--steps", "4", "--plan", "foo"], "plan"),
    (["plan", "--steps", "8", "--plan", "[[4,3],[2,1]]"], "plan"),

    # -- seeds
    (LATENTS + ["--seed", "-1"], "seed"),
    (LATENTS + ["--seed", str(2**32)], "seed"),
    (["study", "linear-sweep", "--seeds", "a", "--out", "{tmp}/st"], "--seeds"),
    (["study", "linear-sweep", "--seeds", "1,,2", "--out", "{tmp}/st"], "--seeds"),
    (["study", "linear-sweep", "--seeds", "-1", "--out", "{tmp}/st"], "--seeds"),
    (["study", "linear-sweep", "--seeds", "1,1", "--out", "{tmp}/st"], "--seeds"),
    (["study", "model-grids", "--set", "segments=0", "--out", "{tmp}/st"], "segments"),
    (["study", "model-grids", "--set", "segments=4,,8", "--out", "{tmp}/st"], "--set segments"),
    (["study", "model-grids", "--set", "schedule=linear", "--out", "{tmp}/st"], "schedule"),
    (["study", "model-grids", "--set", "samplers=rk9", "--out", "{tmp}/st"], "samplers"),
    (["study", "model-grids", "--set", "fine_points=16", "--out", "{tmp}/st"], "fine_points"),
    (["study", "model-grids", "--set", "gits_coefficient=nan", "--out", "{tmp}/st"], "gits_coefficient"),
    (["study", "model-grids", "--set", "cache_dir={tmp}/afile", "--out", "{tmp}/st"], "cache_dir"),

    # -- malformed and missing files
    (["grid", "--data", "{tmp}/garbage.npy"], "data"),
    (["grid", "--data", "{tmp}/archive.npz"], "data"),
    (["grid", "--data", "{tmp}/archive_named.npy"], "data"),
    (["grid", "--data", "{tmp}/complex.npy"], "data"),
    (["grid", "--data", "{tmp}/bool.npy"], "data"),
    (["grid", "--data", "{tmp}/strings.npy"], "data"),
    (["grid", "--data", "{tmp}/objects.npy"], "data"),
    (["grid", "--data", "{tmp}/text.csv"], "data"),
    (["grid", "--data", "{tmp}/ragged.csv"], "data"),
    (["grid", "--data", "{tmp}/binary.csv"], "data"),
    (["grid", "--data", "{tmp}/missing.npy"], "data"),
    (["grid", "--data", "{tmp}/latents.npy", "--sigma0", "2"], "sigma0"),
    (["grid", "--data", "{tmp}/latents.npy", "--means-seed", "3"], "means-seed"),
    (["plan", "--variances", "{tmp}/garbage.npy"], "variances"),
    (["plan", "--variances", "{tmp}/text.csv"], "variances"),
    (["plan", "--variances", "{tmp}/complex.npy"], "variances"),
    (["plan", "--variances", "{tmp}/archive.npz"], "variances"),
    (["plan", "--variances", "{tmp}/nan.npy"], "variances"),
    (["plan", "--variances", "{tmp}/missing.npy"], "variances"),
    (["plan", "--variances", "{tmp}/afile"], "variances"),
    (["plan", "--schedule", "{tmp}/missing.npy"], "schedule"),
    (["plan", "--schedule", "{tmp}/garbage.npy"], "schedule"),
    (["plan", "--steps", "4", "--plan", "{tmp}/plan_not_list.json"], "plan"),
    (["plan", "--steps", "4", "--plan", "{tmp}/plan_one_child.json"], "plan"),
    (["plan", "--steps", "4", "--plan", "{tmp}/plan_binary.json"], "plan"),
    (["plan", "--steps", "4", "--plan", "{tmp}/plan_malformed.json"], "plan"),
    (["plan", "--steps", "4", "--plan", "{tmp}/plan_no_key.json"], "plan"),
    (["plan", "--steps", "4", "--plan", "{tmp}/plan_bool_steps.json"], "plan"),
    (["plan", "--steps", "8", "--plan", "{tmp}/plan_ok.json"], "plan"),
    (["plan", "--steps", "4", "--plan", "{tmp}/missing.json"], "plan"),
    (["recommend", "--data", "{tmp}/zero_bytes.npy", "--out", "{tmp}/rec"], "data"),
    (["recommend", "--data", "{tmp}/text.csv", "--out", "{tmp}/rec"], "data"),
    (["recommend", "--data", "{tmp}/missing.npy", "--out", "{tmp}/rec"], "data"),
    (["recommend", "--data", "foo", "--out", "{tmp}/rec"], "data"),
    (["recommend", "--data", "folder:{tmp}/missing", "--out", "{tmp}/rec"], "data"),
    (["recommend", "--data", "npy:{tmp}/zero_bytes.npy", "--out", "{tmp}/rec"], "data"),
    (["recommend", "--data", "patches:1", "--out", "{tmp}/rec"], "data"),
    (["recommend", "--data", "celeba:{tmp}/missing", "--out", "{tmp}/rec"], "data"),

    # -- unknown names and wrong types
    (["plan", "--solver", "magic"], "solver"),
    (["plan", "--init", "ema"], "init"),
    (["plan", "--rate", "fast"], "rate"),
    (["plan", "--schedule", "sigmoid"], "schedule"),
    (["plan", "--schedule", "{tmp}/alphas.json"], "schedule"),
    (["plan", "--strategy", "reflow"], "strategy"),
    (["plan", "--lam", "0.5", "--variances", "{tmp}/ten_lams.txt"], "lam"),
    (["plan", "--steps", "abc"], "steps"),
    (["plan", "--steps", "2.5"], "steps"),
    (["plan", "--lam", "abc"], "lam"),
    (["plan", "--lam"], "lam"),
    (["plan", "--bogus"], "bogus"),
    (["plan", "extra"], "arguments"),
    (["plan", "--solver", "dp", "--lam", "1.08", "--steps", "32"], "solver"),
    (["phase", "--steps", "8"], "out"),
    (["phase", "--schedule", "sigmoid", "--out", "{tmp}/ph"], "schedule"),
    (["grid", "--kind", "cosine"], "kind"),
    (["grid", "--segments", "x"], "segments"),
    (["export"], "grid"),
    (["export", "--grid", "1,0", "--convention", "sigma"], "convention"),
    (["export", "--grid", "1,0", "--target", "comfy"], "target"),
    (["export", "--grid", "1,0", "--beta-schedule", "cosine"], "beta-schedule"),
    (["export", "--grid", "8,4,0", "--convention", "vp-index", "--steps", "8", "--schedule", "sigmoid"], "schedule"),
    (["export", "--grid", "[[4,3],[2,1]]", "--convention", "plan", "--target", "k-diffusion"], "target"),
    (["export", "--grid", "1,0.5,0", "--train-steps", "2", "--target", "diffusers-timesteps"], "target"),
    (["report"], "dir"),
    (["recommend", "--out", "{tmp}/rec"], "data"),
    (["recommend", "--data", "{tmp}/latents.npy"], "out"),
    (LATENTS + ["--schedule", "sigmoid"], "schedule"),
    (LATENTS + ["--steps", "1001", "--schedule", "linear"], "steps"),
    (["study"], "name"),
    (["study", "nope", "--out", "{tmp}/st"], "study"),
    (["study", "linear-sweep", "--preset", "huge", "--out", "{tmp}/st"], "preset"),
    (["study", "linear-sweep", "--set", "nope=1", "--out", "{tmp}/st"], "--set"),
    (["study", "linear-sweep", "--set", "steps", "--out", "{tmp}/st"], "--set"),
    (["study", "linear-sweep", "--set", "teacher_steps=abc", "--out", "{tmp}/st"], "--set teacher_steps"),
    (["study", "linear-sweep", "--set", "steps=8", "--out", "{tmp}/st"], "--set"),  # renamed: teacher_steps
    (["study", "linear-sweep", "--set", "teacher_steps=100000", "--out", "{tmp}/st"], "teacher_steps"),
    (["study", "linear-sweep", "--seeds", "99999999999", "--out", "{tmp}/st"], "--seeds"),
    (["study", "stability-grid", "--set", "total_train_steps=1000000000", "--out", "{tmp}/st"], "total_train_steps"),
    (["study", "stability-grid", "--set", "device=tpu", "--out", "{tmp}/st"], "device"),
    (["study", "stability-grid", "--set", "sigma0=1e-300", "--out", "{tmp}/st"], "sigma0"),
    (["study", "stability-grid", "--set", "segments=0", "--out", "{tmp}/st"], "segments"),
    (["study", "score-approx", "--set", "width=100000", "--out", "{tmp}/st"], "width"),
    (["study", "score-approx", "--set", "times=0.5,1.5", "--out", "{tmp}/st"], "times"),
    (["study", "lipschitz-mismatch", "--set", "eval_samples=100000000", "--out", "{tmp}/st"], "eval_samples"),
    (["study", "lipschitz-mismatch", "--set", "delta=2", "--out", "{tmp}/st"], "delta"),
    (["study", "residual-depth", "--set", "heads=3", "--out", "{tmp}/st"], "heads"),
    (["study", "residual-depth", "--set", "dim=100000", "--out", "{tmp}/st"], "dim"),
    (["study", "mixture-merging", "--set", "ks=0", "--out", "{tmp}/st"], "ks"),
    (["study", "mixture-merging", "--set", "anchors=middle", "--out", "{tmp}/st"], "anchors"),
    (["study", "trained-linear", "--set", "lams=1,,2", "--out", "{tmp}/st"], "--set lams"),
    (["study", "trained-linear", "--set", "dtype=half", "--out", "{tmp}/st"], "dtype"),
    (["study", "latents", "--set", "dataset=mnist", "--out", "{tmp}/st"], "dataset"),
    (["study", "latents", "--set", "n_show=1000", "--out", "{tmp}/st"], "n_show"),
    (["study", "linear-sweep", "--set", "tie_rtol=-1", "--out", "{tmp}/st"], "tie_rtol"),
    (["study", "linear-sweep", "--set", "lam=0", "--out", "{tmp}/st"], "lam"),
    (["study", "linear-sweep", "--engine", "spark", "--out", "{tmp}/st"], "engine"),
    (["study", "linear-sweep", "--engine", "dask", "--out", "{tmp}/st"], "scheduler"),
    (["study", "linear-sweep"], "out"),
    ([], "command"),
    (["xyz"], "command"),
    (["--bogus"], "bogus"),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Write every bad (and the few good) input files the table refers to, once; returns their folder."""
    tmp_path = tmp_path_factory.mktemp("bad_input")
    rng = np.random.default_rng(0)
    (tmp_path / "afile").write_text("a plain file")
    for name in ("folder.npy", "folder.json", "folder.csv", "empty_folder", "reportable"):
        (tmp_path / name).mkdir()
    (tmp_path / "reportable" / "table.csv").write_text("a,b\n1,2\n")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o000)
    np.save(tmp_path / "ones33.npy", np.ones((3, 3)))
    np.save(tmp_path / "alpha_end1.npy", np.ones(5))
    np.save(tmp_path / "alpha_long.npy", np.linspace(1.0, 0.0, 5000))
    (tmp_path / "alpha_short.csv").write_text("1,0\n")
    (tmp_path / "alpha_up.csv").write_text("1,0.5,0.7,0\n")
    (tmp_path / "alpha_start.csv").write_text("0.9,0.5,0\n")
    (tmp_path / "alphas.json").write_text("[1, 0.5, 0]")
    np.savetxt(tmp_path / "many_lams.txt", np.geomspace(0.1, 10, 300))
    np.savetxt(tmp_path / "ten_lams.txt", np.geomspace(0.1, 10, 10))
    np.save(tmp_path / "lams_1_1e6.npy", np.full(1_100_000, 0.5))
    (tmp_path / "tiny_lam.txt").write_text("0.5\n1e-310\n")
    (tmp_path / "huge_lam.txt").write_text("0.5\n1e13\n")
    (tmp_path / "neg_lam.txt").write_text("0.5 -1\n")
    np.save(tmp_path / "nan.npy", np.array([0.5, np.nan]))
    np.save(tmp_path / "flat.npy", np.arange(30.0))
    np.save(tmp_path / "const.npy", np.ones((50, 3)))
    np.save(tmp_path / "const_col.npy", np.c_[rng.normal(size=(50, 3)), np.full(50, 2.0)])
    np.save(tmp_path / "empty.npy", np.zeros(0))
    np.save(tmp_path / "empty2d.npy", np.zeros((0, 3)))
    (tmp_path / "zero_bytes.npy").write_bytes(b"")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "garbage.npy").write_bytes(b"not a numpy file")
    np.savez(tmp_path / "archive.npz", a=np.ones(3))
    (tmp_path / "archive_named.npy").write_bytes((tmp_path / "archive.npz").read_bytes())
    np.save(tmp_path / "complex.npy", np.ones(5, dtype=complex))
    np.save(tmp_path / "bool.npy", np.ones((20, 2), dtype=bool))
    np.save(tmp_path / "strings.npy", np.array(["a", "b"]))
    np.save(tmp_path / "objects.npy", np.array([1, "a", None], dtype=object), allow_pickle=True)
    (tmp_path / "text.csv").write_text("a,b\n1,2\n")
    (tmp_path / "ragged.csv").write_text("1,2\n3\n")
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)))
    latents = rng.normal(size=(400, 6)) * np.linspace(0.3, 1.4, 6)
    np.save(tmp_path / "latents.npy", latents)
    np.save(tmp_path / "latents_wide.npy", rng.normal(size=(50, 300)))
    np.save(tmp_path / "latents_1col.npy", rng.normal(size=(50, 1)))
    np.save(tmp_path / "latents_few.npy", rng.normal(size=(5, 3)))
    np.save(tmp_path / "latents_nan.npy", np.array([[0.5, np.nan]] * 20))
    np.save(tmp_path / "latents_tiny.npy", rng.normal(size=(50, 3)) * 1e-8)
    np.save(tmp_path / "latents_huge.npy", rng.normal(size=(50, 3)) * 1e200)
    np.save(tmp_path / "latents_1e9.npy", rng.normal(size=(50, 3)) * 1e9)
    np.save(tmp_path / "latents_1e5.npy", rng.normal(size=(50, 3)) * 1e5)
    (tmp_path / "plan_not_list.json").write_text('{"plan": "x"}')
    (tmp_path / "plan_one_child.json").write_text('{"steps": 4, "plan": [[4,3],[2]]}')
    (tmp_path / "plan_binary.json").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "plan_malformed.json").write_text('{"plan": [[4,3],')
    (tmp_path / "plan_no_key.json").write_text('{"x": 1}')
    (tmp_path / "plan_bool_steps.json").write_text('{"steps": true, "plan": [[4,3],[2,1]]}')
    (tmp_path / "plan_ok.json").write_text('{"steps": 4, "plan": [[4,3],[2,1]]}')
    (tmp_path / "plan_deep.json").write_text("[" * 30000 + "]" * 30000)
    garbage = tmp_path / "phase_garbage"
    garbage.mkdir()
    (garbage / "phase.json").write_text("{not json")
    (garbage / "phase.csv").write_text("lam\n")
    bad_csv = tmp_path / "phase_bad_csv"
    bad_csv.mkdir()
    (bad_csv / "phase.json").write_text('{"steps": 8}')
    (bad_csv / "phase.csv").write_text("a,b\n1,2\n")
    other = tmp_path / "phase_other"
    other.mkdir()
    (other / "phase.json").write_text(json.dumps({"steps": 99}))
    (other / "phase.csv").write_text(",".join(PHASE_COLUMNS) + "\n")
    _model_files(tmp_path)
    yield tmp_path
    locked.chmod(0o700)


def _model_files(root):
    """A tiny diffusers pipeline, broken model folders and a module of callables for the calibrate cases."""
    import diffusers
    import torch

    torch.manual_seed(0)
    unet = diffusers.UNet2DModel(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(8, 16),
                                 layers_per_block=1, down_block_types=("DownBlock2D", "DownBlock2D"),
                                 up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4)
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear")
    diffusers.DDPMPipeline(unet=unet, scheduler=scheduler).save_pretrained(root / "good_model")
    unet.save_pretrained(root / "model_noscheduler")
    (root / "notmodel").mkdir()
    (root / "notmodel" / "config.json").write_text('{"_class_name": "NotAModel"}')
    (root / "calls.py").write_text(
        "import torch\n"
        "def good(x, t):\n    return 0.1 * x\n"
        "def wrong_shape(x, t):\n    return x[:, :2]\n"
        "def nan_out(x, t):\n    return x * float('nan')\n"
        "def raises(x, t):\n    raise ValueError('boom')\n"
        "not_callable = 3\n")


def run_main(argv: list[str], capsys) -> tuple[object, str, str]:
    """``distillplan ARGV`` in-process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def test_the_table_is_large_and_covers_every_command():
    argvs = [c.values[0] if hasattr(c, "values") else c[0] for c in CASES]
    assert len(CASES) >= 150
    assert {a[0] for a in argvs if a} == {"plan", "phase", "grid", "study", "export", "report", "recommend",
                                          "calibrate", "xyz", "--bogus"}


@pytest.mark.parametrize(("argv", "argument"), CASES)
def test_bad_input_is_one_error_line_naming_the_argument(files, capsys, argv, argument):
    code, _, err = run_main([a.replace("{tmp}", str(files)) for a in argv], capsys)
    lines = err.splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: {argument}: "), err
    assert "Traceback" not in err
    assert not (files / "rec").exists() and not (files / "ph").exists()  # validation creates nothing


# ---------------------------------------------------------------------- large but legal: one cost line first
class _Stop(Exception):
    """Raised by a stubbed-out computation: the cost line has been printed, the work would start here."""


def _stop(*args, **kwargs):
    raise _Stop


@pytest.mark.parametrize(("argv", "target", "expected"), [
    (["plan", "--lam", "0.5", "--steps", "4096"], "distillplan.commands.plan.compare_strategies",
     "plan: T = 4096, λ = 0.5: about 55 s"),
    (["plan", "--lam", "1.025", "--steps", "128"], "distillplan.commands.plan.compare_strategies",
     "if λ needs the Pareto DP"),
    (["plan", "--variances", "{tmp}/lams_200.txt", "--steps", "32", "--max-stages", "5"],
     "distillplan.commands.plan.compare_strategies", "plan: T = 32, 200 distinct variances: about"),
    (["plan", "--variances", "{tmp}/lams_16384.npy", "--steps", "64"], "distillplan.commands.plan.compare_strategies",
     "plan: T = 64, 16384 distinct variances: about"),
    (["phase", "--steps", "128", "--points", "20", "--lam-min", "1.01", "--lam-max", "1.05", "--out", "{tmp}/ph"],
     "distillplan.pipelines.phase.run_phase", "phase: 24 planner runs at T = 128"),
    (["grid", "--data", "{tmp}/big.npy"], "distillplan.mixture.fit_isotropic_mixture",
     "grid: fitting a mixture to 20000 x 8 samples: about"),
    (["recommend", "--data", "{tmp}/latents.npy", "--steps", "2048", "--out", "{tmp}/rec"],
     "distillplan.pipelines.recommend.compare_strategies", "recommend: planning for T = 2048 and 6 latent variances"),
])
def test_large_legal_jobs_announce_their_cost_first(files, capsys, monkeypatch, argv, target, expected):
    np.save(files / "big.npy", np.random.default_rng(1).normal(size=(20_000, 8)))
    np.save(files / "lams_16384.npy", np.exp(np.random.default_rng(2).normal(-0.5, 0.8, 16384)))
    np.savetxt(files / "lams_200.txt", np.geomspace(0.05, 5, 200))
    module, name = target.rsplit(".", 1)
    monkeypatch.setattr(importlib.import_module(module), name, _stop)
    with pytest.raises(_Stop):
        cli.main([a.replace("{tmp}", str(files)) for a in argv])
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(argv[0] + ": ") and expected in lines[0], lines
    assert "(estimated from timings on 2 CPU cores)" in lines[0]
    assert not (files / "rec").exists()


def test_small_jobs_print_no_cost_line(capsys):
    cli.main(["plan", "--lam", "0.5", "--steps", "16", "--json"])
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------------- warnings never precede an error
def test_warnings_are_dropped_when_the_command_fails(monkeypatch, capsys):
    def warn_then_fail(*args, **kwargs):
        warnings.warn("overflow encountered", RuntimeWarning)
        raise DistillPlanError("lam", "bad")

    monkeypatch.setattr("distillplan.commands.plan.LinearTeacher", warn_then_fail)
    code, _, err = run_main(["plan", "--lam", "0.5", "--steps", "4"], capsys)
    assert code == 2 and err == "error: lam: bad\n"


def test_warnings_are_shown_after_a_successful_command(monkeypatch, capsys):
    from distillplan.commands import plan as plan_module

    real = plan_module.compare_strategies

    def warn_then_plan(*args, **kwargs):
        warnings.warn("something to know", UserWarning)
        return real(*args, **kwargs)

    monkeypatch.setattr(plan_module, "compare_strategies", warn_then_plan)
    cli.main(["plan", "--lam", "0.5", "--steps", "4", "--json"])
    out, err = capsys.readouterr()
    assert json.loads(out)["steps"] == 4 and "something to know" in err


def test_failed_recommend_creates_nothing(files, capsys):
    out = files / "new" / "rec"
    code, _, err = run_main(["recommend", "--data", str(files / "latents_1e5.npy"), "--out", str(out)], capsys)
    assert code == 2 and err.startswith("error: data: the fitted mixture is unusable")
    assert not (files / "new").exists()
