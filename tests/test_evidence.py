"""Which grid serves which use: the support rule on constructed tables, the packaged document, and the card's
refusal to hand an unsupported grid to a sampler."""

from __future__ import annotations

import math

import numpy as np
import pytest

from distillplan.errors import DistillPlanError
from distillplan.evidence import (
    STANDARD,
    TOLERANCE,
    USES,
    describe_uses,
    evidence_for,
    load,
    segment_advice,
    suggested_segments,
    summarise,
    supported_uses,
)
from distillplan.export.card import card_export, make_card, sampling_supported
from distillplan.models.processes import DiscreteVP


def _doc(values: dict) -> dict:
    """``values[(model, use, schedule)] = {n: relmse}`` as a packaged document."""
    rows = [{"model": m, "use": u, "schedule": s, "segments": n, "relmse": v, "relmse_std": 0.0, "fd": 10 * v, "fd_teacher": 1.0,
             "nfe": n, "seeds": 1} for (m, u, s), series in values.items() for n, v in series.items()]
    return summarise({"comparison": rows}, "constructed", "test machine")


STANDARD_SERIES = {"uniform": {4: 1.0, 8: 0.5, 16: 0.3}, "logsnr": {4: 0.8, 8: 0.6, 16: 0.2},
                   "karras": {4: 0.9, 8: 0.4, 16: 0.25}}  # best per n: logsnr 0.8, karras 0.4, logsnr 0.2


def _with(schedule_series: dict, use="sampler:euler", model="digits") -> dict:
    values = {(model, use, s): v for s, v in STANDARD_SERIES.items()}
    values[(model, use, "calibrated")] = schedule_series
    return _doc(values)


@pytest.mark.parametrize("series, wins, supported", [
    ({4: 0.7, 8: 0.39, 16: 0.5}, 2, True),      # better at 4 and 8
    ({4: 0.88, 8: 0.44, 16: 0.22}, 3, True),    # within 10 % everywhere (0.8, 0.4, 0.2 are the best)
    ({4: 0.9, 8: 0.39, 16: 0.23}, 1, False),    # one of three: 0.9 > 1.1 · 0.8, 0.23 > 1.1 · 0.2
    ({4: 2.0, 8: 2.0, 16: 2.0}, 0, False),
])
def test_support_needs_the_best_standard_schedule_matched_at_a_majority_of_step_counts(series, wins, supported):
    assert TOLERANCE == 1.10
    ev = evidence_for("calibrated", "sampler:euler", _with(series))
    assert (ev.wins, ev.measured, ev.supported) == (wins, 3, supported)
    assert ("not supported" in ev.line) is (not supported)
    assert "rank" in ev.line and "n = 8" in ev.line


def test_support_is_decided_on_the_reference_model_only():
    doc = _with({4: 9.0, 8: 9.0, 16: 9.0})
    values = {("mixture", "sampler:euler", s): {4: 1.0, 8: 1.0, 16: 1.0} for s in STANDARD}
    values[("mixture", "sampler:euler", "calibrated")] = {4: 0.1, 8: 0.1, 16: 0.1}
    doc["rows"] += _doc(values)["rows"]
    ev = evidence_for("calibrated", "sampler:euler", doc)
    assert not ev.supported and "mixture: relMSE 0.1 (rank 1 of 4" in ev.line


def test_an_unmeasured_use_is_not_offered():
    ev = evidence_for("calibrated", "students", _with({4: 0.1, 8: 0.1, 16: 0.1}))
    assert not ev.supported and "not measured" in ev.line
    with pytest.raises(DistillPlanError, match="use"):
        evidence_for("calibrated", "sampler:unknown", _with({4: 0.1}))


def test_describe_uses_lists_every_use_once():
    doc = _with({4: 0.1, 8: 0.1, 16: 0.1})
    described = describe_uses("calibrated", doc)
    assert described["supported"] == ["sampler:euler"] == supported_uses("calibrated", doc)
    assert sorted(described["supported"] + described["not_supported"]) == sorted(USES)
    assert set(described["evidence"]) == set(USES) and "constructed" in described["source"]


def test_segment_advice_reports_where_the_error_stops_falling():
    doc = _with({4: 0.5, 8: 0.2, 16: 0.3}, use="students")
    (line,) = segment_advice("calibrated", "students", doc)
    assert line.startswith("digits: lowest relMSE at n = 8 (rising again after n = 8")
    (line,) = segment_advice("uniform", "students", doc)
    assert "n = 16 (still falling" in line


@pytest.mark.parametrize("A, share, n", [(0.0, 1.0, 1), (5.85, 1.0, 6), (6.0, 1.0, 6), (6.0, 0.5, 12), (0.3, 1.0, 1)])
def test_suggested_segments_is_the_ceiling_of_the_share(A, share, n):
    assert suggested_segments(A, share) == n == max(1, math.ceil(A / share))


@pytest.mark.parametrize("A", [math.nan, math.inf, -1.0])
def test_suggested_segments_rejects_bad_totals(A):
    with pytest.raises(DistillPlanError, match="A_total"):
        suggested_segments(A)


def test_packaged_document_covers_every_schedule_use_and_model():
    doc = load()
    keys = {(r["model"], r["use"], r["schedule"]) for r in doc["rows"]}
    schedules = {k[2] for k in keys}
    assert {"uniform", "logsnr", "karras", "calibrated", "acceleration", "gits", "oss", "mixture-stability"} <= schedules
    for model in ("digits", "mixture"):
        for use in USES:
            assert {(model, use, s) for s in schedules} <= keys
    assert all(np.isfinite(r["fd_teacher"]) for r in doc["rows"])
    assert all(r["relmse"] >= 0 for r in doc["rows"])
    for schedule in schedules:  # a standard schedule is supported exactly where it is the best standard one
        described = describe_uses(schedule)
        assert sorted(described["supported"] + described["not_supported"]) == sorted(USES)


def _card(uses):
    process = DiscreteVP.from_betas()
    return make_card(np.array([999.0, 400.0, 100.0, 0.0]), process, what_for="test", evidence="constructed",
                     model="m", parameterisation="epsilon", uses=uses)


def test_card_refuses_sampler_exports_of_a_grid_supported_for_no_sampler():
    doc = _with({4: 9.0, 8: 9.0, 16: 9.0})
    card = _card(describe_uses("calibrated", doc))
    assert sampling_supported(card) is False
    with pytest.raises(DistillPlanError, match="do not support this grid for any sampler"):
        card_export(card, "diffusers-sigmas")
    assert len(card_export(card, "diffusers-sigmas", unsupported=True)) == 4
    assert card_export(card, "json")["uses"]["supported"] == []


def test_card_exports_a_grid_supported_for_a_sampler_and_cards_without_uses():
    card = _card(describe_uses("calibrated", _with({4: 0.1, 8: 0.1, 16: 0.1})))
    assert sampling_supported(card) is True and len(card_export(card, "k-diffusion")) == 4
    assert sampling_supported(_card(None)) is None and len(card_export(_card(None), "k-diffusion")) == 4
