"""Small factories that emit real FHIR R4 JSON dicts for clinical-engine tests.

Dates are written relative to ``NOW`` ("days ago") so each test reads as a clinical story.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from cds_service.clinical.model import PatientData

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
MSC_SYSTEM = "urn:msc-liver-screening:procedure"

_ids = itertools.count(1)

#: analyte -> (LOINC, UCUM unit) of the usual result
LABS: Mapping[str, tuple[str, str | None]] = {
    "alt": ("1742-6", "U/L"),
    "ast": ("1920-8", "U/L"),
    "ggt": ("2324-2", "U/L"),
    "alp": ("6768-6", "U/L"),
    "bilirubin": ("1975-2", "mg/dL"),
    "bilirubin-si": ("14631-6", "umol/L"),
    "albumin": ("1751-7", "g/dL"),
    "inr": ("6301-6", "{INR}"),
    "pt": ("5902-2", "s"),
    "platelets": ("777-3", "10*3/uL"),
    "sodium": ("2951-2", "mmol/L"),
    "creatinine": ("2160-0", "mg/dL"),
    "hbv-dna": ("42595-9", "[IU]/mL"),
    "hbv-dna-log": ("45161-7", "[log_10]{IU}/mL"),
    "hcv-rna": ("11011-4", "[IU]/mL"),
    "liver-stiffness": ("77615-3", "kPa"),
    "hba1c": ("4548-4", "%"),
    "ferritin": ("2276-4", "ng/mL"),
    "cholesterol": ("2093-3", "mg/dL"),
}
QUALITATIVE: Mapping[str, str] = {
    "hbsag": "5196-1",
    "hcv-antibody": "13955-0",
    "ana": "8061-4",
    "asma": "8095-2",
    "sars-cov-2": "94500-6",
    "hcv-rna-qual": "11259-9",
}
POSITIVE = {"system": SNOMED, "code": "260373001", "display": "Detected"}
NEGATIVE = {"system": SNOMED, "code": "260415000", "display": "Not detected"}

# RxNorm ingredients
WARFARIN, APIXABAN, AZATHIOPRINE, PREDNISONE, URSODIOL, ENTECAVIR = (
    "11289",
    "1364430",
    "1256",
    "8640",
    "62427",
    "306266",
)


def day(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).date().isoformat()


def new_id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def observation(
    code: str,
    *,
    days: float = 10,
    value: float | None = None,
    unit: str | None = None,
    ucum: bool = True,
    status: str = "final",
    comparator: str | None = None,
    value_string: str | None = None,
    answer: Mapping[str, str] | None = None,
    ref_high: float | None = None,
    ref_low: float | None = None,
    system: str = LOINC,
    rid: str | None = None,
    when: dict[str, Any] | None = None,
) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": rid or new_id("obs"),
        "status": status,
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": "Patient/p1"},
    }
    obs.update(when if when is not None else {"effectiveDateTime": f"{day(days)}T09:30:00+02:00"})
    if value is not None:
        quantity: dict[str, Any] = {"value": value}
        if unit is not None:
            quantity["unit"] = unit
            if ucum:
                quantity.update(system=UCUM, code=unit)
        if comparator:
            quantity["comparator"] = comparator
        obs["valueQuantity"] = quantity
    elif value_string is not None:
        obs["valueString"] = value_string
    elif answer is not None:
        obs["valueCodeableConcept"] = {"coding": [dict(answer)], "text": answer.get("display", "")}
    if ref_high is not None or ref_low is not None:
        rng: dict[str, Any] = {}
        if ref_low is not None:
            rng["low"] = {"value": ref_low, "unit": unit, "system": UCUM, "code": unit}
        if ref_high is not None:
            rng["high"] = {"value": ref_high, "unit": unit, "system": UCUM, "code": unit}
        obs["referenceRange"] = [rng]
    return obs


def lab(name: str, value: float, days: float = 10, **kw: Any) -> dict[str, Any]:
    code, unit = LABS[name]
    kw.setdefault("unit", unit)
    return observation(code, days=days, value=value, **kw)


def qual(name: str, positive: bool, days: float = 30, **kw: Any) -> dict[str, Any]:
    return observation(
        QUALITATIVE[name], days=days, answer=POSITIVE if positive else NEGATIVE, **kw
    )


def panel(days: float = 10, **overrides: float | None) -> list[dict[str, Any]]:
    """A normal liver panel + platelets (override any value; None drops it)."""
    values: dict[str, float | None] = {
        "alt": 20.0,
        "ast": 22.0,
        "ggt": 20.0,
        "bilirubin": 0.7,
        "inr": 1.0,
        "albumin": 4.3,
        "platelets": 230.0,
    }
    values.update(overrides)
    out = []
    for name, value in values.items():
        if value is None:
            continue
        kw: dict[str, Any] = {}
        if name == "ast":
            kw["ref_high"] = 40.0
        out.append(lab(name, value, days, **kw))
    return out


def elevated_alt(
    first_days: float = 70, last_days: float = 10, value: float = 80
) -> list[dict[str, Any]]:
    return [lab("alt", value, first_days), lab("alt", value, last_days)]


def condition(
    code: str,
    system: str = ICD10,
    *,
    clinical: str | None = "active",
    verification: str | None = "confirmed",
    onset_days: float | None = 400,
    abatement_days: float | None = None,
    display: str | None = None,
    rid: str | None = None,
) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    cond: dict[str, Any] = {
        "resourceType": "Condition",
        "id": rid or new_id("cond"),
        "code": {"coding": [coding]},
        "subject": {"reference": "Patient/p1"},
    }
    if clinical is not None:
        cond["clinicalStatus"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": clinical,
                }
            ]
        }
    if verification is not None:
        cond["verificationStatus"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": verification,
                }
            ]
        }
    if onset_days is not None:
        cond["onsetDateTime"] = day(onset_days)
    if abatement_days is not None:
        cond["abatementDateTime"] = day(abatement_days)
    return cond


def medication(
    rxnorm: str, *, status: str = "active", start_days: float = 400, kind: str = "MedicationRequest"
) -> dict[str, Any]:
    med: dict[str, Any] = {
        "resourceType": kind,
        "id": new_id("med"),
        "status": status,
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": rxnorm}],
            "text": "ignored text",
        },
        "subject": {"reference": "Patient/p1"},
    }
    if kind == "MedicationRequest":
        med["intent"] = "order"
        med["authoredOn"] = day(start_days)
    else:
        med["effectivePeriod"] = {"start": day(start_days)}
    return med


def infusion(
    days: float, *, status: str = "completed", code: str = "msc-infusion"
) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": new_id("proc"),
        "status": status,
        "code": {"coding": [{"system": MSC_SYSTEM, "code": code}]},
        "subject": {"reference": "Patient/p1"},
        "performedDateTime": f"{day(days)}T10:00:00Z",
    }


def patient(sex: str | None = "male", birth: str | None = "1970-05-01") -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": "Patient", "id": "p1"}
    if sex is not None:
        out["gender"] = sex
    if birth is not None:
        out["birthDate"] = birth
    return out


def data(
    *resources: dict[str, Any] | Iterable[dict[str, Any]],
    pat: dict[str, Any] | None = None,
    sex: str | None = "male",
) -> PatientData:
    flat: list[dict[str, Any]] = []
    for item in resources:
        if isinstance(item, dict):
            flat.append(item)
        else:
            flat.extend(item)
    kinds: dict[str, list[dict[str, Any]]] = {
        "Observation": [],
        "Condition": [],
        "Med": [],
        "Procedure": [],
    }
    for res in flat:
        rtype = res["resourceType"]
        kinds["Med" if rtype.startswith("Medication") else rtype].append(res)
    return PatientData(
        patient=pat if pat is not None else patient(sex),
        conditions=kinds["Condition"],
        observations=kinds["Observation"],
        medications=kinds["Med"],
        procedures=kinds["Procedure"],
    )


def masld_candidate(**panel_overrides: float | None) -> list[dict[str, Any]]:
    """MASLD, ALT 80 U/L 70 and 10 days ago, full panel, FIB-4 inputs: meets the criteria."""
    overrides: dict[str, float | None] = {"alt": 80.0}
    overrides.update(panel_overrides)
    return [condition("K76.0"), lab("alt", 80, 70), *panel(10, **overrides)]
