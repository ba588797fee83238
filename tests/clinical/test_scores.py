"""Scores: the spec's worked examples, boundary tables and hypothesis properties (spec §3)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cds_service.clinical import ClinicalEngine
from cds_service.clinical.scores import (
    ChildPughBands,
    apri,
    apri_band,
    child_pugh_class,
    child_pugh_points,
    elastography_band,
    fib4,
    fib4_band,
    meld_3,
    meld_i,
    meld_na,
)
from tests.clinical.fhir import NOW, WARFARIN, condition, data, lab, medication


@pytest.fixture(scope="module")
def bands(engine: ClinicalEngine) -> ChildPughBands:
    return ChildPughBands.from_config(engine.ruleset.scores["child-pugh"])


@pytest.fixture(scope="module")
def config(engine: ClinicalEngine) -> Any:
    return engine.ruleset.scores


# --- worked examples (clinical-rules-v1 §3) ---------------------------------------------------


def test_meld_worked_example() -> None:
    assert meld_i(1.9, 4.2, 1.2) == 20


def test_meld_na_worked_example() -> None:
    assert meld_i(1.2, 2.5, 1.5) == 16
    assert meld_na(1.2, 2.5, 1.5, 130) == 22


def test_meld_3_worked_examples() -> None:
    assert meld_3(False, 2.5, 135, 1.5, 1.2, 3.0) == 18
    assert meld_3(True, 2.5, 135, 1.5, 1.2, 3.0) == 19


def test_fib4_worked_example() -> None:
    assert fib4(55, 40, 50, 180) == 1.73


def test_apri_worked_example() -> None:
    assert apri(40, 40, 180) == 0.56


# --- clamping ---------------------------------------------------------------------------------


def test_meld_labs_below_one_are_set_to_one() -> None:
    assert meld_i(0.5, 0.3, 0.9) == meld_i(1.0, 1.0, 1.0) == 6.0


def test_meld_creatinine_capped_at_four_and_dialysis() -> None:
    assert meld_i(9.0, 1.0, 1.0) == meld_i(4.0, 1.0, 1.0)
    assert meld_i(1.0, 1.0, 1.0, dialysis=True) == meld_i(4.0, 1.0, 1.0)


def test_meld_maximum_40() -> None:
    assert meld_i(4.0, 60, 9) == 40
    assert meld_na(4.0, 60, 9, 110) == 40


def test_meld_na_only_applied_above_11() -> None:
    low = meld_i(1.0, 1.0, 1.0)
    assert low is not None
    assert low <= 11
    assert meld_na(1.0, 1.0, 1.0, 125) == round(low)


def test_meld_na_sodium_bounded() -> None:
    assert meld_na(1.2, 2.5, 1.5, 100) == meld_na(1.2, 2.5, 1.5, 125)
    assert meld_na(1.2, 2.5, 1.5, 150) == meld_na(1.2, 2.5, 1.5, 137)


def test_meld_3_bounds() -> None:
    assert meld_3(False, 1, 137, 1, 1, 3.5) == 6
    assert meld_3(False, 2.5, 135, 1.5, 9.0, 3.0) == meld_3(False, 2.5, 135, 1.5, 3.0, 3.0)
    assert meld_3(False, 2.5, 135, 1.5, 1.2, 0.5) == meld_3(False, 2.5, 135, 1.5, 1.2, 1.5)
    assert meld_3(True, 50, 110, 8, 3, 1.5) == 40


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan])
def test_formulas_refuse_unusable_inputs(bad: float) -> None:
    assert meld_i(bad, 1.0, 1.0) is None
    assert fib4(50, 40, bad, 180) is None
    assert apri(40, 40, bad) is None


# --- boundary tables --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bilirubin", "points"), [(1.99, 1), (2.0, 2), (2.01, 2), (2.99, 2), (3.0, 2), (3.01, 3)]
)
def test_child_pugh_bilirubin_boundaries(
    bands: ChildPughBands, bilirubin: float, points: int
) -> None:
    assert child_pugh_points(bilirubin, 4.0, 1.0, 1, 1, bands) == 4 + points


@pytest.mark.parametrize(
    ("albumin", "points"), [(3.51, 1), (3.5, 2), (3.49, 2), (2.81, 2), (2.8, 2), (2.79, 3)]
)
def test_child_pugh_albumin_boundaries(bands: ChildPughBands, albumin: float, points: int) -> None:
    assert child_pugh_points(1.0, albumin, 1.0, 1, 1, bands) == 4 + points


@pytest.mark.parametrize(
    ("inr", "points"), [(1.69, 1), (1.7, 2), (1.71, 2), (2.29, 2), (2.3, 2), (2.31, 3)]
)
def test_child_pugh_inr_boundaries(bands: ChildPughBands, inr: float, points: int) -> None:
    assert child_pugh_points(1.0, 4.0, inr, 1, 1, bands) == 4 + points


@pytest.mark.parametrize(
    ("points", "cls"), [(5, "A"), (6, "A"), (7, "B"), (9, "B"), (10, "C"), (15, "C")]
)
def test_child_pugh_classes(bands: ChildPughBands, points: int, cls: str) -> None:
    assert child_pugh_class(points, bands) == cls


@pytest.mark.parametrize(
    ("value", "age", "band"),
    [
        (1.29, 50, "low"),
        (1.30, 50, "indeterminate"),
        (1.31, 50, "indeterminate"),
        (2.66, 50, "indeterminate"),
        (2.67, 50, "indeterminate"),
        (2.68, 50, "high"),
        (1.99, 65, "low"),
        (2.0, 65, "indeterminate"),
        (2.01, 65, "indeterminate"),
        (1.99, 64, "indeterminate"),
        (2.68, 70, "high"),
    ],
)
def test_fib4_bands(config: Any, value: float, age: int, band: str) -> None:
    assert fib4_band(value, age, config["fib-4"]) == band


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (0.49, "significant fibrosis unlikely"),
        (0.5, "significant fibrosis unlikely"),
        (0.51, "indeterminate"),
        (1.5, "indeterminate"),
        (1.51, "significant fibrosis likely"),
        (2.0, "significant fibrosis likely"),
        (2.01, "cirrhosis likely"),
    ],
)
def test_apri_bands(config: Any, value: float, band: str) -> None:
    assert apri_band(value, config["apri"]) == band


@pytest.mark.parametrize(
    ("kpa", "band", "flag"),
    [
        (7.9, "low risk", "rules out"),
        (8.0, "intermediate", "rules out"),
        (9.9, "intermediate", "rules out"),
        (10.0, "intermediate", None),
        (12.0, "intermediate", None),
        (12.1, "high risk", None),
        (14.9, "high risk", None),
        (15.0, "high risk", "highly suggestive"),
        (24.9, "high risk", "highly suggestive"),
        (25.0, "high risk", "portal hypertension"),
    ],
)
def test_elastography_bands(config: Any, kpa: float, band: str, flag: str | None) -> None:
    got, flags = elastography_band(kpa, config["elastography"])
    assert got == band
    if flag is None:
        assert flags == ()
    else:
        assert any(flag in f for f in flags)


# --- score results from FHIR ------------------------------------------------------------------


def scores_of(engine: ClinicalEngine, *resources: Any, sex: str = "male") -> dict[str, Any]:
    assessment = engine.evaluate(data(*resources, sex=sex), NOW)
    return {s.id: s for s in assessment.scores}


def test_meld_scores_from_fhir_match_worked_examples(engine: ClinicalEngine) -> None:
    labs = [
        lab("creatinine", 1.2),
        lab("bilirubin", 2.5),
        lab("inr", 1.5),
        lab("sodium", 135),
        lab("albumin", 3.0),
    ]
    male = scores_of(engine, *labs)
    female = scores_of(engine, *labs, sex="female")
    assert male["meld-3.0"].value == 18
    assert female["meld-3.0"].value == 19
    na130 = scores_of(
        engine, lab("creatinine", 1.2), lab("bilirubin", 2.5), lab("inr", 1.5), lab("sodium", 130)
    )
    assert na130["meld-na"].value == 22
    assert na130["meld"].value == 16


def test_score_inputs_carry_clamping_date_and_resource(engine: ClinicalEngine) -> None:
    scores = scores_of(
        engine,
        lab("creatinine", 0.6, 5, rid="cr"),
        lab("bilirubin", 2.5, 20),
        lab("inr", 1.5),
        lab("sodium", 150),
    )
    meld_na_score = scores["meld-na"]
    inputs = {i.name: i for i in meld_na_score.inputs}
    assert inputs["creatinine"].value == 1.0
    assert inputs["creatinine"].clamped_from == 0.6
    assert inputs["creatinine"].evidence is not None
    assert inputs["creatinine"].evidence.resource_ref == "Observation/cr"
    assert inputs["sodium"].value == 137
    assert inputs["sodium"].clamped_from == 150
    assert meld_na_score.inputs_date == (NOW.date().fromordinal(NOW.date().toordinal() - 20))
    assert "Gastroenterology" in scores["meld-3.0"].citation or scores["meld-3.0"].value is None


def test_child_pugh_is_estimated_and_uses_coded_ascites(engine: ClinicalEngine) -> None:
    labs = [lab("bilirubin", 1.0), lab("albumin", 4.0), lab("inr", 1.1)]
    plain = scores_of(engine, *labs)["child-pugh"]
    assert plain.value == 5
    assert plain.band == "A"
    assert plain.estimated
    with_ascites = scores_of(engine, *labs, condition("R18.8"))["child-pugh"]
    assert with_ascites.value == 6
    assert any(i.name == "ascites" and i.value == 2 for i in with_ascites.inputs)


def test_child_pugh_not_computed_from_inr_on_anticoagulation(engine: ClinicalEngine) -> None:
    labs = [lab("bilirubin", 1.0), lab("albumin", 4.0), lab("inr", 2.6)]
    cp = scores_of(engine, *labs, medication(WARFARIN))["child-pugh"]
    assert cp.value is None
    assert "INR" in cp.missing
    assert any("anticoagulation" in f for f in cp.flags)
    cp_z79 = scores_of(engine, *labs, condition("Z79.01"))["child-pugh"]
    assert cp_z79.value is None


def test_fib4_age_flags(engine: ClinicalEngine) -> None:
    labs = [lab("ast", 40), lab("alt", 50), lab("platelets", 180)]
    young = engine.evaluate(
        data(
            *labs,
            pat={
                "resourceType": "Patient",
                "id": "p1",
                "gender": "male",
                "birthDate": "2000-01-01",
            },
        ),
        NOW,
    )
    fib = next(s for s in young.scores if s.id == "fib-4")
    assert any("unreliable under 35" in f for f in fib.flags)
    old = engine.evaluate(
        data(
            *labs,
            pat={
                "resourceType": "Patient",
                "id": "p1",
                "gender": "male",
                "birthDate": "1950-01-01",
            },
        ),
        NOW,
    )
    fib_old = next(s for s in old.scores if s.id == "fib-4")
    assert any("65" in f for f in fib_old.flags)


def test_fib4_from_fhir_worked_example(engine: ClinicalEngine) -> None:
    # Born 1971-06-01: 55 years old on 2026-11-01.
    pat = {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1971-06-01"}
    assessment = engine.evaluate(
        data(lab("ast", 40), lab("alt", 50), lab("platelets", 180), pat=pat), NOW
    )
    fib = next(s for s in assessment.scores if s.id == "fib-4")
    assert fib.value == 1.73
    assert fib.band == "indeterminate"


def test_apri_uses_lab_uln_else_flagged_default(engine: ClinicalEngine) -> None:
    with_range = scores_of(engine, lab("ast", 40, ref_high=40), lab("platelets", 180))["apri"]
    assert with_range.value == 0.56
    assert with_range.flags == ()
    without = scores_of(engine, lab("ast", 80), lab("platelets", 180))["apri"]
    assert without.value == 1.11
    assert any("default" in f for f in without.flags)


# --- properties -------------------------------------------------------------------------------

labs_mg = st.floats(min_value=0.01, max_value=80, allow_nan=False)
inr_values = st.floats(min_value=0.5, max_value=12, allow_nan=False)
sodium_values = st.floats(min_value=100, max_value=170, allow_nan=False)
albumin_values = st.floats(min_value=0.5, max_value=7, allow_nan=False)


@given(labs_mg, labs_mg, inr_values)
def test_meld_finite_and_in_range(cr: float, bili: float, inr: float) -> None:
    value = meld_i(cr, bili, inr)
    assert value is not None
    assert math.isfinite(value)
    assert 6.0 <= value <= 40


@given(labs_mg, labs_mg, inr_values, sodium_values)
def test_meld_na_finite_and_in_range(cr: float, bili: float, inr: float, na: float) -> None:
    value = meld_na(cr, bili, inr, na)
    assert value is not None
    assert 6 <= value <= 40


@given(st.booleans(), labs_mg, sodium_values, inr_values, labs_mg, albumin_values)
def test_meld_3_finite_and_in_range(
    female: bool, bili: float, na: float, inr: float, cr: float, alb: float
) -> None:
    value = meld_3(female, bili, na, inr, cr, alb)
    assert value is not None
    assert 6 <= value <= 40


@given(labs_mg, labs_mg, labs_mg, inr_values)
def test_meld_monotonic_in_bilirubin(cr: float, bili: float, extra: float, inr: float) -> None:
    low, high = meld_i(cr, bili, inr), meld_i(cr, bili + extra, inr)
    assert low is not None
    assert high is not None
    assert high >= low


@given(labs_mg, labs_mg, inr_values, st.floats(min_value=0, max_value=5))
def test_meld_monotonic_in_inr(cr: float, bili: float, inr: float, extra: float) -> None:
    low, high = meld_i(cr, bili, inr), meld_i(cr, bili, inr + extra)
    assert low is not None
    assert high is not None
    assert high >= low


@given(labs_mg, labs_mg, inr_values, sodium_values, st.floats(min_value=0, max_value=30))
def test_meld_na_monotonic_in_low_sodium(
    cr: float, bili: float, inr: float, na: float, drop: float
) -> None:
    higher_na, lower_na = meld_na(cr, bili, inr, na), meld_na(cr, bili, inr, na - drop)
    assert higher_na is not None
    assert lower_na is not None
    assert lower_na >= higher_na


ages = st.integers(min_value=18, max_value=100)
enzymes = st.floats(min_value=1, max_value=5000, allow_nan=False)
platelet_counts = st.floats(min_value=1, max_value=1500, allow_nan=False)


@given(ages, enzymes, enzymes, platelet_counts)
def test_fib4_finite_and_positive(age: int, ast: float, alt: float, plt: float) -> None:
    value = fib4(age, ast, alt, plt)
    assert value is not None
    assert math.isfinite(value)
    assert value >= 0


@given(ages, enzymes, enzymes, platelet_counts, st.floats(min_value=0, max_value=500))
def test_fib4_monotonic_in_ast_and_falling_platelets(
    age: int, ast: float, alt: float, plt: float, extra: float
) -> None:
    base = fib4(age, ast, alt, plt)
    more_ast = fib4(age, ast + extra, alt, plt)
    more_plt = fib4(age, ast, alt, plt + extra)
    assert base is not None
    assert more_ast is not None
    assert more_plt is not None
    assert more_ast >= base >= more_plt


@given(enzymes, enzymes, platelet_counts)
def test_apri_finite(ast: float, uln: float, plt: float) -> None:
    value = apri(ast, uln, plt)
    assert value is not None
    assert math.isfinite(value)


@given(
    st.floats(min_value=0.3, max_value=40, allow_nan=False),
    st.floats(min_value=0.4, max_value=3.5, allow_nan=False),
    st.floats(min_value=0.3, max_value=25, allow_nan=False),
    st.floats(min_value=120, max_value=150, allow_nan=False),
    st.floats(min_value=1.0, max_value=6.0, allow_nan=False),
)
def test_same_scores_in_si_and_conventional_units(
    bili_mg: float, inr: float, cr_mg: float, na: float, alb_gdl: float
) -> None:
    engine = _ENGINE
    conventional = [
        lab("bilirubin", bili_mg),
        lab("creatinine", cr_mg),
        lab("inr", inr),
        lab("sodium", na),
        lab("albumin", alb_gdl),
    ]
    si = [
        lab("bilirubin-si", bili_mg * 17.1),
        lab("creatinine", cr_mg * 88.4, unit="umol/L"),
        lab("inr", inr),
        lab("sodium", na),
        lab("albumin", alb_gdl * 10, unit="g/L"),
    ]
    a = {s.id: s.value for s in engine.evaluate(data(*conventional), NOW).scores}
    b = {s.id: s.value for s in engine.evaluate(data(*si), NOW).scores}
    assert a == b


_ENGINE = ClinicalEngine.load()


@given(labs_mg, labs_mg, sodium_values, inr_values, labs_mg, albumin_values)
def test_meld_3_monotonic_in_bilirubin_and_creatinine(
    bili: float, extra: float, na: float, inr: float, cr: float, alb: float
) -> None:
    base = meld_3(False, bili, na, inr, cr, alb)
    more_bili = meld_3(False, bili + extra, na, inr, cr, alb)
    more_cr = meld_3(False, bili, na, inr, cr + extra, alb)
    female = meld_3(True, bili, na, inr, cr, alb)
    assert base is not None
    assert more_bili is not None
    assert more_cr is not None
    assert female is not None
    assert more_bili >= base
    assert more_cr >= base
    assert female >= base


@given(
    st.floats(min_value=0.1, max_value=40, allow_nan=False),
    st.floats(min_value=0.5, max_value=7, allow_nan=False),
    inr_values,
    st.integers(min_value=1, max_value=3),
    st.integers(min_value=1, max_value=3),
    st.floats(min_value=0, max_value=10, allow_nan=False),
)
def test_child_pugh_range_and_monotonic(
    bili: float, alb: float, inr: float, ascites: int, he: int, delta: float
) -> None:
    bands = ChildPughBands.from_config(_ENGINE.ruleset.scores["child-pugh"])
    points = child_pugh_points(bili, alb, inr, ascites, he, bands)
    assert 5 <= points <= 15
    assert child_pugh_class(points, bands) in {"A", "B", "C"}
    assert child_pugh_points(bili + delta, alb, inr, ascites, he, bands) >= points
    assert child_pugh_points(bili, alb, inr + delta, ascites, he, bands) >= points
    assert child_pugh_points(bili, max(alb - delta, 0.1), inr, ascites, he, bands) >= points
