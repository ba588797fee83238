"""Boundary tables for every window and the remaining thresholds: just below, at, just above.

Windows count whole calendar days: a result dated exactly N days ago is "within N days".
"""

from __future__ import annotations

import pytest

from cds_service.clinical import ClinicalEngine
from cds_service.clinical.model import Status
from tests.clinical.fhir import (
    URSODIOL,
    condition,
    elevated_alt,
    lab,
    masld_candidate,
    medication,
    observation,
    panel,
    patient,
)
from tests.clinical.helpers import evaluate, status, workup

MET, NOT_MET, UNKNOWN = Status.MET, Status.NOT_MET, Status.UNKNOWN


@pytest.mark.parametrize(("days", "stale"), [(89, False), (90, False), (91, True)])
def test_liver_panel_window_90_days(engine: ClinicalEngine, days: int, stale: bool) -> None:
    resources = [r for r in masld_candidate() if r["code"]["coding"][0]["code"] != "2324-2"]
    a = evaluate(engine, *resources, lab("ggt", 20, days))
    assert (workup(a, "workup.ggt") is not None) is stale


@pytest.mark.parametrize(("days", "expected"), [(182, NOT_MET), (183, NOT_MET), (184, UNKNOWN)])
def test_viral_load_window_6_months(engine: ClinicalEngine, days: int, expected: Status) -> None:
    a = evaluate(engine, *masld_candidate(), condition("B18.1"), lab("hbv-dna", 100, days))
    assert status(a, "exclusion.active-viral-hepatitis") is expected


@pytest.mark.parametrize(("days", "expected"), [(364, MET), (365, MET), (366, NOT_MET)])
def test_hcv_rna_exclusion_window_12_months(
    engine: ClinicalEngine, days: int, expected: Status
) -> None:
    a = evaluate(engine, *masld_candidate(), lab("hcv-rna", 5000, days))
    assert status(a, "exclusion.active-viral-hepatitis") is expected


@pytest.mark.parametrize(("days", "expected"), [(364, UNKNOWN), (365, UNKNOWN), (366, NOT_MET)])
def test_elastography_window_12_months(engine: ClinicalEngine, days: int, expected: Status) -> None:
    # Stiffness 20 kPa means cirrhosis: MELD-Na then needed (no creatinine here -> unknown).
    a = evaluate(engine, *masld_candidate(), lab("liver-stiffness", 20, days))
    assert status(a, "exclusion.meld-na") is expected


@pytest.mark.parametrize(("kpa", "expected"), [(14.9, NOT_MET), (15.0, UNKNOWN), (15.1, UNKNOWN)])
def test_stiffness_15_kpa_means_cirrhosis(
    engine: ClinicalEngine, kpa: float, expected: Status
) -> None:
    a = evaluate(engine, *masld_candidate(), lab("liver-stiffness", kpa, 30))
    assert status(a, "exclusion.meld-na") is expected


@pytest.mark.parametrize(("first_days", "expected"), [(182, MET), (183, MET), (184, NOT_MET)])
def test_persistence_window_6_months(
    engine: ClinicalEngine, first_days: int, expected: Status
) -> None:
    a = evaluate(engine, condition("K76.0"), lab("alt", 80, first_days), *panel(10, alt=80))
    assert status(a, "indication.masld-alt") is expected


@pytest.mark.parametrize(
    ("sex", "alt", "expected"),
    [("male", 32, NOT_MET), ("male", 33, NOT_MET), ("male", 34, MET),
     ("female", 24, NOT_MET), ("female", 25, NOT_MET), ("female", 26, MET)],
)  # fmt: skip
def test_alt_uln_boundaries(engine: ClinicalEngine, sex: str, alt: float, expected: Status) -> None:
    a = evaluate(engine, condition("K76.0"), lab("alt", alt, 70), *panel(10, alt=alt), sex=sex)
    assert status(a, "indication.masld-alt") is expected


@pytest.mark.parametrize(("after_days", "expected"), [(89, NOT_MET), (90, MET), (91, MET)])
def test_post_covid_90_days_after_infection(
    engine: ClinicalEngine, after_days: int, expected: Status
) -> None:
    infection = 120
    newest = infection - after_days
    a = evaluate(
        engine,
        condition("U07.1", onset_days=infection),
        lab("alt", 80, newest + 40),
        *panel(newest, alt=80),
    )
    assert status(a, "indication.post-covid") is expected


@pytest.mark.parametrize(("gap", "expected"), [(83, NOT_MET), (84, MET), (85, MET)])
def test_hcv_svr_12_weeks(engine: ClinicalEngine, gap: int, expected: Status) -> None:
    a = evaluate(
        engine,
        condition("B18.2"),
        lab("hcv-rna", 90000, 20 + gap),
        observation("11011-4", days=20, value_string="Not detected"),
        *elevated_alt(),
        *panel(10, alt=80),
    )
    assert status(a, "indication.viral-survivor") is expected


@pytest.mark.parametrize(("udca_days", "expected"), [(182, NOT_MET), (183, MET), (184, MET)])
def test_udca_6_months(engine: ClinicalEngine, udca_days: int, expected: Status) -> None:
    a = evaluate(
        engine,
        condition("K74.3"),
        medication(URSODIOL, start_days=udca_days),
        lab("alp", 250, ref_high=100),
        *panel(10),
    )
    assert status(a, "indication.pbc-udca") is expected


@pytest.mark.parametrize(("birth", "flagged"), [("1991-11-02", True), ("1991-11-01", False)])
def test_fib4_unreliable_under_35(engine: ClinicalEngine, birth: str, flagged: bool) -> None:
    a = evaluate(engine, *masld_candidate(), pat=patient("male", birth))
    fib = next(s for s in a.scores if s.id == "fib-4")
    assert any("unreliable" in f for f in fib.flags) is flagged


@pytest.mark.parametrize(
    ("bilirubin", "albumin", "points", "expected"),
    [(0.7, 3.4, 6, MET), (2.5, 3.2, 7, MET), (2.5, 2.7, 8, NOT_MET)],
)
def test_cirrhosis_child_pugh_6_7_8(
    engine: ClinicalEngine, bilirubin: float, albumin: float, points: int, expected: Status
) -> None:
    a = evaluate(
        engine,
        condition("K74.60"),
        *panel(10, bilirubin=bilirubin, albumin=albumin),
        lab("creatinine", 1.0),
        lab("sodium", 137),
    )
    assert next(s for s in a.scores if s.id == "child-pugh").value == points
    assert status(a, "indication.cirrhosis-child-pugh") is expected


def test_results_the_same_whatever_the_hour_of_the_hook(engine: ClinicalEngine) -> None:
    from datetime import timedelta

    from tests.clinical.fhir import NOW, data

    resources = [*masld_candidate(), lab("ggt", 20, 90)]
    early = engine.evaluate(data(*resources), NOW.replace(hour=0, minute=1))
    late = engine.evaluate(data(*resources), NOW.replace(hour=23, minute=59))
    assert early.outcome is late.outcome
    assert [(r.id, r.status) for r in early.rules] == [(r.id, r.status) for r in late.rules]
    assert timedelta(0) < late.evaluated_at - early.evaluated_at
