"""Bad input never crashes the engine: hypothesis-generated junk resources (spec §1, issue 3)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_service.clinical import ClinicalEngine
from cds_service.clinical.model import Outcome, PatientData
from tests.clinical.fhir import ICD10, LOINC, NOW, SNOMED, masld_candidate, patient

ENGINE = ClinicalEngine.load()

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=12,
)
codes = st.sampled_from(
    [
        "1742-6",
        "1920-8",
        "6301-6",
        "777-3",
        "42595-9",
        "45161-7",
        "11011-4",
        "5196-1",
        "77615-3",
        "K74.60",
        "C22.0",
        "R18",
        "Z76.82",
        "19943007",
        "260415000",
        "11289",
        "",
    ]
)
systems = st.sampled_from(
    [
        LOINC,
        SNOMED,
        ICD10,
        "http://www.nlm.nih.gov/research/umls/rxnorm",
        "urn:msc-liver-screening:procedure",
        "urn:oid:2.16.840.1.113883.6.1",
        "",
    ]
)
codings = st.fixed_dictionaries(
    {"system": systems | scalars, "code": codes | scalars}, optional={"display": scalars}
)
concepts = st.fixed_dictionaries(
    {},
    optional={"coding": st.lists(codings | json_values, max_size=3) | json_values, "text": scalars},
)
dates = st.sampled_from(
    [
        "2026",
        "2026-02",
        "2026-10-01",
        "2026-10-01T10:00:00Z",
        "2026-10-01T10:00:00+14:00",
        "2026-13-45",
        "0001-01-01T00:00:00-12:00",
        "9999-12-31T23:59:59+00:00",
        "9999",
        "yesterday",
        "",
    ]
)
quantities = st.fixed_dictionaries(
    {},
    optional={
        "value": scalars | st.floats(min_value=-1e308, max_value=1e308),
        "unit": st.sampled_from(
            ["U/L", "mg/dL", "umol/L", "g/L", "10*3/uL", "[log_10]{IU}/mL", "kPa", "??"]
        )
        | scalars,
        "code": scalars,
        "comparator": st.sampled_from(["<", ">", "<=", ">=", "ad"]) | scalars,
    },
)
FIELDS: dict[str, Any] = {
    "resourceType": st.sampled_from(
        [
            "Observation",
            "Condition",
            "MedicationRequest",
            "MedicationStatement",
            "Procedure",
            "Patient",
        ]
    )
    | scalars,
    "id": scalars,
    "status": st.sampled_from(["final", "amended", "preliminary", "active", "completed", "stopped"])
    | scalars,
    "code": concepts | json_values,
    "clinicalStatus": concepts | json_values,
    "verificationStatus": concepts | json_values,
    "effectiveDateTime": dates | scalars,
    "effectivePeriod": st.fixed_dictionaries({}, optional={"start": dates | scalars, "end": dates})
    | json_values,
    "effectiveInstant": dates | scalars,
    "issued": dates | scalars,
    "onsetDateTime": dates | scalars,
    "onsetPeriod": json_values,
    "abatementDateTime": dates | scalars,
    "recordedDate": dates | scalars,
    "performedDateTime": dates | scalars,
    "performedPeriod": json_values,
    "authoredOn": dates | scalars,
    "valueQuantity": quantities | json_values,
    "valueString": st.sampled_from(["<10", "Not detected", "detected", "> 1.0E8", "<", "1e999"])
    | scalars,
    "valueCodeableConcept": concepts | json_values,
    "valueInteger": scalars,
    "interpretation": st.lists(concepts, max_size=2) | json_values,
    "referenceRange": st.lists(
        st.fixed_dictionaries({}, optional={"low": quantities, "high": quantities}), max_size=2
    )
    | json_values,
    "medicationCodeableConcept": concepts | json_values,
    "medicationReference": json_values,
    "contained": json_values,
    "dispenseRequest": json_values,
    "gender": st.sampled_from(["male", "female", "other"]) | scalars,
    "birthDate": dates | scalars,
}
resources = st.fixed_dictionaries({}, optional=FIELDS)
junk_lists = st.lists(resources | json_values, max_size=6)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(junk_lists, junk_lists, junk_lists, junk_lists, resources | json_values)
def test_junk_resources_never_raise(
    observations: list[Any],
    conditions: list[Any],
    medications: list[Any],
    procedures: list[Any],
    pat: Any,
) -> None:
    good = masld_candidate()
    data = PatientData(
        patient=pat,
        conditions=[*conditions, *[r for r in good if r["resourceType"] == "Condition"]],
        observations=[*observations, *[r for r in good if r["resourceType"] == "Observation"]],
        medications=medications,
        procedures=procedures,
    )
    assessment = ENGINE.evaluate(data, NOW)
    assert isinstance(assessment.outcome, Outcome)
    for note in assessment.data_quality:
        assert note.message


@settings(max_examples=120, deadline=None)
@given(st.lists(resources, max_size=8))
def test_shaped_resources_in_any_slot(items: list[Any]) -> None:
    data = PatientData(
        patient=patient(), conditions=items, observations=items, medications=items, procedures=items
    )
    assert isinstance(ENGINE.evaluate(data, NOW).outcome, Outcome)


@given(json_values)
def test_any_json_as_the_lists(value: Any) -> None:
    data = PatientData(
        patient=value, conditions=value, observations=value, medications=value, procedures=value
    )
    assert isinstance(ENGINE.evaluate(data, NOW).outcome, Outcome)


def _pool() -> list[dict[str, Any]]:
    from tests.clinical.fhir import (
        WARFARIN,
        condition,
        infusion,
        lab,
        medication,
        observation,
        panel,
        qual,
    )

    return [
        condition("K76.0"),
        condition("K74.60"),
        condition("C22.0", clinical="resolved", onset_days=200),
        condition("B18.1"),
        condition("K75.4"),
        condition("R18.8", clinical="resolved", abatement_days=300),
        condition("Z79.01"),
        condition("U07.1", onset_days=150),
        condition("E11.9"),
        lab("alt", 80, 70),
        lab("alt", 90, 20),
        lab("alt", 20, 5),
        lab("hbv-dna", 3000, 20),
        lab("hbv-dna", 50, 100),
        lab("liver-stiffness", 16, 40),
        lab("creatinine", 1.1),
        lab("sodium", 134),
        observation("11011-4", days=30, value_string="Not detected"),
        qual("hbsag", True),
        medication(WARFARIN),
        infusion(60),
        *panel(15),
    ]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_order_of_resources_never_changes_the_answer(drawn: st.DataObject) -> None:
    from tests.clinical.fhir import data

    pool = _pool()
    chosen = drawn.draw(
        st.lists(st.sampled_from(range(len(pool))), unique=True, max_size=len(pool))
    )
    resources = [pool[i] for i in chosen]
    shuffled = drawn.draw(st.permutations(resources))
    first = ENGINE.evaluate(data(*resources), NOW)
    second = ENGINE.evaluate(data(*shuffled), NOW)
    assert first.outcome is second.outcome
    assert [(r.id, r.status) for r in first.rules] == [(r.id, r.status) for r in second.rules]
    assert [s.value for s in first.scores] == [s.value for s in second.scores]
    assert {w.id for w in first.workup} == {w.id for w in second.workup}


@pytest.mark.parametrize("status", [[], ["final"], {"code": "final"}, 1, None])
@pytest.mark.parametrize("resource_type", ["Observation", "MedicationRequest", "Procedure"])
def test_status_of_the_wrong_type_is_read_as_no_status(
    engine: ClinicalEngine, status: object, resource_type: str
) -> None:
    """A status must be a code (string); a list or object is not a crash (it was once)."""
    resource: dict[str, object] = {"resourceType": resource_type, "id": "x", "status": status}
    if resource_type == "Observation":
        resource["code"] = {"coding": [{"system": "http://loinc.org", "code": "1742-6"}]}
        resource["valueQuantity"] = {"value": 50, "unit": "U/L", "code": "U/L"}
        resource["effectiveDateTime"] = "2026-10-01"
        data = PatientData(patient=None, observations=[resource])
    elif resource_type == "MedicationRequest":
        resource["medicationCodeableConcept"] = {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "11289"}]
        }
        data = PatientData(patient=None, medications=[resource])
    else:
        resource["code"] = {
            "coding": [{"system": "urn:msc-liver-screening:procedure", "code": "msc-infusion"}]
        }
        data = PatientData(patient=None, procedures=[resource])
    engine.evaluate(data, NOW)
