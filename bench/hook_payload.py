"""A realistic patient-view hook for benchmarks: 1 Patient, 100 Observations, 10 Conditions.

Resources look like what an EHR sends (meta, category, coded values with UCUM units,
reference ranges, interpretations), so the body is about 140 KiB like the one measured in
the performance notes. Deterministic: the same call gives the same bytes.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

PATIENT_ID = "bench-patient-1"

# LOINC code, display, UCUM unit, typical value, reference low, high
LABS: tuple[tuple[str, str, str, float, float, float], ...] = (
    (
        "1742-6",
        "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        58,
        7,
        33,
    ),
    (
        "1920-8",
        "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        44,
        8,
        32,
    ),
    ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", 210, 150, 400),
    ("1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma", "mg/dL", 0.9, 0.1, 1.2),
    ("1751-7", "Albumin [Mass/volume] in Serum or Plasma", "g/dL", 4.1, 3.5, 5.0),
    ("6301-6", "INR in Platelet poor plasma by Coagulation assay", "{INR}", 1.0, 0.8, 1.2),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.9, 0.7, 1.3),
    ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 139, 135, 145),
    (
        "2324-2",
        "Gamma glutamyl transferase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        61,
        8,
        61,
    ),
    (
        "6768-6",
        "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        96,
        40,
        129,
    ),
)

CONDITIONS: tuple[tuple[str, str], ...] = (
    ("197321007", "Steatosis of liver"),
    ("38341003", "Hypertensive disorder"),
    ("44054006", "Diabetes mellitus type 2"),
    ("55822004", "Hyperlipidemia"),
    ("414916001", "Obesity"),
    ("73430006", "Sleep apnea"),
    ("235595009", "Gastroesophageal reflux disease"),
    ("35489007", "Depressive disorder"),
    ("396275006", "Osteoarthritis"),
    ("195967001", "Asthma"),
)


def _observation(n: int, today: date) -> dict[str, Any]:
    code, display, unit, value, low, high = LABS[n % len(LABS)]
    when = today - timedelta(days=30 * (n // len(LABS)) + 3)
    v = round(value * (1 + 0.02 * ((n * 7) % 5 - 2)), 2)
    return {
        "resourceType": "Observation",
        "id": f"bench-obs-{n}",
        "meta": {"versionId": "1", "lastUpdated": f"{when.isoformat()}T09:00:00Z"},
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                        "display": "Laboratory",
                    }
                ]
            }
        ],
        "code": {
            "coding": [{"system": "http://loinc.org", "code": code, "display": display}],
            "text": display,
        },
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "encounter": {"reference": f"Encounter/bench-enc-{n // len(LABS)}"},
        "effectiveDateTime": f"{when.isoformat()}T08:30:00Z",
        "issued": f"{when.isoformat()}T10:00:00.000Z",
        "performer": [{"reference": "Organization/bench-lab", "display": "Hospital laboratory"}],
        "valueQuantity": {
            "value": v,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
        "interpretation": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                        "code": "H" if v > high else "N",
                        "display": "High" if v > high else "Normal",
                    }
                ]
            }
        ],
        "referenceRange": [
            {
                "low": {
                    "value": low,
                    "unit": unit,
                    "system": "http://unitsofmeasure.org",
                    "code": unit,
                },
                "high": {
                    "value": high,
                    "unit": unit,
                    "system": "http://unitsofmeasure.org",
                    "code": unit,
                },
                "text": f"{low}-{high} {unit}",
            }
        ],
    }


def _condition(n: int) -> dict[str, Any]:
    code, display = CONDITIONS[n % len(CONDITIONS)]
    return {
        "resourceType": "Condition",
        "id": f"bench-cond-{n}",
        "meta": {"versionId": "1", "lastUpdated": "2025-06-01T09:00:00Z"},
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "verificationStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": "confirmed",
                }
            ]
        },
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                        "code": "problem-list-item",
                    }
                ]
            }
        ],
        "code": {
            "coding": [{"system": "http://snomed.info/sct", "code": code, "display": display}],
            "text": display,
        },
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "onsetDateTime": "2019-03-01",
        "recordedDate": "2019-03-02",
    }


def _searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {
                "fullUrl": f"https://ehr.example.org/fhir/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }


def realistic_hook(today: date, observations: int = 100, conditions: int = 10) -> dict[str, Any]:
    return {
        "hookInstance": "2b5a6d1e-8d8c-4a8e-9f3b-6b1f3f1c2a77",
        "hook": "patient-view",
        "fhirServer": "https://ehr.example.org/fhir",
        "context": {
            "userId": "Practitioner/bench-dr",
            "patientId": PATIENT_ID,
            "encounterId": "bench-enc-0",
        },
        "prefetch": {
            "patient": {
                "resourceType": "Patient",
                "id": PATIENT_ID,
                "meta": {"versionId": "3", "lastUpdated": "2025-06-01T09:00:00Z"},
                "identifier": [{"system": "urn:oid:1.2.36.146.595.217.0.1", "value": "12345"}],
                "active": True,
                "name": [{"use": "official", "family": "Example", "given": ["Bench"]}],
                "gender": "male",
                "birthDate": "1968-04-12",
                "address": [{"city": "Springfield", "country": "US"}],
            },
            "conditions": _searchset([_condition(n) for n in range(conditions)]),
            "observations": _searchset([_observation(n, today) for n in range(observations)]),
            "medications": _searchset([]),
            "medicationStatements": _searchset([]),
            "procedures": _searchset([]),
        },
    }
