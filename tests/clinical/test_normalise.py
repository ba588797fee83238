"""Defensive normalisation of raw FHIR R4 JSON (spec §1)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from cds_service.clinical import ClinicalEngine
from cds_service.clinical.facts import Facts, Normaliser, parse_fhir_time
from cds_service.clinical.model import PatientData
from tests.clinical.fhir import (
    ICD10,
    NEGATIVE,
    NOW,
    POSITIVE,
    SNOMED,
    condition,
    data,
    lab,
    medication,
    observation,
    patient,
)


def facts_of(engine: ClinicalEngine, *resources: Any, **kw: Any) -> Facts:
    return Normaliser(engine.ruleset).facts(data(*resources, **kw), NOW)


def note_codes(facts: Facts) -> list[str]:
    return [n.code for n in facts.notes]


# --- units ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "unit", "expected"),
    [
        ("bilirubin", 34.2, "umol/L", 2.0),
        ("bilirubin", 34.2, "µmol/L", 2.0),
        ("bilirubin", 2.0, "mg/dl", 2.0),
        ("albumin", 35, "g/L", 3.5),
        ("creatinine", 88.4, "umol/L", 1.0),
        ("platelets", 180, "10*9/L", 180),
        ("platelets", 180, "10*3/mm3", 180),
        ("platelets", 180, "K/uL", 180),
        ("platelets", 180000, "/uL", 180),
        ("hbv-dna-log", 3.5, "[log_10]{IU}/mL", 3162.277660),
        ("alt", 50, "[IU]/L", 50),
    ],
)
def test_units_are_converted(
    engine: ClinicalEngine, name: str, value: float, unit: str, expected: float
) -> None:
    facts = facts_of(engine, lab(name, value, unit=unit))
    analyte = {"bilirubin": "bilirubin", "hbv-dna-log": "hbv-dna"}.get(name, name)
    result = facts.labs[analyte][0]
    assert result.value == pytest.approx(expected)
    assert result.original_value == value
    assert result.original_unit == unit


def test_unit_taken_from_unit_text_when_code_missing(engine: ClinicalEngine) -> None:
    facts = facts_of(engine, lab("albumin", 40, unit="g/L", ucum=False))
    assert facts.labs["albumin"][0].value == 4.0


@pytest.mark.parametrize("unit", ["mmol/L", "furlongs", "U/mL"])
def test_unknown_unit_is_unusable_and_reported(engine: ClinicalEngine, unit: str) -> None:
    facts = facts_of(engine, lab("bilirubin", 34, unit=unit, rid="b1"))
    assert "bilirubin" not in facts.labs
    note = next(n for n in facts.notes if n.code == "unknown-unit")
    assert note.resource_ref == "Observation/b1"
    assert "34" not in note.message  # never a lab value in a note


def test_missing_unit_is_never_guessed(engine: ClinicalEngine) -> None:
    facts = facts_of(engine, observation("1742-6", value=55))
    assert "alt" not in facts.labs
    assert "missing-unit" in note_codes(facts)


def test_inr_without_unit_is_fine(engine: ClinicalEngine) -> None:
    facts = facts_of(engine, observation("6301-6", value=1.3))
    assert facts.labs["inr"][0].value == 1.3


def test_evidence_carries_reference_code_values_and_date(engine: ClinicalEngine) -> None:
    facts = facts_of(engine, lab("bilirubin-si", 51.3, rid="bili", days=3))
    ev = facts.labs["bilirubin"][0].evidence("Bilirubin")
    assert ev.resource_ref == "Observation/bili"
    assert ev.code == "http://loinc.org|14631-6"
    assert ev.value == 3.0
    assert ev.unit == "mg/dL"
    assert ev.original_value == 51.3
    assert ev.original_unit == "umol/L"
    assert ev.effective is not None


# --- codes ------------------------------------------------------------------------------------


def test_observation_matched_on_any_coding(engine: ClinicalEngine) -> None:
    obs = lab("alt", 40)
    obs["code"]["coding"].insert(0, {"system": "http://acme.example/lab", "code": "ALT-LOCAL"})
    assert facts_of(engine, obs).labs["alt"][0].value == 40


def test_display_text_is_never_matched(engine: ClinicalEngine) -> None:
    obs = observation("9999-9", value=40, unit="U/L")
    obs["code"]["text"] = "ALT"
    obs["code"]["coding"][0]["display"] = "ALT [Enzymatic activity/volume] in Serum or Plasma"
    assert facts_of(engine, obs).labs == {}


def test_oid_system_alias(engine: ClinicalEngine) -> None:
    obs = lab("alt", 40, system="urn:oid:2.16.840.1.113883.6.1")
    assert facts_of(engine, obs).labs["alt"][0].value == 40


@pytest.mark.parametrize("code", ["K74.60", "K7460", "k74.60", " K74.69 "])
def test_icd_with_or_without_dot(engine: ClinicalEngine, code: str) -> None:
    assert "cirrhosis" in facts_of(engine, condition(code)).conditions


@pytest.mark.parametrize(
    ("code", "concept"),
    [
        ("C22.0", "liver-cancer"),
        ("C229", "liver-cancer"),
        ("R18.8", "ascites"),
        ("K72.10", "liver-failure"),
        ("K70.41", "liver-failure"),
        ("D69.42", "bleeding-disorder"),
        ("E88.810", "metabolic-syndrome"),
        ("E11.65", "type-2-diabetes"),
    ],
)
def test_icd_prefix_families(engine: ClinicalEngine, code: str, concept: str) -> None:
    assert concept in facts_of(engine, condition(code)).conditions


@pytest.mark.parametrize("code", ["D68.51", "D68.62", "K74.6", "C23", "K76"])
def test_icd_outside_families_not_matched(engine: ClinicalEngine, code: str) -> None:
    found = facts_of(engine, condition(code)).conditions
    assert "bleeding-disorder" not in found
    assert "cirrhosis" not in found
    assert "liver-cancer" not in found


def test_snomed_condition(engine: ClinicalEngine) -> None:
    assert "hcv" in facts_of(engine, condition("128302006", SNOMED)).conditions


def test_k70_31_is_both_cirrhosis_and_ascites(engine: ClinicalEngine) -> None:
    found = facts_of(engine, condition("K70.31")).conditions
    assert {"cirrhosis", "ascites"} <= set(found)


@pytest.mark.parametrize(
    ("clinical", "verification", "active", "counted"),
    [
        ("active", "confirmed", True, True),
        ("recurrence", "confirmed", True, True),
        ("relapse", None, True, True),
        (None, None, True, True),
        ("resolved", "confirmed", False, True),
        ("inactive", "confirmed", False, True),
        ("remission", "confirmed", False, True),
        ("active", "refuted", None, False),
        ("active", "entered-in-error", None, False),
        ("active", "provisional", True, True),
    ],
)
def test_condition_statuses(
    engine: ClinicalEngine,
    clinical: str | None,
    verification: str | None,
    active: bool | None,
    counted: bool,
) -> None:
    facts = facts_of(engine, condition("K76.0", clinical=clinical, verification=verification))
    if not counted:
        assert "masld" not in facts.conditions
    else:
        assert facts.conditions["masld"][0].active is active


def test_medication_codes_only_never_text(engine: ClinicalEngine) -> None:
    med = medication("999999")
    med["medicationCodeableConcept"]["text"] = "warfarin"
    assert facts_of(engine, med).medications == {}
    assert "anticoagulant" in facts_of(engine, medication("11289")).medications


def test_contained_medication_reference(engine: ClinicalEngine) -> None:
    med = medication("11289")
    concept = med.pop("medicationCodeableConcept")
    med["contained"] = [{"resourceType": "Medication", "id": "m1", "code": concept}]
    med["medicationReference"] = {"reference": "#m1"}
    assert "anticoagulant" in facts_of(engine, med).medications


def test_medication_statement(engine: ClinicalEngine) -> None:
    med = medication("62427", kind="MedicationStatement", start_days=300)
    fact = facts_of(engine, med).medications["udca"][0]
    assert fact.active
    assert fact.ref is not None
    assert fact.ref.startswith("MedicationStatement/")
    assert fact.start is not None


# --- statuses and dates -----------------------------------------------------------------------


@pytest.mark.parametrize("status", ["final", "amended", "corrected"])
def test_usable_observation_statuses(engine: ClinicalEngine, status: str) -> None:
    assert "alt" in facts_of(engine, lab("alt", 40, status=status)).labs


def test_preliminary_is_shown_not_used(engine: ClinicalEngine) -> None:
    facts = facts_of(engine, lab("alt", 40, status="preliminary", rid="pre"))
    assert "alt" not in facts.labs
    note = next(n for n in facts.notes if n.code == "preliminary-result")
    assert note.resource_ref == "Observation/pre"


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled"])
def test_withdrawn_results_ignored_silently(engine: ClinicalEngine, status: str) -> None:
    facts = facts_of(engine, lab("alt", 40, status=status))
    assert "alt" not in facts.labs
    assert facts.notes == []


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (
            {"effectiveDateTime": "2026-10-01T23:30:00-05:00"},
            datetime(2026, 10, 2, 4, 30, tzinfo=UTC),
        ),
        ({"effectiveDateTime": "2026-10-01"}, datetime(2026, 10, 1, tzinfo=UTC)),
        ({"effectiveDateTime": "2026-10"}, datetime(2026, 10, 1, tzinfo=UTC)),
        ({"effectiveDateTime": "2026"}, datetime(2026, 1, 1, tzinfo=UTC)),
        (
            {"effectivePeriod": {"start": "2026-09-01T08:00:00Z", "end": "2026-09-02"}},
            datetime(2026, 9, 1, 8, tzinfo=UTC),
        ),
        (
            {"effectiveInstant": "2026-08-01T08:00:00.123Z"},
            datetime(2026, 8, 1, 8, 0, 0, 123000, tzinfo=UTC),
        ),
        ({"issued": "2026-07-01T08:00:00+00:00"}, datetime(2026, 7, 1, 8, tzinfo=UTC)),
        (
            {"effectiveDateTime": "garbage", "issued": "2026-07-01T08:00:00Z"},
            datetime(2026, 7, 1, 8, tzinfo=UTC),
        ),
    ],
)
def test_effective_dates(engine: ClinicalEngine, when: dict[str, Any], expected: datetime) -> None:
    facts = facts_of(engine, observation("1742-6", value=40, unit="U/L", when=when))
    assert facts.labs["alt"][0].when == expected


def test_observation_without_date_is_reported(engine: ClinicalEngine) -> None:
    facts = facts_of(engine, observation("1742-6", value=40, unit="U/L", when={}))
    assert "alt" not in facts.labs
    assert "missing-date" in note_codes(facts)


def test_partial_dates_denote_intervals() -> None:
    year = parse_fhir_time("2024")
    month = parse_fhir_time("2024-02")
    assert year is not None
    assert month is not None
    assert year.end.date() == date(2024, 12, 31)
    assert month.end.date() == date(2024, 2, 29)
    assert parse_fhir_time("2024-13") is None
    assert parse_fhir_time(20240101) is None


def test_results_sorted_newest_first(engine: ClinicalEngine) -> None:
    facts = facts_of(engine, lab("alt", 1, 30), lab("alt", 2, 5), lab("alt", 3, 60))
    assert [r.original_value for r in facts.labs["alt"]] == [2, 1, 3]


# --- censored and coded values ----------------------------------------------------------------


def test_censored_comparator(engine: ClinicalEngine) -> None:
    result = facts_of(engine, lab("hcv-rna", 15, comparator="<")).labs["hcv-rna"][0]
    assert result.comparator == "<"
    assert result.detected is False


@pytest.mark.parametrize("text", ["<10", "< 10 IU/mL", "<=15"])
def test_censored_strings_mean_undetectable_viral_load(engine: ClinicalEngine, text: str) -> None:
    result = facts_of(engine, observation("11011-4", value_string=text)).labs["hcv-rna"][0]
    assert result.detected is False
    assert result.value is None


@pytest.mark.parametrize(
    "text", ["Not detected", "Target not detected", "TARGET NOT DETECTED", "Undetectable"]
)
def test_not_detected_strings(engine: ClinicalEngine, text: str) -> None:
    assert (
        facts_of(engine, observation("42595-9", value_string=text)).labs["hbv-dna"][0].detected
        is False
    )


def test_coded_answers(engine: ClinicalEngine) -> None:
    facts = facts_of(
        engine, observation("5196-1", answer=POSITIVE), observation("11259-9", answer=NEGATIVE)
    )
    assert facts.labs["hbsag"][0].detected is True
    assert facts.labs["hcv-rna"][0].detected is False


def test_interpretation_for_qualitative(engine: ClinicalEngine) -> None:
    obs = observation("13955-0")
    obs["interpretation"] = [{"coding": [{"code": "POS"}]}]
    assert facts_of(engine, obs).labs["hcv-antibody"][0].detected is True


def test_viral_load_quantity_means_detected(engine: ClinicalEngine) -> None:
    result = facts_of(engine, lab("hbv-dna", 350)).labs["hbv-dna"][0]
    assert result.detected is True
    assert result.value == 350


def test_hbv_copies_keeps_detectability_not_quantity(engine: ClinicalEngine) -> None:
    facts = facts_of(engine, observation("29615-2", value=5000, unit="copies/mL"))
    result = facts.labs["hbv-dna"][0]
    assert result.value is None
    assert result.detected is True
    assert "unknown-unit" in note_codes(facts)


def test_reference_range_converted(engine: ClinicalEngine) -> None:
    result = facts_of(engine, lab("bilirubin-si", 20, ref_high=20.52, ref_low=3.42)).labs[
        "bilirubin"
    ][0]
    assert result.ref_high == pytest.approx(1.2)
    assert result.ref_low == pytest.approx(0.2)


def test_reference_range_without_unit_read_in_result_unit(engine: ClinicalEngine) -> None:
    obs = lab("ast", 50)
    obs["referenceRange"] = [{"high": {"value": 40}}]
    assert facts_of(engine, obs).labs["ast"][0].ref_high == 40


# --- patient ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "age"),
    [("1971-11-01", 55), ("1971-11-02", 54), ("1971-10-31", 55), ("1971", 55), ("1971-12", 54)],
)
def test_age_at_evaluation_date(engine: ClinicalEngine, birth: str, age: int) -> None:
    facts = facts_of(engine, pat=patient("female", birth))
    assert facts.patient.age_years == age
    assert facts.patient.sex == "female"


@pytest.mark.parametrize("gender", ["other", "unknown", None, 7])
def test_sex_unknown(engine: ClinicalEngine, gender: Any) -> None:
    pat: dict[str, Any] = {
        "resourceType": "Patient",
        "id": "p1",
        "birthDate": "1970-01-01",
        "gender": gender,
    }
    facts = facts_of(engine, pat=pat)
    assert facts.patient.sex is None
    assert "sex-unknown" in note_codes(facts)


def test_no_patient(engine: ClinicalEngine) -> None:
    facts = Normaliser(engine.ruleset).facts(PatientData(patient=None), NOW)
    assert facts.patient.age_years is None
    assert "missing-patient" in note_codes(facts)


def test_fetch_notes_pass_through(engine: ClinicalEngine) -> None:
    from cds_service.clinical.model import DataQualityNote

    note = DataQualityNote("page-cap", "Only the first 5 pages were read.")
    assessment = engine.evaluate(PatientData(patient=patient(), fetch_notes=(note,)), NOW)
    assert note in assessment.data_quality


@pytest.mark.parametrize(
    "bad",
    [
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "1742-6"}]},
            "effectiveDateTime": "2026-10-01",
            "valueQuantity": {"value": "55", "unit": "U/L"},
        },
        {"resourceType": "Observation", "status": "final", "code": {"coding": "1742-6"}},
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "1742-6"}]},
            "effectiveDateTime": "2026-10-01",
            "valueQuantity": {"value": True, "unit": "U/L"},
        },
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "1742-6"}]},
            "effectiveDateTime": "2026-10-01",
            "valueQuantity": {"value": float("nan"), "unit": "U/L"},
        },
    ],
)
def test_malformed_values_skipped(engine: ClinicalEngine, bad: dict[str, Any]) -> None:
    facts = facts_of(engine, bad)
    assert "alt" not in facts.labs


def test_non_object_entries_reported(engine: ClinicalEngine) -> None:
    broken = PatientData(patient=patient(), observations=["x", 3, None], conditions=[[]])  # type: ignore[list-item]
    facts = Normaliser(engine.ruleset).facts(broken, NOW)
    assert note_codes(facts).count("malformed-resource") == 4


def test_condition_icd_system_must_match(engine: ClinicalEngine) -> None:
    assert facts_of(engine, condition("K76.0", "http://hl7.org/fhir/sid/icd-10")).conditions == {}
    assert facts_of(engine, condition("K76.0", ICD10)).conditions != {}
