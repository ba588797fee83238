"""One test per exclusion, per candidacy path, and boundary tables for every threshold (spec §4)."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.clinical import ClinicalEngine
from cds_service.clinical.model import Outcome, Status
from tests.clinical.fhir import (
    APIXABAN,
    AZATHIOPRINE,
    ENTECAVIR,
    NEGATIVE,
    POSITIVE,
    PREDNISONE,
    SNOMED,
    URSODIOL,
    WARFARIN,
    condition,
    elevated_alt,
    lab,
    masld_candidate,
    medication,
    observation,
    panel,
    patient,
    qual,
)
from tests.clinical.helpers import evaluate, rule, status

MET, NOT_MET, UNKNOWN = Status.MET, Status.NOT_MET, Status.UNKNOWN


def test_baseline_masld_candidate_meets(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *masld_candidate())
    assert a.outcome is Outcome.MEETS_SCREENING_CRITERIA
    assert [r.id for r in a.exclusions] == []
    assert a.unknown_exclusions == ()
    assert status(a, "indication.masld-alt") is MET


# --- exclusions -------------------------------------------------------------------------------


def test_exclusion_liver_cancer(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *masld_candidate(), condition("C22.0", rid="hcc"))
    assert a.outcome is Outcome.EXCLUDED
    r = rule(a, "exclusion.liver-cancer")
    assert r.status is MET
    assert r.evidence[0].resource_ref == "Condition/hcc"


@pytest.mark.parametrize(("abatement_days", "expected"), [(364, MET), (366, NOT_MET)])
def test_exclusion_liver_cancer_within_12_months(
    engine: ClinicalEngine, abatement_days: int, expected: Status
) -> None:
    cancer = condition("C22.0", clinical="resolved", onset_days=700, abatement_days=abatement_days)
    assert (
        status(evaluate(engine, *masld_candidate(), cancer), "exclusion.liver-cancer") is expected
    )


def test_exclusion_liver_cancer_resolved_undated_is_unknown(engine: ClinicalEngine) -> None:
    cancer = condition("C22.0", clinical="resolved", onset_days=None)
    a = evaluate(engine, *masld_candidate(), cancer)
    assert status(a, "exclusion.liver-cancer") is UNKNOWN
    assert a.outcome is Outcome.WORKUP_INCOMPLETE


def test_exclusion_liver_cancer_refuted_does_not_count(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *masld_candidate(), condition("C22.0", verification="refuted"))
    assert status(a, "exclusion.liver-cancer") is NOT_MET


@pytest.mark.parametrize(
    "code", ["R18.8", "K70.11", "K65.2", "I85.01", "I85.11", "K76.82", "K76.7"]
)
def test_exclusion_decompensation_codes(engine: ClinicalEngine, code: str) -> None:
    a = evaluate(engine, *masld_candidate(), condition(code))
    assert status(a, "exclusion.decompensation") is MET
    assert a.outcome is Outcome.EXCLUDED


@pytest.mark.parametrize(("abatement_days", "expected"), [(100, MET), (400, NOT_MET)])
def test_exclusion_decompensation_within_12_months(
    engine: ClinicalEngine, abatement_days: int, expected: Status
) -> None:
    bleed = condition(
        "17709002", SNOMED, clinical="resolved", onset_days=500, abatement_days=abatement_days
    )
    assert (
        status(evaluate(engine, *masld_candidate(), bleed), "exclusion.decompensation") is expected
    )


@pytest.mark.parametrize(
    ("bilirubin", "albumin", "inr", "expected"),
    [
        (3.5, 2.5, 1.6, NOT_MET),  # 3 + 3 + 1 + 1 + 1 = 9
        (3.5, 2.5, 1.7, MET),  # 10
        (3.5, 2.5, 2.4, MET),  # 11
    ],
)
def test_exclusion_decompensation_child_pugh_10(
    engine: ClinicalEngine, bilirubin: float, albumin: float, inr: float, expected: Status
) -> None:
    a = evaluate(engine, *masld_candidate(bilirubin=bilirubin, albumin=albumin, inr=inr))
    assert status(a, "exclusion.decompensation") is expected


@pytest.mark.parametrize("code", ["K72.10", "K70.41", "K71.11", "K91.82", "708248004"])
def test_exclusion_liver_failure(engine: ClinicalEngine, code: str) -> None:
    system = SNOMED if code.isdigit() else "http://hl7.org/fhir/sid/icd-10-cm"
    a = evaluate(engine, *masld_candidate(), condition(code, system))
    assert status(a, "exclusion.liver-failure") is MET
    assert a.outcome is Outcome.EXCLUDED


def test_exclusion_transplant_status(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *masld_candidate(), condition("Z94.4"))
    assert status(a, "exclusion.transplant") is MET


def test_exclusion_transplant_listing_with_liver_condition(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *masld_candidate(), condition("Z76.82"))
    assert status(a, "exclusion.transplant") is MET
    assert a.outcome is Outcome.EXCLUDED


def test_transplant_listing_without_liver_condition_is_not_liver_listing(
    engine: ClinicalEngine,
) -> None:
    a = evaluate(engine, condition("Z76.82"), *elevated_alt(), *panel(10, alt=80))
    assert status(a, "exclusion.transplant") is NOT_MET


def test_exclusion_active_hcv(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *masld_candidate(), condition("B18.2"), lab("hcv-rna", 45000, 200))
    assert status(a, "exclusion.active-viral-hepatitis") is MET
    assert a.outcome is Outcome.EXCLUDED


@pytest.mark.parametrize(("value", "expected"), [(1999, NOT_MET), (2000, NOT_MET), (2001, MET)])
def test_exclusion_hbv_dna_boundary(engine: ClinicalEngine, value: float, expected: Status) -> None:
    a = evaluate(engine, *masld_candidate(), condition("B18.1"), lab("hbv-dna", value, 30))
    assert status(a, "exclusion.active-viral-hepatitis") is expected


def test_exclusion_hbv_dna_log_units(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *masld_candidate(), condition("B18.1"), lab("hbv-dna-log", 3.4, 30))
    assert status(a, "exclusion.active-viral-hepatitis") is MET  # 10^3.4 = 2512 IU/mL


def test_exclusion_hbv_dna_outside_six_months_needs_a_new_one(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *masld_candidate(), condition("B18.1"), lab("hbv-dna", 50000, 200))
    assert status(a, "exclusion.active-viral-hepatitis") is UNKNOWN
    assert a.outcome is Outcome.WORKUP_INCOMPLETE


@pytest.mark.parametrize(
    "marker",
    [
        condition("61977001", SNOMED),
        qual("hbsag", positive=True),
        condition("B18.2"),
        qual("hcv-antibody", positive=True),
    ],
)
def test_viral_hepatitis_unknown_without_viral_load(
    engine: ClinicalEngine, marker: dict[str, Any]
) -> None:
    a = evaluate(engine, *masld_candidate(), marker)
    assert status(a, "exclusion.active-viral-hepatitis") is UNKNOWN
    assert a.outcome is Outcome.WORKUP_INCOMPLETE


def test_viral_hepatitis_not_met_without_markers(engine: ClinicalEngine) -> None:
    a = evaluate(
        engine,
        *masld_candidate(),
        qual("hbsag", positive=False),
        qual("hcv-antibody", positive=False),
    )
    assert status(a, "exclusion.active-viral-hepatitis") is NOT_MET


def test_hcv_antibody_with_undetectable_rna_is_not_active(engine: ClinicalEngine) -> None:
    a = evaluate(
        engine,
        *masld_candidate(),
        qual("hcv-antibody", positive=True),
        observation("11011-4", days=20, value_string="Target not detected"),
    )
    assert status(a, "exclusion.active-viral-hepatitis") is NOT_MET


@pytest.mark.parametrize(("inr", "expected"), [(1.49, NOT_MET), (1.5, NOT_MET), (1.51, MET)])
def test_exclusion_coagulation_inr_boundary(
    engine: ClinicalEngine, inr: float, expected: Status
) -> None:
    a = evaluate(engine, *masld_candidate(inr=inr))
    assert status(a, "exclusion.coagulation") is expected


@pytest.mark.parametrize(
    "anticoagulant",
    [
        medication(WARFARIN),
        medication(APIXABAN),
        condition("Z79.01"),
        # clinical drugs, as EHRs code orders (NLM VSAC "Anticoagulant Therapy")
        medication("855332"),  # warfarin sodium 5 MG Oral Tablet
        medication("1364445"),  # apixaban 5 MG Oral Tablet
        medication("854241"),  # 0.8 ML enoxaparin sodium 100 MG/ML Prefilled Syringe
    ],
    ids=[
        "warfarin",
        "apixaban",
        "Z79.01",
        "warfarin-5mg-scd",
        "apixaban-5mg-scd",
        "enoxaparin-scd",
    ],
)
def test_inr_not_used_on_anticoagulation(
    engine: ClinicalEngine, anticoagulant: dict[str, Any]
) -> None:
    a = evaluate(engine, *masld_candidate(inr=2.6), anticoagulant)
    r = rule(a, "exclusion.coagulation")
    assert r.status is NOT_MET
    assert "anticoagulation" in r.reason


def test_an_unverified_code_is_no_longer_an_anticoagulant(engine: ClinicalEngine) -> None:
    # 1546356 was listed as "dabigatran" from memory; no trustworthy source says what it is
    # (public code gives it to unrelated drugs), and counting a non-anticoagulant would hide
    # a raised INR. Removed in clinical-rules-v1/2026-11-25.3.
    a = evaluate(engine, *masld_candidate(inr=2.6), medication("1546356"))
    assert status(a, "exclusion.coagulation") is MET


def test_stopped_anticoagulant_does_not_count(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *masld_candidate(inr=2.6), medication(WARFARIN, status="stopped"))
    assert status(a, "exclusion.coagulation") is MET


@pytest.mark.parametrize(("platelets", "expected"), [(49.9, MET), (50, NOT_MET), (50.1, NOT_MET)])
def test_exclusion_coagulation_platelets_boundary(
    engine: ClinicalEngine, platelets: float, expected: Status
) -> None:
    a = evaluate(engine, *masld_candidate(platelets=platelets))
    assert status(a, "exclusion.coagulation") is expected


@pytest.mark.parametrize(("pt", "expected"), [(14.9, NOT_MET), (15.0, NOT_MET), (15.1, MET)])
def test_exclusion_coagulation_pt_prolonged_boundary(
    engine: ClinicalEngine, pt: float, expected: Status
) -> None:
    a = evaluate(engine, *masld_candidate(), lab("pt", pt, ref_high=12.0))
    assert status(a, "exclusion.coagulation") is expected


@pytest.mark.parametrize(
    ("code", "expected"), [("D66", MET), ("D69.6", MET), ("234466008", MET), ("D68.51", NOT_MET)]
)
def test_exclusion_bleeding_disorder(engine: ClinicalEngine, code: str, expected: Status) -> None:
    system = SNOMED if code.isdigit() else "http://hl7.org/fhir/sid/icd-10-cm"
    a = evaluate(engine, *masld_candidate(), condition(code, system))
    assert status(a, "exclusion.coagulation") is expected


@pytest.mark.parametrize(("days", "expected"), [(89, NOT_MET), (91, UNKNOWN)])
def test_coagulation_needs_recent_inr_and_platelets(
    engine: ClinicalEngine, days: int, expected: Status
) -> None:
    resources = [condition("K76.0"), *elevated_alt(), *panel(10, alt=80, inr=None, platelets=None)]
    a = evaluate(engine, *resources, lab("inr", 1.0, days), lab("platelets", 200, days))
    assert status(a, "exclusion.coagulation") is expected


def cirrhotic(**labs: float) -> list[dict[str, Any]]:
    kidney = {"creatinine": labs.pop("creatinine", 1.0), "sodium": labs.pop("sodium", 137.0)}
    return [condition("K74.60"), *panel(10, **labs), *[lab(k, v) for k, v in kidney.items()]]


@pytest.mark.parametrize(
    ("creatinine", "meld_na", "expected"), [(2.3, 14, NOT_MET), (2.4, 15, MET), (2.6, 16, MET)]
)
def test_exclusion_meld_na_boundary(
    engine: ClinicalEngine, creatinine: float, meld_na: int, expected: Status
) -> None:
    a = evaluate(engine, *cirrhotic(creatinine=creatinine, bilirubin=1.0, inr=1.0))
    score = next(s for s in a.scores if s.id == "meld-na")
    assert score.value == meld_na
    assert status(a, "exclusion.meld-na") is expected


def test_meld_na_required_with_cirrhosis(engine: ClinicalEngine) -> None:
    a = evaluate(engine, condition("K74.60"), *panel(10))
    assert status(a, "exclusion.meld-na") is UNKNOWN
    assert a.outcome is Outcome.WORKUP_INCOMPLETE


def test_meld_na_required_with_stiffness_15(engine: ClinicalEngine) -> None:
    a = evaluate(engine, condition("K76.0"), *panel(10), lab("liver-stiffness", 15.0, 20))
    assert status(a, "exclusion.meld-na") is UNKNOWN


def test_meld_na_not_required_without_cirrhosis(engine: ClinicalEngine) -> None:
    assert status(evaluate(engine, *masld_candidate()), "exclusion.meld-na") is NOT_MET


def test_meld_na_driven_by_inr_on_anticoagulation_is_unknown(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *cirrhotic(inr=3.0), medication(WARFARIN))
    r = rule(a, "exclusion.meld-na")
    assert r.status is UNKNOWN
    assert "anticoagulation" in r.reason


# --- candidacy paths --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sex", "alt", "expected"),
    [
        ("male", 33, NOT_MET),
        ("male", 34, MET),
        ("female", 25, NOT_MET),
        ("female", 26, MET),
        ("female", 33, MET),
    ],
)
def test_alt_uln_is_sex_specific(
    engine: ClinicalEngine, sex: str, alt: float, expected: Status
) -> None:
    a = evaluate(engine, condition("K76.0"), lab("alt", alt, 70), *panel(10, alt=alt), sex=sex)
    assert status(a, "indication.masld-alt") is expected


@pytest.mark.parametrize(("gap_days", "expected"), [(27, NOT_MET), (28, MET), (29, MET)])
def test_alt_persistence_four_weeks(
    engine: ClinicalEngine, gap_days: int, expected: Status
) -> None:
    a = evaluate(engine, condition("K76.0"), lab("alt", 80, 10 + gap_days), *panel(10, alt=80))
    assert status(a, "indication.masld-alt") is expected


@pytest.mark.parametrize(("first_days", "expected"), [(180, MET), (185, NOT_MET)])
def test_alt_persistence_within_six_months(
    engine: ClinicalEngine, first_days: int, expected: Status
) -> None:
    a = evaluate(engine, condition("K76.0"), lab("alt", 80, first_days), *panel(10, alt=80))
    assert status(a, "indication.masld-alt") is expected


def test_alt_no_longer_elevated_does_not_meet(engine: ClinicalEngine) -> None:
    a = evaluate(engine, condition("K76.0"), *elevated_alt(120, 60), *panel(10, alt=30))
    assert status(a, "indication.masld-alt") is NOT_MET
    assert a.outcome is Outcome.DOES_NOT_MEET


def test_alt_uln_unknown_sex_uses_lab_range_else_unknown(engine: ClinicalEngine) -> None:
    pat = patient(sex=None)
    with_range = [
        lab("alt", 50, 70, ref_high=40),
        *panel(10, alt=None),
        lab("alt", 50, 10, ref_high=40),
    ]
    a = evaluate(engine, condition("K76.0"), *with_range, pat=pat)
    assert status(a, "indication.masld-alt") is MET
    b = evaluate(engine, condition("K76.0"), *elevated_alt(), *panel(10, alt=None), pat=pat)
    assert status(b, "indication.masld-alt") is UNKNOWN


def test_indication_masld_alt_with_nash_snomed(engine: ClinicalEngine) -> None:
    a = evaluate(engine, condition("442685003", SNOMED), *elevated_alt(), *panel(10, alt=80))
    assert status(a, "indication.masld-alt") is MET


def aih_patient(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        condition("K75.4"),
        *elevated_alt(),
        *panel(10, alt=80),
        qual("ana", True),
        qual("asma", True),
        *extra,
    ]


def test_indication_aih_nonremission(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *aih_patient(medication(AZATHIOPRINE)))
    assert status(a, "indication.aih-nonremission") is MET
    assert a.outcome is Outcome.MEETS_SCREENING_CRITERIA


@pytest.mark.parametrize(
    "drug",
    [
        "197388",  # azathioprine 50 MG Oral Tablet
        "312617",  # prednisone 5 MG Oral Tablet
        "1244214",  # budesonide 3 MG Delayed Release Oral Capsule
        "200060",  # mycophenolate mofetil 500 MG Oral Tablet
    ],
)
def test_aih_immunosuppression_coded_as_clinical_drug(engine: ClinicalEngine, drug: str) -> None:
    a = evaluate(engine, *aih_patient(medication(drug)))
    assert status(a, "indication.aih-nonremission") is MET


def test_aih_without_immunosuppression_does_not_meet(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *aih_patient())
    assert status(a, "indication.aih-nonremission") is NOT_MET
    assert a.outcome is Outcome.DOES_NOT_MEET


def test_aih_in_remission_does_not_meet(engine: ClinicalEngine) -> None:
    a = evaluate(
        engine,
        condition("K75.4"),
        *panel(10),
        qual("ana", True),
        qual("asma", True),
        medication(PREDNISONE),
    )
    assert status(a, "indication.aih-nonremission") is NOT_MET


def test_indication_fibrosis_f1_f3_by_code(engine: ClinicalEngine) -> None:
    a = evaluate(engine, condition("K74.01"), *panel(10))
    assert status(a, "indication.fibrosis-f1-f3") is MET
    assert a.outcome is Outcome.MEETS_SCREENING_CRITERIA


@pytest.mark.parametrize(
    ("kpa", "expected"), [(7.9, NOT_MET), (8.0, MET), (14.9, MET), (15.0, NOT_MET)]
)
def test_fibrosis_f1_f3_by_elastography(
    engine: ClinicalEngine, kpa: float, expected: Status
) -> None:
    a = evaluate(engine, condition("K76.0"), *panel(10), lab("liver-stiffness", kpa, 30))
    assert status(a, "indication.fibrosis-f1-f3") is expected


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"bilirubin": 1.2}, MET),
        ({"bilirubin": 1.3}, NOT_MET),
        ({"albumin": 3.5}, MET),
        ({"albumin": 3.4}, NOT_MET),
        ({"inr": 1.2}, MET),
        ({"inr": 1.25}, NOT_MET),
    ],
)
def test_fibrosis_stable_function_boundaries(
    engine: ClinicalEngine, overrides: dict[str, float], expected: Status
) -> None:
    # Normal limits (no lab range here): bilirubin <= 1.2 mg/dL, albumin >= 3.5 g/dL, INR <= 1.2.
    a = evaluate(engine, condition("K74.02"), *panel(10, **overrides))
    assert status(a, "indication.fibrosis-f1-f3") is expected


def test_fibrosis_path_uses_lab_reference_range(engine: ClinicalEngine) -> None:
    resources = [
        condition("K74.02"),
        *panel(10, bilirubin=None),
        lab("bilirubin", 1.3, ref_high=1.4),
    ]
    assert status(evaluate(engine, *resources), "indication.fibrosis-f1-f3") is MET


def test_indication_cirrhosis_child_pugh_a(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *cirrhotic())
    r = rule(a, "indication.cirrhosis-child-pugh")
    assert r.status is MET
    assert a.outcome is Outcome.MEETS_SCREENING_CRITERIA
    assert "HCC" in " ".join(a.planned_monitoring.notes if a.planned_monitoring else ())


def test_cirrhosis_early_b_is_met_and_says_so(engine: ClinicalEngine) -> None:
    # bilirubin 2.5 (2) + albumin 3.2 (2) + INR 1.0 (1) + none (1) + none (1) = 7
    a = evaluate(engine, *cirrhotic(bilirubin=2.5, albumin=3.2))
    r = rule(a, "indication.cirrhosis-child-pugh")
    assert r.status is MET
    assert "early B" in r.reason
    assert "standard references" in r.reason


def test_cirrhosis_child_pugh_8_does_not_meet(engine: ClinicalEngine) -> None:
    a = evaluate(
        engine,
        *cirrhotic(bilirubin=2.5, albumin=3.2, inr=1.8),
        medication(APIXABAN, status="stopped"),
    )
    assert next(s for s in a.scores if s.id == "child-pugh").value == 8
    assert status(a, "indication.cirrhosis-child-pugh") is NOT_MET


def test_cirrhosis_child_pugh_unknown_on_anticoagulation(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *cirrhotic(), condition("Z79.01"))
    assert status(a, "indication.cirrhosis-child-pugh") is UNKNOWN


def covid_story(infection_days: int = 200) -> list[dict[str, Any]]:
    return [
        condition("U07.1", onset_days=infection_days),
        condition("U09.9", onset_days=infection_days - 30),
        *elevated_alt(),
        *panel(10, alt=80),
        qual("hbsag", False),
        qual("hcv-antibody", False),
        qual("ana", False),
        qual("asma", False),
        lab("liver-stiffness", 5.5, 30),
    ]


def test_indication_post_covid(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *covid_story())
    assert status(a, "indication.post-covid") is MET
    assert status(a, "applicability.persistent-alt-no-diagnosis") is MET
    assert a.outcome is Outcome.MEETS_SCREENING_CRITERIA


def test_post_covid_too_soon_after_infection(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *covid_story(infection_days=60))
    assert status(a, "indication.post-covid") is NOT_MET


def test_post_covid_infection_from_positive_test(engine: ClinicalEngine) -> None:
    resources = [r for r in covid_story() if r["resourceType"] != "Condition"]
    a = evaluate(engine, *resources, observation("94500-6", days=150, answer=POSITIVE))
    assert status(a, "indication.post-covid") is MET


def test_indication_viral_survivor_hcv(engine: ClinicalEngine) -> None:
    a = evaluate(
        engine,
        condition("B18.2"),
        # Detectable over 12 months ago: a detectable result within 12 months excludes (§4.2).
        lab("hcv-rna", 250000, 400),
        observation("11011-4", days=150, value_string="Not detected"),
        observation("11011-4", days=30, value_string="<15"),
        *elevated_alt(),
        *panel(10, alt=80),
    )
    assert status(a, "exclusion.active-viral-hepatitis") is NOT_MET
    assert status(a, "indication.viral-survivor") is MET
    assert a.outcome is Outcome.MEETS_SCREENING_CRITERIA


def test_viral_survivor_hcv_undetectable_less_than_12_weeks(engine: ClinicalEngine) -> None:
    a = evaluate(
        engine,
        condition("B18.2"),
        lab("hcv-rna", 250000, 100),
        observation("11011-4", days=30, value_string="<15"),
        *elevated_alt(),
        *panel(10, alt=80),
    )
    assert status(a, "indication.viral-survivor") is NOT_MET


def test_indication_viral_survivor_hbv_on_therapy_with_fibrosis(engine: ClinicalEngine) -> None:
    a = evaluate(
        engine,
        condition("B18.1"),
        lab("hbv-dna", 500, 30),
        medication(ENTECAVIR),
        condition("K74.02"),
        *panel(10),
    )
    assert status(a, "indication.viral-survivor") is MET


@pytest.mark.parametrize(
    "antiviral",
    [
        "485434",  # entecavir 0.5 MG Oral Tablet
        "349251",  # tenofovir disoproxil fumarate 300 MG Oral Tablet
        "1858267",  # tenofovir alafenamide 25 MG Oral Tablet [Vemlidy]
        "205328",  # lamivudine 100 MG Oral Tablet
    ],
)
def test_hbv_antiviral_coded_as_a_drug_product(engine: ClinicalEngine, antiviral: str) -> None:
    a = evaluate(
        engine,
        condition("B18.1"),
        lab("hbv-dna", 500, 30),
        medication(antiviral),
        condition("K74.02"),
        *panel(10),
    )
    assert status(a, "indication.viral-survivor") is MET


def test_viral_survivor_hbv_without_therapy(engine: ClinicalEngine) -> None:
    a = evaluate(
        engine, condition("B18.1"), lab("hbv-dna", 500, 30), condition("K74.02"), *panel(10)
    )
    assert status(a, "indication.viral-survivor") is NOT_MET


def pbc_patient(
    alp: float, uln: float = 100, udca_days: int = 300, udca: str = URSODIOL
) -> list[dict[str, Any]]:
    return [
        condition("K74.3"),
        medication(udca, start_days=udca_days),
        lab("alp", alp, ref_high=uln),
        *panel(10),
    ]


@pytest.mark.parametrize(("alp", "expected"), [(166, NOT_MET), (167, MET), (168, MET)])
def test_indication_pbc_alp_boundary(engine: ClinicalEngine, alp: float, expected: Status) -> None:
    a = evaluate(engine, *pbc_patient(alp))
    assert status(a, "indication.pbc-udca") is expected


@pytest.mark.parametrize(("udca_days", "expected"), [(150, NOT_MET), (200, MET)])
def test_pbc_udca_six_months(engine: ClinicalEngine, udca_days: int, expected: Status) -> None:
    assert (
        status(evaluate(engine, *pbc_patient(250, udca_days=udca_days)), "indication.pbc-udca")
        is expected
    )


@pytest.mark.parametrize(
    "udca",
    ["858747", "858735"],  # ursodiol 300 MG Oral Capsule; 500 MG Oral Tablet [Urso Forte]
)
def test_pbc_udca_coded_as_a_drug_product(engine: ClinicalEngine, udca: str) -> None:
    assert status(evaluate(engine, *pbc_patient(250, udca=udca)), "indication.pbc-udca") is MET


def test_pbc_without_alp_reference_range_is_unknown(engine: ClinicalEngine) -> None:
    a = evaluate(engine, condition("K74.3"), medication(URSODIOL), lab("alp", 300), *panel(10))
    assert status(a, "indication.pbc-udca") is UNKNOWN


def psc_patient(bilirubin: float = 1.0, creatinine: float = 1.0) -> list[dict[str, Any]]:
    return [
        condition("K83.01"),
        *panel(10, bilirubin=None),
        lab("bilirubin", bilirubin, ref_high=1.2),
        lab("creatinine", creatinine),
    ]


def test_indication_psc(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *psc_patient())
    assert status(a, "indication.psc") is MET


@pytest.mark.parametrize(("creatinine", "expected"), [(1.49, MET), (1.5, MET), (1.51, NOT_MET)])
def test_psc_creatinine_boundary(
    engine: ClinicalEngine, creatinine: float, expected: Status
) -> None:
    assert (
        status(evaluate(engine, *psc_patient(creatinine=creatinine)), "indication.psc") is expected
    )


@pytest.mark.parametrize(("bilirubin", "expected"), [(5.9, MET), (6.0, MET), (6.1, NOT_MET)])
def test_psc_bilirubin_five_times_uln(
    engine: ClinicalEngine, bilirubin: float, expected: Status
) -> None:
    assert status(evaluate(engine, *psc_patient(bilirubin=bilirubin)), "indication.psc") is expected


def test_psc_with_decompensation_does_not_meet(engine: ClinicalEngine) -> None:
    assert status(evaluate(engine, *psc_patient(), condition("R18.8")), "indication.psc") is NOT_MET


@pytest.mark.parametrize("code", ["E11.9", "E88.810", "237602007"])
def test_indication_metabolic_masld(engine: ClinicalEngine, code: str) -> None:
    system = SNOMED if code.isdigit() else "http://hl7.org/fhir/sid/icd-10-cm"
    a = evaluate(engine, *masld_candidate(), condition(code, system))
    assert status(a, "indication.metabolic-masld") is MET


def test_metabolic_without_masld_criteria(engine: ClinicalEngine) -> None:
    a = evaluate(engine, condition("E11.9"), condition("K76.0"), *panel(10))
    assert status(a, "indication.metabolic-masld") is NOT_MET


# --- applicability ----------------------------------------------------------------------------


def test_not_applicable_without_liver_indication(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *panel(10), condition("E11.9"))
    assert a.outcome is Outcome.NOT_APPLICABLE
    assert a.workup == ()


def test_single_elevated_alt_is_not_enough(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *panel(10, alt=90))
    assert a.outcome is Outcome.NOT_APPLICABLE


def test_persistent_alt_without_diagnosis_asks_for_the_cause(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *elevated_alt(), *panel(10, alt=80))
    assert status(a, "applicability.persistent-alt-no-diagnosis") is MET
    assert a.outcome is Outcome.WORKUP_INCOMPLETE
    ids = {w.id for w in a.blocking_workup}
    assert {
        "workup.hbsag",
        "workup.hcv-antibody",
        "workup.ana",
        "workup.asma",
        "workup.elastography",
    } <= ids


def test_persistent_alt_cause_workup_done_does_not_meet(engine: ClinicalEngine) -> None:
    a = evaluate(
        engine,
        *elevated_alt(),
        *panel(10, alt=80),
        qual("hbsag", False),
        qual("hcv-antibody", False),
        qual("ana", False),
        qual("asma", False),
        lab("liver-stiffness", 5.0, 30),
    )
    assert a.outcome is Outcome.DOES_NOT_MEET


def test_hbv_dna_negative_observation_code(engine: ClinicalEngine) -> None:
    a = evaluate(
        engine,
        *masld_candidate(),
        condition("B18.1"),
        observation("42595-9", days=20, answer=NEGATIVE),
    )
    assert status(a, "exclusion.active-viral-hepatitis") is NOT_MET


def test_masld_shows_ast_and_ggt_against_the_lab_range(engine: ClinicalEngine) -> None:
    a = evaluate(
        engine,
        *masld_candidate(ast=None, ggt=None),
        lab("ast", 55, ref_high=40),
        lab("ggt", 30, ref_high=60),
    )
    notes = {e.label: e.note for e in rule(a, "indication.masld-alt").evidence}
    assert notes["AST"] == "above the lab's upper limit 40 U/L"
    assert notes["GGT"] == "within the lab's upper limit 60 U/L"


def test_resolved_cancer_recorded_recently_counts(engine: ClinicalEngine) -> None:
    cancer = condition("C22.0", clinical="resolved", onset_days=2000)
    cancer["recordedDate"] = "2026-06-01"
    assert status(evaluate(engine, *masld_candidate(), cancer), "exclusion.liver-cancer") is MET
