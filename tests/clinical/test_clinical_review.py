"""Regression tests from the clinical-correctness review against clinical-rules-v1.md.

Each test names the spec clause it checks; each failed before the fix it accompanies.
"""

from __future__ import annotations

from cds_service.clinical import ClinicalEngine
from cds_service.clinical.model import Outcome, Status
from tests.clinical.fhir import (
    condition,
    elevated_alt,
    lab,
    masld_candidate,
    medication,
    observation,
    panel,
)
from tests.clinical.helpers import evaluate, rule, status

MET, NOT_MET, UNKNOWN = Status.MET, Status.NOT_MET, Status.UNKNOWN
ENTECAVIR = "306266"


# §4.2 "active viral hepatitis: HCV RNA detectable within 12 months; HBV DNA > 2,000 IU/mL within
# 6 months". Any such result in the window excludes: a newer undetectable / low result does not
# clear it (it may be an on-treatment value, not a cure).


def test_hcv_rna_detectable_within_12_months_excludes_despite_newer_undetectable(
    engine: ClinicalEngine,
) -> None:
    a = evaluate(
        engine,
        *masld_candidate(),
        condition("B18.2"),
        lab("hcv-rna", 50000, 60),
        observation("11011-4", days=10, value_string="Not detected"),
    )
    assert status(a, "exclusion.active-viral-hepatitis") is MET
    assert a.outcome is Outcome.EXCLUDED


def test_hcv_rna_detectable_over_12_months_ago_does_not_exclude(engine: ClinicalEngine) -> None:
    a = evaluate(
        engine,
        *masld_candidate(),
        condition("B18.2"),
        lab("hcv-rna", 50000, 400),
        observation("11011-4", days=10, value_string="Not detected"),
    )
    assert status(a, "exclusion.active-viral-hepatitis") is NOT_MET


def test_hbv_dna_above_2000_within_6_months_excludes_despite_newer_lower_value(
    engine: ClinicalEngine,
) -> None:
    a = evaluate(
        engine,
        *masld_candidate(),
        condition("B18.1"),
        medication(ENTECAVIR),
        lab("hbv-dna", 50000, 60),
        lab("hbv-dna", 1500, 10),
    )
    assert status(a, "exclusion.active-viral-hepatitis") is MET
    assert a.outcome is Outcome.EXCLUDED


def test_hbv_dna_above_2000_over_6_months_ago_does_not_exclude(engine: ClinicalEngine) -> None:
    a = evaluate(
        engine,
        *masld_candidate(),
        condition("B18.1"),
        lab("hbv-dna", 50000, 200),
        lab("hbv-dna", 1500, 10),
    )
    assert status(a, "exclusion.active-viral-hepatitis") is NOT_MET


# §4.4 cirrhosis path: '"early B" = score 7 with no decompensation event'. The spec puts no time
# limit on the event: a resolved ascites two years ago is a decompensation event.


def _cirrhosis_child_pugh_7(*extra: dict[str, object]) -> list[dict[str, object]]:
    # bilirubin 2.5 (2) + albumin 3.2 (2) + INR 1.0 (1) + no active ascites (1) + no HE (1) = 7
    return [
        condition("K74.60"),
        *elevated_alt(),
        *panel(10, alt=80, bilirubin=2.5, albumin=3.2),
        lab("creatinine", 0.9, 10),
        lab("sodium", 138, 10),
        *extra,  # type: ignore[list-item]
    ]


def test_early_b_excludes_a_decompensation_event_older_than_12_months(
    engine: ClinicalEngine,
) -> None:
    old_ascites = condition("R18.8", clinical="resolved", onset_days=900, abatement_days=700)
    a = evaluate(engine, *_cirrhosis_child_pugh_7(old_ascites))  # type: ignore[arg-type]
    assert next(s for s in a.scores if s.id == "child-pugh").value == 7
    assert status(a, "exclusion.decompensation") is NOT_MET  # outside the 12-month exclusion
    r = rule(a, "indication.cirrhosis-child-pugh")
    assert r.status is NOT_MET
    assert "decompensation" in r.reason
    assert a.outcome is Outcome.DOES_NOT_MEET


def test_early_b_without_any_decompensation_event_still_meets(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *_cirrhosis_child_pugh_7())  # type: ignore[arg-type]
    assert status(a, "indication.cirrhosis-child-pugh") is MET


def test_child_pugh_a_with_old_decompensation_event_still_meets(engine: ClinicalEngine) -> None:
    # The spec's "no decompensation event" qualifies early B only; Child-Pugh A is unaffected.
    old_ascites = condition("R18.8", clinical="resolved", onset_days=900, abatement_days=700)
    a = evaluate(
        engine,
        condition("K74.60"),
        *elevated_alt(),
        *panel(10, alt=80),
        lab("creatinine", 0.9, 10),
        lab("sodium", 138, 10),
        old_ascites,
    )
    assert status(a, "indication.cirrhosis-child-pugh") is MET


# §1 censored values / §4.2 coagulation: a censored result is "beyond the limit"; it proves the
# exclusion when the limit itself is past the threshold, and cannot clear it otherwise.


def test_inr_censored_above_the_threshold_excludes(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *masld_candidate(inr=None), lab("inr", 1.5, 5, comparator=">"))
    assert status(a, "exclusion.coagulation") is MET


def test_platelets_censored_below_a_limit_above_50_is_unknown(engine: ClinicalEngine) -> None:
    a = evaluate(
        engine, *masld_candidate(platelets=None), lab("platelets", 60, 5, comparator="<")
    )
    assert status(a, "exclusion.coagulation") is UNKNOWN
    assert a.outcome is Outcome.WORKUP_INCOMPLETE


def test_platelets_censored_below_50_excludes(engine: ClinicalEngine) -> None:
    a = evaluate(
        engine, *masld_candidate(platelets=None), lab("platelets", 20, 5, comparator="<")
    )
    assert status(a, "exclusion.coagulation") is MET


# §1 censored values as text (valueString "<10"): INR is dimensionless, so "> 8" is readable;
# a censored count without a unit is reported (never guessed) and an older result must not clear
# the coagulation exclusion in its place.


def test_inr_censored_text_above_threshold_excludes_despite_older_normal_inr(
    engine: ClinicalEngine,
) -> None:
    a = evaluate(engine, *masld_candidate(), observation("6301-6", days=2, value_string=">8"))
    r = rule(a, "exclusion.coagulation")
    assert r.status is MET
    assert ">8" in r.reason


def test_inr_censored_text_counts_as_a_recent_inr(engine: ClinicalEngine) -> None:
    a = evaluate(
        engine, *masld_candidate(inr=None), observation("6301-6", days=2, value_string="<1.1")
    )
    assert status(a, "exclusion.coagulation") is NOT_MET
    assert all(w.id != "workup.inr" for w in a.workup)


def test_platelets_censored_text_without_unit_is_unknown_and_reported(
    engine: ClinicalEngine,
) -> None:
    a = evaluate(engine, *masld_candidate(), observation("777-3", days=2, value_string="<20"))
    r = rule(a, "exclusion.coagulation")
    assert r.status is UNKNOWN  # the older normal count does not clear it
    assert "<20" in r.reason
    assert a.outcome is Outcome.WORKUP_INCOMPLETE
    assert any(n.code == "missing-unit" for n in a.data_quality)


# §4.4 "PSC without decompensation": a decompensation within 12 months is already an exclusion;
# the candidacy clause is read like early B: no decompensation event on record, however old.


def test_psc_with_an_old_decompensation_event_does_not_meet(engine: ClinicalEngine) -> None:
    old_bleed = condition("I85.11", clinical="resolved", onset_days=900, abatement_days=880)
    a = evaluate(engine, condition("K83.01"), old_bleed, *panel(10), lab("creatinine", 0.9, 10))
    assert status(a, "exclusion.decompensation") is NOT_MET
    r = rule(a, "indication.psc")
    assert r.status is NOT_MET
    assert "decompensation" in r.reason


def test_psc_without_decompensation_meets(engine: ClinicalEngine) -> None:
    a = evaluate(engine, condition("K83.01"), *panel(10), lab("creatinine", 0.9, 10))
    assert status(a, "indication.psc") is MET


# §3 MELD: "Cr capped 4.0 (dialysis -> 4.0)" (MELD 3.0: Cr <= 3.0, dialysis -> 3.0). The engine
# never read dialysis, so a patient on dialysis with a low post-dialysis creatinine had a MELD-Na
# far below 15 and the MELD-Na exclusion was cleared.


def _cirrhosis_on_dialysis(*extra: dict[str, object]) -> list[dict[str, object]]:
    return [
        condition("K74.60"),
        *elevated_alt(),
        *panel(10, alt=80, bilirubin=1.0, inr=1.0),
        lab("creatinine", 1.5, 10),
        lab("sodium", 137, 10),
        *extra,  # type: ignore[list-item]
    ]


def test_meld_na_uses_creatinine_4_on_dialysis(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *_cirrhosis_on_dialysis(condition("Z99.2")))  # type: ignore[arg-type]
    meld_na = next(s for s in a.scores if s.id == "meld-na")
    assert meld_na.value == 20  # 10 x round(0.957 ln 4 + 0.643, 1)
    creatinine = next(i for i in meld_na.inputs if i.name == "creatinine")
    assert creatinine.value == 4.0
    assert creatinine.clamped_from == 1.5
    assert status(a, "exclusion.meld-na") is MET
    assert a.outcome is Outcome.EXCLUDED
    meld3 = next(s for s in a.scores if s.id == "meld-3.0")
    assert next(i for i in meld3.inputs if i.name == "creatinine").value == 3.0


def test_meld_na_uses_measured_creatinine_without_dialysis(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *_cirrhosis_on_dialysis())  # type: ignore[arg-type]
    assert next(s for s in a.scores if s.id == "meld-na").value == 10
    assert status(a, "exclusion.meld-na") is NOT_MET
