#!/usr/bin/env python3
"""Generate the synthetic fixture patients in ``fhir_fixtures/`` (deterministic).

Each scenario is one FHIR R4 transaction Bundle (``<scenario>.bundle.json``: every entry a
PUT with a stable id, so loading it twice is harmless) and one expected-outcome file
(``<scenario>.expected.json``) that the clinical acceptance test
(tests/fixtures/test_expected_outcomes.py) checks against the engine and the cards.

Dates are written as absolute instants computed from one fixed evaluation time
(``EVALUATION_TIME``), which is recorded in every expected file: tests freeze the clock
there. Re-running the script produces byte-identical files.

Usage: ``python scripts/generate_fixtures.py [--out fhir_fixtures] [--check]``
(``--check`` exits 1 when the files on disk differ from what the script would write).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from generated_files import check, write  # scripts/, the script's own folder

EVALUATION_TIME = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
SPEC = "clinical-rules-v1"

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
MSC_PROCEDURE_SYSTEM = "urn:msc-liver-screening:procedure"
MSC_PROCEDURE_CODE = "msc-infusion"
CLINICAL_STATUS = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION_STATUS = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"

Json = dict[str, Any]


# --------------------------------------------------------------------------- lab catalogue
@dataclass(frozen=True)
class Lab:
    loinc: str
    display: str
    unit: str  # UCUM code (also shown as the human unit)
    low: float | None = None
    high: float | None = None
    category: str = "laboratory"


LABS: dict[str, Lab] = {
    "alt": Lab(
        "1742-6",
        "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        7,
        55,
    ),
    "ast": Lab(
        "1920-8",
        "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        8,
        40,
    ),
    "ggt": Lab(
        "2324-2",
        "Gamma glutamyl transferase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        8,
        61,
    ),
    "alp": Lab(
        "6768-6",
        "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        40,
        120,
    ),
    "bilirubin": Lab(
        "1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma", "mg/dL", 0.1, 1.2
    ),
    "bilirubin-si": Lab(
        "14631-6", "Bilirubin.total [Moles/volume] in Serum or Plasma", "umol/L", 2, 21
    ),
    "albumin": Lab("1751-7", "Albumin [Mass/volume] in Serum or Plasma", "g/dL", 3.5, 5.0),
    "albumin-si": Lab(
        "61151-7",
        "Albumin [Mass/volume] in Serum or Plasma by Bromocresol green (BCG) dye binding method",
        "g/L",
        35,
        50,
    ),
    "inr": Lab("6301-6", "INR in Platelet poor plasma by Coagulation assay", "{INR}", 0.8, 1.1),
    "pt": Lab("5902-2", "Prothrombin time (PT)", "s", 11.0, 13.5),
    "platelets": Lab(
        "777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", 150, 400
    ),
    "platelets-si": Lab("26515-7", "Platelets [#/volume] in Blood", "10*9/L", 150, 400),
    "creatinine": Lab("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.7, 1.3),
    "creatinine-si": Lab(
        "14682-9", "Creatinine [Moles/volume] in Serum or Plasma", "umol/L", 62, 115
    ),
    "sodium": Lab("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 135, 145),
    "hbv-dna": Lab(
        "42595-9",
        "Hepatitis B virus DNA [#/volume] (viral load) in Serum or Plasma by NAA with probe detection",  # noqa: E501
        "[IU]/mL",
    ),
    "hbv-dna-log": Lab(
        "45161-7",
        "Hepatitis B virus DNA [log units/volume] (viral load) in Serum or Plasma by NAA with probe detection",  # noqa: E501
        "{Log_IU}/mL",
    ),
    "hcv-rna": Lab(
        "11011-4",
        "Hepatitis C virus RNA [Units/volume] (viral load) in Serum or Plasma by NAA with probe detection",  # noqa: E501
        "[IU]/mL",
    ),
    "hbsag": Lab(
        "5196-1", "Hepatitis B virus surface Ag [Presence] in Serum or Plasma by Immunoassay", ""
    ),
    "hcv-ab": Lab(
        "13955-0", "Hepatitis C virus Ab [Presence] in Serum or Plasma by Immunoassay", ""
    ),
    "ana": Lab("8061-4", "Nuclear Ab [Presence] in Serum", ""),
    "asma": Lab("8095-2", "Smooth muscle Ab [Presence] in Serum", ""),
    "hba1c": Lab("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 4.0, 5.6),
    "ferritin": Lab("2276-4", "Ferritin [Mass/volume] in Serum or Plasma", "ng/mL", 24, 336),
    "cholesterol": Lab(
        "2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", None, 200
    ),
    "stiffness": Lab(
        "77615-3", "Liver stiffness by transient elastography", "kPa", category="imaging"
    ),
    "sars-cov-2": Lab(
        "94500-6",
        "SARS-CoV-2 (COVID-19) RNA [Presence] in Respiratory specimen by NAA with probe detection",
        "",
    ),
}

# A complete, normal liver panel (+ platelets, creatinine, sodium); scenarios override.
NORMAL_PANEL: dict[str, float] = {
    "alt": 22,
    "ast": 24,
    "ggt": 30,
    "alp": 80,
    "bilirubin": 0.7,
    "albumin": 4.3,
    "inr": 1.0,
    "platelets": 240,
}
RENAL: dict[str, float] = {"creatinine": 0.9, "sodium": 140}

# --------------------------------------------------------------------------- condition codes
CONDITIONS: dict[str, tuple[str | None, str | None, str | None, str]] = {
    # key: (SNOMED, ICD-10-CM code with dot, display)
    "masld": ("197315008", "K76.0", None, "Non-alcoholic fatty liver disease"),
    "nash": ("442685003", "K75.81", None, "Nonalcoholic steatohepatitis (NASH)"),
    "aih": ("408335007", "K75.4", None, "Autoimmune hepatitis"),
    "pbc": ("31712002", "K74.3", None, "Primary biliary cholangitis"),
    "psc": ("197441003", "K83.01", None, "Primary sclerosing cholangitis"),
    "hbv": ("61977001", "B18.1", None, "Chronic viral hepatitis B without delta agent"),
    "hcv": ("128302006", "B18.2", None, "Chronic viral hepatitis C"),
    "fibrosis-f2": (None, "K74.01", None, "Hepatic fibrosis, early fibrosis"),
    "fibrosis-f3": (None, "K74.02", None, "Hepatic fibrosis, advanced fibrosis"),
    "cirrhosis": ("19943007", "K74.60", None, "Unspecified cirrhosis of liver"),
    "hcc": ("109841003", "C22.0", None, "Liver cell carcinoma"),
    "ascites": ("389026000", "R18.8", None, "Other ascites"),
    "varices-bleeding": ("17709002", "I85.11", None, "Secondary esophageal varices with bleeding"),
    "encephalopathy": ("13920009", "K76.82", None, "Hepatic encephalopathy"),
    "liver-failure": ("59927004", "K72.10", None, "Chronic hepatic failure without coma"),
    "transplant-listed": (None, "Z76.82", None, "Awaiting organ transplant status"),
    "liver-transplant": (None, "Z94.4", None, "Liver transplant status"),
    "von-willebrand": ("128105004", "D68.0", None, "Von Willebrand disease"),
    "long-term-anticoagulants": (None, "Z79.01", None, "Long term (current) use of anticoagulants"),
    "covid": ("840539006", "U07.1", None, "COVID-19"),
    "post-covid": ("1119303003", "U09.9", None, "Post COVID-19 condition"),
    "t2dm": ("44054006", "E11.9", None, "Type 2 diabetes mellitus without complications"),
    "metabolic-syndrome": ("237602007", "E88.810", None, "Metabolic syndrome"),
    "hypertension": ("38341003", "I10", None, "Essential hypertension"),
}

MEDICATIONS: dict[str, tuple[str, str]] = {
    "warfarin": ("11289", "warfarin"),
    "apixaban": ("1364430", "apixaban"),
    "azathioprine": ("1256", "azathioprine"),
    "prednisolone": ("8638", "prednisolone"),
    "ursodiol": ("62427", "ursodiol"),
    "tenofovir": ("300195", "tenofovir disoproxil"),
    "entecavir": ("306266", "entecavir"),
    "sofosbuvir-velpatasvir": ("1804799", "sofosbuvir / velpatasvir"),
    "metformin": ("6809", "metformin"),
}


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def days_ago(days: float) -> datetime:
    return EVALUATION_TIME - timedelta(days=days)


def birth_date(age_years: int) -> str:
    """A birth date giving ``age_years`` on the evaluation date."""
    birthday = (EVALUATION_TIME - timedelta(days=60)).date()  # last birthday: 60 days ago
    return date(birthday.year - age_years, birthday.month, min(birthday.day, 28)).isoformat()


# --------------------------------------------------------------------------- scenario builder
@dataclass
class Scenario:
    name: str
    title: str
    description: str
    sex: str
    age: int
    outcome: str
    reason_ids: list[str] = field(default_factory=list)
    absent_reason_ids: list[str] = field(default_factory=list)
    rule_status: dict[str, str] = field(default_factory=dict)
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)
    post_infusion_monitoring: dict[str, str] | None = None
    evidence: dict[str, list[str]] = field(default_factory=dict)
    #: phrases the cards must contain (case-insensitive): messages the spec requires
    card_text: list[str] = field(default_factory=list)
    covers: list[str] = field(default_factory=list)
    resources: list[Json] = field(default_factory=list)
    _counters: dict[str, int] = field(default_factory=dict)
    name_given: str = "Alex"

    @property
    def patient_id(self) -> str:
        return f"mscfx-{self.name}"[:64]

    def _next_id(self, kind: str) -> str:
        n = self._counters.get(kind, 0) + 1
        self._counters[kind] = n
        return f"{self.patient_id[:52]}-{kind}{n}"

    def subject(self) -> Json:
        return {"reference": f"Patient/{self.patient_id}"}

    # -- resources ---------------------------------------------------------
    def patient(self) -> Json:
        return {
            "resourceType": "Patient",
            "id": self.patient_id,
            "meta": {
                "tag": [
                    {
                        "system": "urn:msc-liver-screening:fixture",
                        "code": "synthetic",
                        "display": "Synthetic test patient",
                    }
                ]
            },
            "identifier": [
                {"system": "urn:msc-liver-screening:fixture-patient", "value": self.name}
            ],
            "active": True,
            "name": [
                {
                    "use": "official",
                    "family": "Fixture",
                    "given": [self.name_given, self.name.replace("-", " ").title()],
                }
            ],
            "gender": self.sex,
            "birthDate": birth_date(self.age),
        }

    def condition(
        self,
        key: str,
        *,
        onset_days_ago: float = 400,
        systems: str = "both",
        clinical_status: str | None = "active",
        verification: str = "confirmed",
        abated_days_ago: float | None = None,
    ) -> Json:
        snomed, icd, _unused, display = CONDITIONS[key]
        codings: list[Json] = []
        # "both": every code the condition has; "snomed"/"icd10": that system only
        if systems in ("both", "snomed") and snomed is not None:
            codings.append({"system": SNOMED, "code": snomed, "display": display})
        if systems in ("both", "icd10") and icd is not None:
            codings.append({"system": ICD10, "code": icd, "display": display})
        if not codings:
            raise ValueError(f"{key} has no {systems} code")
        res: Json = {
            "resourceType": "Condition",
            "id": self._next_id("cond"),
        }
        if clinical_status is not None:
            res["clinicalStatus"] = {
                "coding": [{"system": CLINICAL_STATUS, "code": clinical_status}]
            }
        res["verificationStatus"] = {
            "coding": [{"system": VERIFICATION_STATUS, "code": verification}]
        }
        res["category"] = [
            {"coding": [{"system": CONDITION_CATEGORY, "code": "problem-list-item"}]}
        ]
        res["code"] = {"coding": codings, "text": display}
        res["subject"] = self.subject()
        res["onsetDateTime"] = iso(days_ago(onset_days_ago))
        if abated_days_ago is not None:
            res["abatementDateTime"] = iso(days_ago(abated_days_ago))
        res["recordedDate"] = iso(days_ago(onset_days_ago))
        self.resources.append(res)
        return res

    def lab(
        self,
        key: str,
        value: float | None,
        when_days_ago: float,
        *,
        unit: str | None = None,
        comparator: str | None = None,
        value_string: str | None = None,
        value_code: tuple[str, str] | None = None,
        status: str = "final",
        ref_high: float | None = None,
    ) -> Json:
        lab = LABS[key]
        res: Json = {
            "resourceType": "Observation",
            "id": self._next_id("obs"),
            "status": status,
            "category": [{"coding": [{"system": OBS_CATEGORY, "code": lab.category}]}],
            "code": {
                "coding": [{"system": LOINC, "code": lab.loinc, "display": lab.display}],
                "text": lab.display,
            },
            "subject": self.subject(),
            "effectiveDateTime": iso(days_ago(when_days_ago)),
            "issued": iso(days_ago(when_days_ago) + timedelta(hours=4)),
        }
        if value is not None:
            u = unit if unit is not None else lab.unit
            q: Json = {"value": value}
            if comparator:
                q["comparator"] = comparator
            q.update({"unit": u, "system": UCUM, "code": u})
            res["valueQuantity"] = q
        elif value_string is not None:
            res["valueString"] = value_string
        elif value_code is not None:
            sys_code, text = value_code
            system, code = sys_code.split("|")
            res["valueCodeableConcept"] = {
                "coding": [{"system": system, "code": code, "display": text}],
                "text": text,
            }
        high = ref_high if ref_high is not None else lab.high
        if value is not None and (lab.low is not None or high is not None):
            rr: Json = {}
            if lab.low is not None:
                rr["low"] = {"value": lab.low, "unit": lab.unit, "system": UCUM, "code": lab.unit}
            if high is not None:
                rr["high"] = {"value": high, "unit": lab.unit, "system": UCUM, "code": lab.unit}
            res["referenceRange"] = [rr]
            if high is not None and value > high:
                res["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": "H"}]}]
        self.resources.append(res)
        return res

    def panel(self, when_days_ago: float, **overrides: float) -> dict[str, Json]:
        """The liver panel and platelets at one draw (normal unless overridden)."""
        values = dict(NORMAL_PANEL)
        extra = {k: v for k, v in overrides.items() if k not in values}
        values.update({k: v for k, v in overrides.items() if k in values})
        made = {}
        for key, value in values.items():
            made[key] = self.lab(key, value, when_days_ago)
        for key, value in extra.items():
            made[key] = self.lab(key, value, when_days_ago)
        return made

    def cite(self, rule_id: str, *resources: Json) -> None:
        """Expect ``resources`` among the evidence of ``rule_id`` (the data behind a reason)."""
        refs = self.evidence.setdefault(rule_id, [])
        refs.extend(f"{r['resourceType']}/{r['id']}" for r in resources)

    def medication(
        self,
        key: str,
        *,
        start_days_ago: float,
        end_days_ago: float | None = None,
        kind: str = "MedicationRequest",
        status: str | None = None,
    ) -> Json:
        code, display = MEDICATIONS[key]
        concept = {
            "coding": [{"system": RXNORM, "code": code, "display": display}],
            "text": display,
        }
        if kind == "MedicationRequest":
            res: Json = {
                "resourceType": "MedicationRequest",
                "id": self._next_id("med"),
                "status": status or ("active" if end_days_ago is None else "completed"),
                "intent": "order",
                "medicationCodeableConcept": concept,
                "subject": self.subject(),
                "authoredOn": iso(days_ago(start_days_ago)),
            }
            if end_days_ago is not None:
                res["dispenseRequest"] = {
                    "validityPeriod": {
                        "start": iso(days_ago(start_days_ago)),
                        "end": iso(days_ago(end_days_ago)),
                    }
                }
        else:
            period: Json = {"start": iso(days_ago(start_days_ago))}
            if end_days_ago is not None:
                period["end"] = iso(days_ago(end_days_ago))
            res = {
                "resourceType": "MedicationStatement",
                "id": self._next_id("med"),
                "status": status or ("active" if end_days_ago is None else "completed"),
                "medicationCodeableConcept": concept,
                "subject": self.subject(),
                "effectivePeriod": period,
            }
        self.resources.append(res)
        return res

    def msc_infusion(self, when_days_ago: float) -> Json:
        res: Json = {
            "resourceType": "Procedure",
            "id": self._next_id("proc"),
            "status": "completed",
            "code": {
                "coding": [
                    {
                        "system": MSC_PROCEDURE_SYSTEM,
                        "code": MSC_PROCEDURE_CODE,
                        "display": "Mesenchymal stem cell infusion (investigational)",
                    }
                ],
                "text": "MSC infusion (clinical trial)",
            },
            "subject": self.subject(),
            "performedDateTime": iso(days_ago(when_days_ago)),
        }
        self.resources.append(res)
        return res

    # -- output ------------------------------------------------------------
    def bundle(self) -> Json:
        entries = []
        for res in [self.patient(), *self.resources]:
            rid = f"{res['resourceType']}/{res['id']}"
            entries.append(
                {
                    "fullUrl": f"urn:msc-fixture:{rid}",
                    "resource": res,
                    "request": {"method": "PUT", "url": rid},
                }
            )
        # fullUrl must be an absolute URI; a urn: form keeps the bundle server-neutral.
        return {
            "resourceType": "Bundle",
            "id": f"{self.patient_id}-bundle"[:64],
            "type": "transaction",
            "entry": entries,
        }

    def expected(self) -> Json:
        return {
            "scenario": self.name,
            "title": self.title,
            "description": self.description,
            "patient_id": self.patient_id,
            "evaluation_time": iso(EVALUATION_TIME),
            "spec": SPEC,
            "covers": self.covers,
            "outcome": self.outcome,
            "reason_ids": self.reason_ids,
            "absent_reason_ids": self.absent_reason_ids,
            "rule_status": self.rule_status,
            "scores": self.scores,
            "evidence": self.evidence,
            "card_text": self.card_text,
            "post_infusion_monitoring": self.post_infusion_monitoring,
        }


# Outcome codes (clinical-rules-v1 §4)
NA = "not-applicable"
EXCLUDED = "excluded"
WORKUP = "workup-incomplete"
MEETS = "meets-screening-criteria"
NOT_MEET = "does-not-meet"

SCENARIOS: list[Callable[[], Scenario]] = []


def scenario(fn: Callable[[], Scenario]) -> Callable[[], Scenario]:
    SCENARIOS.append(fn)
    return fn


def masld_baseline(
    s: Scenario,
    *,
    alt_old: float = 58,
    alt_new: float = 64,
    old_days: float = 120,
    new_days: float = 20,
    condition_systems: str = "both",
) -> None:
    """MASLD with ALT above ULN twice >= 4 weeks apart within 6 months, workup complete."""
    masld = s.condition("masld", onset_days_ago=900, systems=condition_systems)
    old = s.lab("alt", alt_old, old_days)
    new = s.panel(new_days, alt=alt_new, ast=45, ggt=70)
    if s.outcome == MEETS:
        s.cite("indication.masld-alt", masld, old, new["alt"])


# --------------------------------------------------------------------------- not applicable
@scenario
def healthy_adult() -> Scenario:
    s = Scenario(
        "healthy-adult",
        "Healthy adult, normal labs",
        "No liver diagnosis, a normal liver panel: the service stays silent.",
        "female",
        44,
        NA,
        covers=["not-applicable"],
    )
    s.condition("hypertension", onset_days_ago=2000)
    s.panel(60)
    s.lab("hba1c", 5.2, 60)
    return s


@scenario
def single_elevated_alt() -> Scenario:
    s = Scenario(
        "single-elevated-alt",
        "One elevated ALT, no liver diagnosis",
        "A single ALT above the ULN without a liver diagnosis is not enough for a card.",
        "male",
        38,
        NA,
        covers=["not-applicable", "single elevated ALT"],
        absent_reason_ids=["applicability.persistent-alt-no-diagnosis"],
    )
    s.panel(300)
    s.panel(25, alt=71, ast=38)
    return s


# --------------------------------------------------------------------------- meets: each path
@scenario
def masld_alt() -> Scenario:
    s = Scenario(
        "masld-alt",
        "MASLD with persistently raised ALT",
        "MASLD coded in SNOMED CT and ICD-10-CM; ALT 58 and 64 U/L (male ULN 33) "
        "100 days apart; complete recent panel; FIB-4 computable.",
        "male",
        52,
        MEETS,
        reason_ids=["indication.masld-alt"],
        rule_status={
            "exclusion.coagulation": "not-met",
            "exclusion.active-viral-hepatitis": "not-met",
        },
        covers=["path: MASLD + ALT"],
    )
    masld_baseline(s)
    return s


@scenario
def masld_icd10_only_female() -> Scenario:
    s = Scenario(
        "masld-icd10-only-female",
        "MASLD coded only in ICD-10-CM, female ULN",
        "K76.0 only (no SNOMED CT); ALT 31 and 36 U/L: above the female ULN of 25 "
        "though below the male ULN.",
        "female",
        47,
        MEETS,
        reason_ids=["indication.masld-alt"],
        covers=["ICD-10-CM only", "female ULN"],
    )
    masld_baseline(s, alt_old=31, alt_new=36, condition_systems="icd10")
    return s


@scenario
def nash_snomed_only() -> Scenario:
    s = Scenario(
        "nash-snomed-only",
        "NASH coded only in SNOMED CT",
        "442685003 only; ALT elevated twice; meets the MASLD/NASH path.",
        "male",
        58,
        MEETS,
        reason_ids=["indication.masld-alt"],
        covers=["SNOMED CT only"],
    )
    s.condition("nash", onset_days_ago=700, systems="snomed")
    s.lab("alt", 88, 150)
    s.panel(30, alt=95, ast=61, ggt=90)
    return s


@scenario
def masld_si_units() -> Scenario:
    s = Scenario(
        "masld-si-units",
        "MASLD with labs reported in SI units",
        "Bilirubin 14 umol/L (0.82 mg/dL), albumin 41 g/L, creatinine 80 umol/L, "
        "platelets 210 10*9/L: normalised before comparison.",
        "male",
        61,
        MEETS,
        reason_ids=["indication.masld-alt"],
        rule_status={"exclusion.coagulation": "not-met"},
        covers=["SI units"],
    )
    masld = s.condition("masld", onset_days_ago=1200)
    s.cite("indication.masld-alt", masld, s.lab("alt", 49, 110))
    for key, value in {
        "alt": 52,
        "ast": 41,
        "ggt": 66,
        "alp": 90,
        "bilirubin-si": 14,
        "albumin-si": 41,
        "inr": 1.0,
        "platelets-si": 210,
        "creatinine-si": 80,
    }.items():
        made = s.lab(key, value, 15)
        if key == "alt":
            s.cite("indication.masld-alt", made)
    return s


@scenario
def masld_type2_diabetes() -> Scenario:
    s = Scenario(
        "masld-type2-diabetes",
        "MASLD with type 2 diabetes and metabolic syndrome",
        "Metabolic comorbidity with the MASLD ALT criteria; on metformin.",
        "female",
        63,
        MEETS,
        reason_ids=["indication.masld-alt", "indication.metabolic-masld"],
        covers=["path: metabolic syndrome / T2D + MASLD"],
    )
    s.condition("t2dm", onset_days_ago=3000)
    s.condition("metabolic-syndrome", onset_days_ago=2500, systems="icd10")
    s.medication("metformin", start_days_ago=2900)
    masld_baseline(s, alt_old=44, alt_new=51)
    s.lab("hba1c", 7.4, 20)
    return s


@scenario
def aih_non_remission() -> Scenario:
    s = Scenario(
        "aih-non-remission",
        "Autoimmune hepatitis not in biochemical remission",
        "AIH on azathioprine and prednisolone; ALT above ULN twice >= 4 weeks apart; "
        "ANA and ASMA on file.",
        "female",
        41,
        MEETS,
        reason_ids=["indication.aih-nonremission"],
        covers=["path: AIH on immunosuppression"],
    )
    s.condition("aih", onset_days_ago=1500)
    s.medication("azathioprine", start_days_ago=1400)
    s.medication("prednisolone", start_days_ago=1400)
    s.lab("alt", 68, 140)
    s.panel(21, alt=74, ast=66, ggt=50)
    s.lab("ana", None, 21, value_code=("http://snomed.info/sct|10828004", "Positive"))
    s.lab("asma", None, 21, value_code=("http://snomed.info/sct|10828004", "Positive"))
    return s


@scenario
def fibrosis_f2_stable() -> Scenario:
    s = Scenario(
        "fibrosis-f2-stable",
        "Hepatic fibrosis F2 with stable liver function",
        "K74.01 fibrosis, Child-Pugh A (5), bilirubin, albumin and INR normal, "
        "elastography 9.1 kPa.",
        "male",
        56,
        MEETS,
        reason_ids=["indication.fibrosis-f1-f3"],
        scores={"child-pugh": {"value": 5, "band": "A"}},
        covers=["path: fibrosis F1-F3 stable"],
    )
    s.condition("fibrosis-f2", onset_days_ago=500, systems="icd10")
    s.panel(30)
    s.lab("stiffness", 9.1, 90)
    return s


@scenario
def cirrhosis_child_pugh_a() -> Scenario:
    s = Scenario(
        "cirrhosis-child-pugh-a",
        "Compensated cirrhosis, Child-Pugh A",
        "K74.60/19943007 cirrhosis, Child-Pugh 5, MELD-Na 8 (creatinine and sodium recent).",
        "male",
        59,
        MEETS,
        reason_ids=["indication.cirrhosis-child-pugh"],
        rule_status={"exclusion.meld-na": "not-met", "exclusion.decompensation": "not-met"},
        scores={"child-pugh": {"value": 5, "band": "A"}},
        covers=["path: cirrhosis Child-Pugh A"],
    )
    s.condition("cirrhosis", onset_days_ago=800)
    s.panel(14, alt=41, ast=52, platelets=130, bilirubin=1.1, albumin=3.8, inr=1.1, **RENAL)
    return s


@scenario
def cirrhosis_early_b() -> Scenario:
    s = Scenario(
        "cirrhosis-early-b",
        "Cirrhosis Child-Pugh 7 (early B), no decompensation",
        "Bilirubin 2.5 (2 points), albumin 3.2 (2), INR 1.2 (1), no ascites or "
        "encephalopathy: Child-Pugh 7; MELD-Na 12.",
        "female",
        62,
        MEETS,
        reason_ids=["indication.cirrhosis-child-pugh"],
        scores={"child-pugh": {"value": 7, "band": "B"}},
        covers=["path: cirrhosis early B", "boundary: Child-Pugh 7"],
    )
    s.condition("cirrhosis", onset_days_ago=900)
    s.panel(10, alt=38, ast=57, bilirubin=2.5, albumin=3.2, inr=1.2, platelets=118, **RENAL)
    s.card_text.append("standard references treat Child-Pugh")  # spec §4.4
    return s


@scenario
def post_covid_alt() -> Scenario:
    s = Scenario(
        "post-covid-alt",
        "Post-COVID liver inflammation, other causes excluded",
        "COVID-19 240 days ago, post-COVID condition U09.9; ALT above ULN at 120 and "
        "25 days ago (>= 3 months after infection); HBsAg, HCV antibody, ANA and ASMA "
        "negative and elastography 6.1 kPa, so the unexplained-ALT workup is done.",
        "male",
        45,
        MEETS,
        reason_ids=["indication.post-covid"],
        absent_reason_ids=["workup.hbsag", "workup.hcv-antibody", "workup.elastography"],
        covers=["path: post-COVID ALT"],
    )
    post_covid_base(s)
    negative = ("http://snomed.info/sct|260385009", "Negative")
    for key in ("hbsag", "hcv-ab", "ana", "asma"):
        s.lab(key, None, 60, value_code=negative)
    s.lab("stiffness", 6.1, 50)
    return s


def post_covid_base(s: Scenario) -> None:
    s.condition("covid", onset_days_ago=240, clinical_status="resolved", abated_days_ago=225)
    s.condition("post-covid", onset_days_ago=180)
    s.lab("sars-cov-2", None, 240, value_code=("http://snomed.info/sct|10828004", "Positive"))
    s.lab("alt", 61, 120)
    s.panel(25, alt=57, ast=44)


@scenario
def post_covid_alt_cause_not_sought() -> Scenario:
    s = Scenario(
        "post-covid-alt-cause-not-sought",
        "Post-COVID raised ALT, other causes not yet excluded",
        "The post-COVID scenario without the viral and autoimmune serology or elastography: "
        "ALT elevation with no liver diagnosis must be explained first.",
        "male",
        45,
        WORKUP,
        reason_ids=[
            "applicability.persistent-alt-no-diagnosis",
            "workup.hbsag",
            "workup.hcv-antibody",
            "workup.ana",
            "workup.asma",
            "workup.elastography",
        ],
        covers=["workup: post-COVID ALT cause not sought"],
    )
    post_covid_base(s)
    return s


@scenario
def hcv_cured_with_fibrosis() -> Scenario:
    s = Scenario(
        "hcv-cured-with-fibrosis",
        "HCV cured (SVR) with persisting fibrosis",
        "Chronic HCV treated with sofosbuvir/velpatasvir (ended 400 days ago); HCV RNA "
        "'Not detected' 300 days ago and 'Target not detected' 40 days ago; fibrosis "
        "F3 (K74.02), elastography 11.2 kPa.",
        "male",
        54,
        MEETS,
        reason_ids=["indication.viral-survivor"],
        rule_status={"exclusion.active-viral-hepatitis": "not-met"},
        covers=["path: viral hepatitis survivor (HCV)", "'Not detected' viral load"],
    )
    s.condition("hcv", onset_days_ago=2000)
    s.condition("fibrosis-f3", onset_days_ago=600, systems="icd10")
    s.medication("sofosbuvir-velpatasvir", start_days_ago=484, end_days_ago=400)
    s.lab("hcv-ab", None, 2000, value_code=("http://snomed.info/sct|10828004", "Positive"))
    s.lab("hcv-rna", None, 300, value_code=("http://snomed.info/sct|260415000", "Not detected"))
    s.lab("hcv-rna", None, 40, value_string="Target not detected")
    s.lab("alt", 45, 130)
    s.panel(40, alt=48, ast=46)
    s.lab("stiffness", 11.2, 60)
    return s


@scenario
def hbv_suppressed_on_therapy() -> Scenario:
    s = Scenario(
        "hbv-suppressed-on-therapy",
        "Chronic HBV suppressed on tenofovir, ALT raised",
        "HBV DNA '<10 IU/mL' (censored comparator) on tenofovir, ALT above ULN twice: "
        "viral hepatitis survivor path.",
        "male",
        49,
        MEETS,
        reason_ids=["indication.viral-survivor"],
        rule_status={"exclusion.active-viral-hepatitis": "not-met"},
        covers=["path: viral hepatitis survivor (HBV)", "censored viral load"],
    )
    s.condition("hbv", onset_days_ago=3000)
    s.medication("tenofovir", start_days_ago=1500)
    s.lab("hbsag", None, 1500, value_code=("http://snomed.info/sct|10828004", "Positive"))
    s.cite("indication.viral-survivor", s.lab("hbv-dna", 10, 50, comparator="<"))
    s.lab("alt", 52, 110)
    s.panel(18, alt=59, ast=47)
    return s


@scenario
def pbc_udca_inadequate() -> Scenario:
    s = Scenario(
        "pbc-udca-inadequate",
        "PBC with inadequate response to UDCA",
        "Primary biliary cholangitis on ursodiol for 14 months; ALP 240 U/L (2.0 x ULN 120).",
        "female",
        57,
        MEETS,
        reason_ids=["indication.pbc-udca"],
        covers=["path: PBC despite UDCA"],
    )
    s.condition("pbc", onset_days_ago=900)
    s.medication("ursodiol", start_days_ago=425)
    s.cite("indication.pbc-udca", s.panel(20, alp=240, ggt=150)["alp"])
    return s


@scenario
def psc_stable() -> Scenario:
    s = Scenario(
        "psc-stable",
        "PSC without decompensation",
        "Primary sclerosing cholangitis, bilirubin 1.4 mg/dL (<= 5 x ULN), creatinine 0.9 mg/dL.",
        "male",
        36,
        MEETS,
        reason_ids=["indication.psc"],
        covers=["path: PSC"],
    )
    s.condition("psc", onset_days_ago=1100)
    s.panel(20, alp=310, ggt=190, bilirubin=1.4, **RENAL)
    return s


# --------------------------------------------------------------------------- exclusions
@scenario
def excluded_liver_cancer() -> Scenario:
    s = Scenario(
        "excluded-liver-cancer",
        "Cirrhosis with hepatocellular carcinoma",
        "HCC (C22.0) diagnosed 5 months ago: excluded whatever else applies.",
        "male",
        67,
        EXCLUDED,
        reason_ids=["exclusion.liver-cancer"],
        covers=["exclusion: liver cancer"],
    )
    s.condition("cirrhosis", onset_days_ago=1000)
    s.cite("exclusion.liver-cancer", s.condition("hcc", onset_days_ago=150))
    s.panel(12, alt=45, ast=70, platelets=120, bilirubin=1.1, albumin=3.7, **RENAL)
    s.lab("alt", 50, 80)
    return s


@scenario
def excluded_decompensation_ascites() -> Scenario:
    s = Scenario(
        "excluded-decompensation-ascites",
        "Cirrhosis with recent ascites",
        "Ascites resolved 4 months ago (within 12 months) and variceal bleeding 8 "
        "months ago: decompensation excludes.",
        "male",
        60,
        EXCLUDED,
        reason_ids=["exclusion.decompensation"],
        covers=["exclusion: decompensation (resolved within 12 months)"],
    )
    s.condition("cirrhosis", onset_days_ago=1300)
    ascites = s.condition(
        "ascites", onset_days_ago=200, clinical_status="resolved", abated_days_ago=120
    )
    varices = s.condition(
        "varices-bleeding",
        onset_days_ago=240,
        clinical_status="resolved",
        abated_days_ago=230,
        systems="icd10",
    )
    s.cite("exclusion.decompensation", ascites, varices)
    s.panel(20, alt=35, ast=48, platelets=95, bilirubin=1.6, albumin=3.4, inr=1.3, **RENAL)
    return s


@scenario
def excluded_child_pugh_10() -> Scenario:
    s = Scenario(
        "excluded-child-pugh-10",
        "Cirrhosis with Child-Pugh 10 from labs alone",
        "Bilirubin 3.5 (3), albumin 2.5 (3), INR 1.8 (2), no ascites/encephalopathy "
        "codes: Child-Pugh 10 (estimated); INR > 1.5 and MELD-Na >= 15 also exclude.",
        "female",
        66,
        EXCLUDED,
        reason_ids=["exclusion.decompensation", "exclusion.coagulation", "exclusion.meld-na"],
        scores={"child-pugh": {"value": 10, "band": "C"}},
        covers=["exclusion: Child-Pugh >= 10", "boundary: Child-Pugh 10", "all exclusions listed"],
    )
    s.condition("cirrhosis", onset_days_ago=1500, systems="snomed")
    s.panel(9, alt=30, ast=61, bilirubin=3.5, albumin=2.5, inr=1.8, platelets=88, **RENAL)
    return s


@scenario
def excluded_liver_failure() -> Scenario:
    s = Scenario(
        "excluded-liver-failure",
        "Chronic liver failure",
        "K72.10 chronic hepatic failure with NASH.",
        "male",
        64,
        EXCLUDED,
        reason_ids=["exclusion.liver-failure"],
        covers=["exclusion: liver failure"],
    )
    s.condition("nash", onset_days_ago=2000)
    s.cite(
        "exclusion.liver-failure",
        s.condition("liver-failure", onset_days_ago=90, systems="icd10"),
    )
    s.lab("alt", 60, 100)
    s.panel(10, alt=55, ast=80, bilirubin=1.9, albumin=3.1, inr=1.4)
    return s


@scenario
def excluded_transplant_listed() -> Scenario:
    s = Scenario(
        "excluded-transplant-listed",
        "Cirrhosis, on the transplant waiting list",
        "Z76.82 with a liver condition (cirrhosis) excludes; Child-Pugh A otherwise.",
        "female",
        53,
        EXCLUDED,
        reason_ids=["exclusion.transplant"],
        covers=["exclusion: transplant listing"],
    )
    s.condition("cirrhosis", onset_days_ago=1000)
    s.cite("exclusion.transplant", s.condition("transplant-listed", onset_days_ago=60))
    s.panel(14, alt=40, ast=50, platelets=140, bilirubin=1.2, albumin=3.6, **RENAL)
    return s


@scenario
def excluded_liver_transplant_status() -> Scenario:
    s = Scenario(
        "excluded-liver-transplant-status",
        "Liver transplant recipient",
        "Z94.4 liver transplant status with MASLD recurrence.",
        "male",
        58,
        EXCLUDED,
        reason_ids=["exclusion.transplant"],
        covers=["exclusion: liver transplant status"],
    )
    s.cite("exclusion.transplant", s.condition("liver-transplant", onset_days_ago=2500))
    masld_baseline(s)
    return s


@scenario
def excluded_active_hcv() -> Scenario:
    s = Scenario(
        "excluded-active-hcv",
        "Chronic hepatitis C with detectable RNA",
        "HCV RNA 850,000 IU/mL 60 days ago: active viral hepatitis.",
        "male",
        50,
        EXCLUDED,
        reason_ids=["exclusion.active-viral-hepatitis"],
        covers=["exclusion: active HCV"],
    )
    s.condition("hcv", onset_days_ago=700)
    s.cite("exclusion.active-viral-hepatitis", s.lab("hcv-rna", 850000, 60))
    s.lab("alt", 80, 130)
    s.panel(20, alt=92, ast=70)
    return s


@scenario
def excluded_hbv_high_dna_log() -> Scenario:
    s = Scenario(
        "excluded-hbv-high-dna-log",
        "Chronic HBV with high viral load in log units",
        "HBV DNA 4.2 log10 IU/mL (about 15,800 IU/mL) 70 days ago: > 2,000 excludes.",
        "male",
        43,
        EXCLUDED,
        reason_ids=["exclusion.active-viral-hepatitis"],
        covers=["exclusion: HBV DNA > 2000", "log viral load units"],
    )
    s.condition("hbv", onset_days_ago=1800, systems="icd10")
    s.cite("exclusion.active-viral-hepatitis", s.lab("hbv-dna-log", 4.2, 70))
    s.lab("alt", 66, 120)
    s.panel(20, alt=71, ast=52)
    return s


@scenario
def excluded_low_platelets() -> Scenario:
    s = Scenario(
        "excluded-low-platelets",
        "MASLD with platelets 42",
        "Platelets 42 x10^9/L (< 50): severe coagulation disorder.",
        "female",
        59,
        EXCLUDED,
        reason_ids=["exclusion.coagulation"],
        covers=["exclusion: platelets < 50"],
    )
    s.condition("masld", onset_days_ago=1000)
    s.lab("alt", 40, 100)
    s.cite("exclusion.coagulation", s.panel(15, alt=44, ast=48, platelets=42)["platelets"])
    return s


@scenario
def excluded_inr_off_anticoagulation() -> Scenario:
    s = Scenario(
        "excluded-inr-off-anticoagulation",
        "NASH with INR 1.7 off anticoagulation",
        "INR 1.7 with no anticoagulant on record: coagulation exclusion.",
        "male",
        55,
        EXCLUDED,
        reason_ids=["exclusion.coagulation"],
        covers=["exclusion: INR > 1.5 off anticoagulation"],
    )
    s.condition("nash", onset_days_ago=900)
    s.lab("alt", 70, 100)
    s.cite("exclusion.coagulation", s.panel(15, alt=75, ast=50, inr=1.7)["inr"])
    return s


@scenario
def excluded_prolonged_pt() -> Scenario:
    s = Scenario(
        "excluded-prolonged-pt",
        "MASLD with prothrombin time prolonged by 3.7 s",
        "PT 17.2 s against a reference upper limit of 13.5 s (> 3 s prolonged); INR 1.4 on file.",
        "female",
        50,
        EXCLUDED,
        reason_ids=["exclusion.coagulation"],
        covers=["exclusion: PT prolonged > 3 s"],
    )
    s.condition("masld", onset_days_ago=1000)
    s.lab("alt", 39, 100)
    s.panel(15, alt=42, ast=44, inr=1.4)
    s.cite("exclusion.coagulation", s.lab("pt", 17.2, 15))
    return s


@scenario
def excluded_bleeding_disorder() -> Scenario:
    s = Scenario(
        "excluded-bleeding-disorder",
        "MASLD with von Willebrand disease",
        "An active bleeding-disorder condition (D68.0) excludes, with normal INR and platelets.",
        "female",
        39,
        EXCLUDED,
        reason_ids=["exclusion.coagulation"],
        covers=["exclusion: bleeding disorder"],
    )
    vwd = s.condition("von-willebrand", onset_days_ago=9000, systems="icd10")
    s.cite("exclusion.coagulation", vwd)
    masld_baseline(s, alt_old=35, alt_new=41)
    return s


@scenario
def excluded_meld_na() -> Scenario:
    s = Scenario(
        "excluded-meld-na",
        "Cirrhosis Child-Pugh A but MELD-Na 24",
        "Creatinine 2.0, bilirubin 1.8, INR 1.4, sodium 130: MELD 19, MELD-Na 24 "
        "(>= 15: transplant evaluation); no other exclusion.",
        "male",
        61,
        EXCLUDED,
        reason_ids=["exclusion.meld-na"],
        rule_status={"exclusion.coagulation": "not-met", "exclusion.decompensation": "not-met"},
        scores={"meld-na": {"value": 24}, "child-pugh": {"value": 5, "band": "A"}},
        covers=["exclusion: MELD-Na >= 15"],
    )
    s.condition("cirrhosis", onset_days_ago=700)
    s.panel(
        8,
        alt=30,
        ast=45,
        bilirubin=1.8,
        albumin=3.6,
        inr=1.4,
        platelets=110,
        creatinine=2.0,
        sodium=130,
    )
    s.card_text.append("transplant evaluation")  # spec §4.2
    return s


# --------------------------------------------------------------------------- workup incomplete
@scenario
def workup_unexplained_alt() -> Scenario:
    s = Scenario(
        "workup-unexplained-alt",
        "Persistently raised ALT with no liver diagnosis",
        "ALT 62 and 70 U/L 60 days apart, no liver diagnosis: find the cause first "
        "(HBsAg, HCV antibody, ANA, ASMA, elastography).",
        "male",
        46,
        WORKUP,
        reason_ids=[
            "applicability.persistent-alt-no-diagnosis",
            "workup.hbsag",
            "workup.hcv-antibody",
            "workup.ana",
            "workup.asma",
            "workup.elastography",
        ],
        covers=["workup: unexplained ALT elevation"],
    )
    s.lab("alt", 62, 80)
    s.panel(20, alt=70, ast=45)
    return s


@scenario
def workup_stale_labs() -> Scenario:
    s = Scenario(
        "workup-stale-labs",
        "MASLD with a liver panel 5 months old",
        "ALT elevated 150 and 120 days ago; nothing newer: liver panel, INR and "
        "platelets are stale (> 90 days).",
        "male",
        57,
        WORKUP,
        reason_ids=["workup.alt", "workup.ast", "workup.inr", "workup.platelets"],
        rule_status={"exclusion.coagulation": "unknown"},
        covers=["workup: stale labs"],
    )
    s.condition("masld", onset_days_ago=1000)
    s.lab("alt", 58, 150)
    s.panel(120, alt=66, ast=48)
    return s


@scenario
def workup_hbv_dna_missing() -> Scenario:
    s = Scenario(
        "workup-hbv-dna-missing",
        "Chronic HBV with no viral load on file",
        "B18.1 coded, ALT raised, no HBV DNA: active viral hepatitis cannot be ruled out.",
        "male",
        51,
        WORKUP,
        reason_ids=["workup.hbv-dna"],
        rule_status={"exclusion.active-viral-hepatitis": "unknown"},
        covers=["workup: HBV DNA missing"],
    )
    s.condition("hbv", onset_days_ago=2000)
    s.lab("alt", 55, 100)
    s.panel(20, alt=60, ast=47)
    return s


@scenario
def workup_hcv_rna_missing() -> Scenario:
    s = Scenario(
        "workup-hcv-rna-missing",
        "Chronic HCV with only an old viral load",
        "B18.2 coded, HCV RNA last measured 2 years ago: a recent one is needed.",
        "female",
        48,
        WORKUP,
        reason_ids=["workup.hcv-rna"],
        rule_status={"exclusion.active-viral-hepatitis": "unknown"},
        covers=["workup: HCV RNA missing/stale"],
    )
    s.condition("hcv", onset_days_ago=2000, systems="snomed")
    s.lab("hcv-rna", 120000, 730)
    s.lab("alt", 44, 100)
    s.panel(20, alt=47, ast=41)
    return s


@scenario
def workup_no_fibrosis_assessment() -> Scenario:
    s = Scenario(
        "workup-no-fibrosis-assessment",
        "MASLD with no AST, platelets or elastography",
        "ALT raised twice but no AST, platelet count or elastography: no fibrosis "
        "assessment (FIB-4 not computable) and coagulation unknown.",
        "male",
        53,
        WORKUP,
        reason_ids=["workup.fibrosis-assessment"],
        covers=["workup: no fibrosis assessment"],
    )
    s.condition("masld", onset_days_ago=800)
    s.lab("alt", 61, 110)
    for key, value in {"alt": 67, "ggt": 80, "bilirubin": 0.8, "albumin": 4.2, "inr": 1.0}.items():
        s.lab(key, value, 20)
    return s


@scenario
def workup_aih_autoantibodies_missing() -> Scenario:
    s = Scenario(
        "workup-aih-autoantibodies-missing",
        "AIH without ANA/ASMA on file",
        "Autoimmune hepatitis on azathioprine with raised ALT, but no ANA or ASMA result.",
        "female",
        35,
        WORKUP,
        reason_ids=["workup.ana", "workup.asma"],
        covers=["workup: ANA/ASMA for AIH"],
    )
    s.condition("aih", onset_days_ago=700, systems="icd10")
    s.medication("azathioprine", start_days_ago=650)
    s.lab("alt", 58, 120)
    s.panel(25, alt=63, ast=55)
    return s


@scenario
def workup_cirrhosis_meld_labs_stale() -> Scenario:
    s = Scenario(
        "workup-cirrhosis-meld-labs-stale",
        "Cirrhosis with creatinine and sodium stale",
        "Liver panel recent, creatinine and sodium 200 days old: MELD-Na cannot be "
        "computed, so its exclusion is unknown.",
        "male",
        60,
        WORKUP,
        reason_ids=["workup.creatinine", "workup.sodium"],
        rule_status={"exclusion.meld-na": "unknown"},
        covers=["workup: creatinine/sodium for MELD-Na"],
    )
    s.condition("cirrhosis", onset_days_ago=900, systems="icd10")
    s.lab("creatinine", 0.9, 200)
    s.lab("sodium", 139, 200)
    s.panel(20, alt=35, ast=46, bilirubin=1.0, albumin=3.9, platelets=135)
    return s


# --------------------------------------------------------------------------- does not meet
@scenario
def cirrhosis_child_pugh_8() -> Scenario:
    s = Scenario(
        "cirrhosis-child-pugh-8",
        "Cirrhosis with Child-Pugh 8",
        "Bilirubin 2.5 (2), albumin 2.6 (3), INR 1.3 (1), no decompensation codes: "
        "Child-Pugh 8, beyond early B yet below the exclusion at 10; MELD-Na 13.",
        "male",
        65,
        NOT_MEET,
        rule_status={
            "indication.cirrhosis-child-pugh": "not-met",
            "exclusion.decompensation": "not-met",
            "exclusion.meld-na": "not-met",
        },
        scores={"child-pugh": {"value": 8, "band": "B"}},
        covers=["does not meet: Child-Pugh 8"],
    )
    s.condition("cirrhosis", onset_days_ago=1100)
    s.panel(
        12,
        alt=28,
        ast=49,
        bilirubin=2.5,
        albumin=2.6,
        inr=1.3,
        platelets=102,
        creatinine=0.8,
        sodium=138,
    )
    return s


@scenario
def masld_alt_normalised() -> Scenario:
    s = Scenario(
        "masld-alt-normalised",
        "MASLD whose ALT is no longer elevated",
        "ALT 70 eight months ago, now 28 and 25 U/L: no longer above the ULN.",
        "male",
        49,
        NOT_MEET,
        rule_status={"indication.masld-alt": "not-met"},
        covers=["does not meet: ALT no longer elevated"],
    )
    s.condition("masld", onset_days_ago=1000)
    s.lab("alt", 70, 240)
    s.lab("alt", 28, 90)
    s.panel(20, alt=25, ast=22)
    return s


# --------------------------------------------------------------------------- special handling
@scenario
def masld_inr_on_anticoagulation() -> Scenario:
    s = Scenario(
        "masld-inr-on-anticoagulation",
        "MASLD on warfarin with INR 2.6",
        "INR 2.6 while anticoagulated (warfarin, Z79.01) does not count as a "
        "coagulation disorder; Child-Pugh is not computed from that INR.",
        "male",
        68,
        MEETS,
        reason_ids=["indication.masld-alt"],
        rule_status={"exclusion.coagulation": "not-met"},
        covers=["INR while anticoagulated"],
    )
    s.condition("long-term-anticoagulants", onset_days_ago=800)
    s.medication("warfarin", start_days_ago=800)
    masld_baseline(s)
    s.cite("exclusion.coagulation", s.lab("inr", 2.6, 5))
    return s


@scenario
def masld_warfarin_statement() -> Scenario:
    s = Scenario(
        "masld-warfarin-statement",
        "MASLD on warfarin recorded as a MedicationStatement, INR 2.6",
        "The anticoagulant is known only from a MedicationStatement (home medication, no "
        "Z79.01 code): clinical-rules-v1 §1 reads MedicationRequest and MedicationStatement, "
        "so the INR is on anticoagulation and does not exclude.",
        "female",
        66,
        MEETS,
        reason_ids=["indication.masld-alt"],
        rule_status={"exclusion.coagulation": "not-met"},
        covers=["MedicationStatement read (anticoagulant)"],
    )
    s.medication("warfarin", start_days_ago=600, kind="MedicationStatement")
    masld_baseline(s, alt_old=38, alt_new=41)
    s.lab("inr", 2.6, 5)
    return s


@scenario
def ignored_resolved_and_error_conditions() -> Scenario:
    s = Scenario(
        "ignored-resolved-and-error-conditions",
        "MASLD with entered-in-error HCC, refuted liver failure, old resolved ascites",
        "Liver cancer entered in error, liver failure refuted, ascites resolved 3 "
        "years ago: none of them excludes; MASLD path met.",
        "female",
        55,
        MEETS,
        reason_ids=["indication.masld-alt"],
        absent_reason_ids=[
            "exclusion.liver-cancer",
            "exclusion.liver-failure",
            "exclusion.decompensation",
        ],
        covers=[
            "resolved condition ignored",
            "entered-in-error condition ignored",
            "refuted condition ignored",
        ],
    )
    s.condition("hcc", onset_days_ago=100, verification="entered-in-error")
    s.condition("liver-failure", onset_days_ago=200, verification="refuted")
    s.condition("ascites", onset_days_ago=1300, clinical_status="resolved", abated_days_ago=1100)
    masld_baseline(s, alt_old=33, alt_new=30)
    return s


@scenario
def msc_infusion_overdue_monitoring() -> Scenario:
    s = Scenario(
        "msc-infusion-overdue-monitoring",
        "MSC infusion 150 days ago, 3-month panel overdue",
        "Infused in a trial 150 days ago: the 1-month liver panel was done (day 31), "
        "the 3-month panel (day 90 +/- 21) is overdue, the 6-month one not yet due. "
        "Screening itself: MASLD with raised ALT.",
        "male",
        50,
        MEETS,
        reason_ids=["indication.masld-alt"],
        post_infusion_monitoring={
            "monitoring.liver-panel.1m": "done",
            "monitoring.liver-panel.3m": "overdue",
        },
        covers=["recorded MSC infusion", "overdue monitoring"],
    )
    s.condition("masld", onset_days_ago=1500)
    s.msc_infusion(150)
    s.panel(160, alt=70, ast=50)
    s.panel(119, alt=59, ast=45)
    s.panel(20, alt=66, ast=47)
    s.card_text.append("overdue")
    return s


@scenario
def long_history_masld() -> Scenario:
    s = Scenario(
        "long-history-masld",
        "MASLD with ten years of monthly labs (hundreds)",
        "A liver panel every 4 weeks for 9 years (960 Observations, "
        "several pages at any page size): the newest results must be found.",
        "male",
        71,
        MEETS,
        reason_ids=["indication.masld-alt"],
        covers=["long history, paging"],
    )
    s.condition("masld", onset_days_ago=4000)
    s.condition("t2dm", onset_days_ago=5000, systems="icd10")
    # every 28 days back ~9 years; ALT drifts and is elevated in the last 6 months
    for i in range(0, 120):
        when = 14 + 28 * i
        alt = 58 + (i % 5) if when <= 180 else 24 + (i % 9)
        made = s.panel(when, alt=alt, ast=30 + (i % 7), ggt=40 + (i % 11), platelets=220 - (i % 13))
        if i == 0:  # the newest ALT, on the first page of any page size
            s.cite("indication.masld-alt", made["alt"])
    return s


# --------------------------------------------------------------------------- boundaries
@scenario
def boundary_alt_at_male_uln() -> Scenario:
    s = Scenario(
        "boundary-alt-at-male-uln",
        "MASLD with ALT exactly 33 U/L (male ULN)",
        "ALT 33 twice: at, not above, the ULN.",
        "male",
        50,
        NOT_MEET,
        rule_status={"indication.masld-alt": "not-met"},
        covers=["boundary: ALT = ULN"],
    )
    masld_baseline(s, alt_old=33, alt_new=33)
    return s


@scenario
def boundary_alt_28_days_apart() -> Scenario:
    s = Scenario(
        "boundary-alt-28-days-apart",
        "MASLD with two raised ALTs exactly 4 weeks apart",
        "ALT 45 at 48 days and 50 at 20 days ago: 28 days apart counts (>= 4 weeks).",
        "male",
        50,
        MEETS,
        reason_ids=["indication.masld-alt"],
        covers=["boundary: 4 weeks apart"],
    )
    masld_baseline(s, alt_old=45, alt_new=50, old_days=48, new_days=20)
    return s


@scenario
def boundary_alt_27_days_apart() -> Scenario:
    s = Scenario(
        "boundary-alt-27-days-apart",
        "MASLD with two raised ALTs 27 days apart",
        "ALT 45 at 47 days and 50 at 20 days ago: under 4 weeks apart, so "
        "persistence is not shown.",
        "male",
        50,
        NOT_MEET,
        rule_status={"indication.masld-alt": "not-met"},
        covers=["boundary: under 4 weeks apart"],
    )
    masld_baseline(s, alt_old=45, alt_new=50, old_days=47, new_days=20)
    return s


@scenario
def boundary_inr_1_5() -> Scenario:
    s = Scenario(
        "boundary-inr-1-5",
        "MASLD with INR exactly 1.5",
        "INR 1.5 is not > 1.5.",
        "male",
        50,
        MEETS,
        reason_ids=["indication.masld-alt"],
        rule_status={"exclusion.coagulation": "not-met"},
        covers=["boundary: INR 1.5"],
    )
    s.condition("masld", onset_days_ago=900)
    s.lab("alt", 58, 120)
    s.panel(20, alt=64, ast=45, inr=1.5)
    return s


@scenario
def boundary_platelets_50() -> Scenario:
    s = Scenario(
        "boundary-platelets-50",
        "MASLD with platelets exactly 50",
        "Platelets 50 x10^9/L is not < 50.",
        "female",
        60,
        MEETS,
        reason_ids=["indication.masld-alt"],
        rule_status={"exclusion.coagulation": "not-met"},
        covers=["boundary: platelets 50"],
    )
    s.condition("masld", onset_days_ago=900)
    s.lab("alt", 40, 120)
    s.panel(20, alt=44, ast=45, platelets=50)
    return s


@scenario
def boundary_hbv_dna_2000() -> Scenario:
    s = Scenario(
        "boundary-hbv-dna-2000",
        "HBV on entecavir with HBV DNA exactly 2,000 IU/mL",
        "2,000 IU/mL is not > 2,000 (no exclusion) and is <= 2,000 on therapy "
        "(survivor path, with raised ALT).",
        "male",
        52,
        MEETS,
        reason_ids=["indication.viral-survivor"],
        rule_status={"exclusion.active-viral-hepatitis": "not-met"},
        covers=["boundary: HBV DNA 2000"],
    )
    s.condition("hbv", onset_days_ago=2500)
    s.medication("entecavir", start_days_ago=900)
    s.lab("hbv-dna", 2000, 40)
    s.lab("alt", 50, 120)
    s.panel(20, alt=56, ast=44)
    return s


@scenario
def boundary_meld_na_15() -> Scenario:
    s = Scenario(
        "boundary-meld-na-15",
        "Cirrhosis with MELD-Na exactly 15",
        "Creatinine 1.4, bilirubin 1.9, INR 1.3, sodium 138: MELD 15, MELD-Na 15 (>= 15 excludes).",
        "male",
        58,
        EXCLUDED,
        reason_ids=["exclusion.meld-na"],
        rule_status={"exclusion.coagulation": "not-met"},
        scores={"meld-na": {"value": 15}},
        covers=["boundary: MELD-Na 15"],
    )
    s.condition("cirrhosis", onset_days_ago=800)
    s.panel(
        10,
        alt=33,
        ast=48,
        bilirubin=1.9,
        albumin=3.6,
        inr=1.3,
        platelets=105,
        creatinine=1.4,
        sodium=138,
    )
    s.card_text.append("transplant evaluation")  # spec §4.2
    return s


@scenario
def boundary_labs_90_days() -> Scenario:
    s = Scenario(
        "boundary-labs-90-days",
        "MASLD whose newest panel is exactly 90 days old",
        "Panel drawn exactly 90 days before evaluation (<= 90 days: still recent); "
        "ALT raised at 90 and 160 days.",
        "male",
        50,
        MEETS,
        reason_ids=["indication.masld-alt"],
        absent_reason_ids=["workup.alt", "workup.ast", "workup.inr", "workup.platelets"],
        covers=["boundary: 90-day recency"],
    )
    masld_baseline(s, alt_old=50, alt_new=55, old_days=160, new_days=90)
    return s


@scenario
def boundary_elastography_15() -> Scenario:
    s = Scenario(
        "boundary-elastography-15",
        "MASLD with liver stiffness exactly 15 kPa",
        "15 kPa is 'cirrhosis-equivalent' (>= 15): MELD-Na then needs creatinine and "
        "sodium, which are missing.",
        "female",
        62,
        WORKUP,
        reason_ids=["workup.creatinine", "workup.sodium"],
        rule_status={"exclusion.meld-na": "unknown"},
        covers=["boundary: elastography 15 kPa"],
    )
    s.condition("masld", onset_days_ago=1400)
    s.lab("alt", 38, 110)
    s.panel(20, alt=41, ast=43)
    s.lab("stiffness", 15.0, 30)
    return s


@scenario
def boundary_alt_at_female_uln() -> Scenario:
    s = Scenario(
        "boundary-alt-at-female-uln",
        "MASLD, female, ALT exactly 25 U/L (female ULN)",
        "ALT 25 twice: at, not above, the female ULN (25 U/L, ACG 2017).",
        "female",
        50,
        NOT_MEET,
        rule_status={"indication.masld-alt": "not-met"},
        covers=["boundary: ALT = female ULN"],
    )
    masld_baseline(s, alt_old=25, alt_new=25)
    return s


@scenario
def boundary_pbc_alp_1_67() -> Scenario:
    s = Scenario(
        "boundary-pbc-alp-1-67",
        "PBC on UDCA with ALP exactly 1.67 x ULN",
        "ALP 200.4 U/L against the lab's upper limit 120 U/L is 1.67 x ULN (>= 1.67 meets).",
        "female",
        59,
        MEETS,
        reason_ids=["indication.pbc-udca"],
        covers=["boundary: PBC ALP 1.67 x ULN"],
    )
    s.condition("pbc", onset_days_ago=1200)
    s.medication("ursodiol", start_days_ago=700)
    s.cite("indication.pbc-udca", s.panel(20, alp=200.4, ggt=120)["alp"])
    return s


@scenario
def boundary_psc_creatinine_1_5() -> Scenario:
    s = Scenario(
        "boundary-psc-creatinine-1-5",
        "PSC with creatinine exactly 1.5 mg/dL",
        "Creatinine 1.5 mg/dL is within the PSC criterion (<= 1.5).",
        "male",
        44,
        MEETS,
        reason_ids=["indication.psc"],
        covers=["boundary: PSC creatinine 1.5"],
    )
    s.condition("psc", onset_days_ago=1500)
    s.panel(20, alp=280, ggt=170, bilirubin=1.1, creatinine=1.5, sodium=139)
    return s


@scenario
def boundary_pt_3_seconds() -> Scenario:
    s = Scenario(
        "boundary-pt-3-seconds",
        "MASLD with prothrombin time exactly 3 s above the upper limit",
        "PT 16.5 s against an upper limit of 13.5 s: prolonged by 3.0 s, not by more than 3 s.",
        "male",
        50,
        MEETS,
        reason_ids=["indication.masld-alt"],
        rule_status={"exclusion.coagulation": "not-met"},
        covers=["boundary: PT 3 s"],
    )
    masld_baseline(s)
    s.lab("pt", 16.5, 20)
    return s


# --------------------------------------------------------------------------- checks
def meld_na(cr: float, bili: float, inr: float, na: float) -> int:
    """clinical-rules-v1 §3, to keep the scenario descriptions honest."""
    cr, bili, inr = (max(1.0, x) for x in (min(cr, 4.0), bili, inr))
    meld = 10 * round(
        0.957 * math.log(cr) + 0.378 * math.log(bili) + 1.120 * math.log(inr) + 0.643, 1
    )
    meld = min(meld, 40)
    if meld > 11:
        na = min(137.0, max(125.0, na))
        meld = meld + 1.32 * (137 - na) - 0.033 * meld * (137 - na)
    return round(meld)


def self_check() -> None:
    assert meld_na(2.0, 1.8, 1.4, 130) == 24, meld_na(2.0, 1.8, 1.4, 130)
    assert meld_na(1.4, 1.9, 1.3, 138) == 15, meld_na(1.4, 1.9, 1.3, 138)
    assert meld_na(0.9, 2.5, 1.2, 140) == 12
    assert meld_na(0.8, 2.5, 1.3, 138) == 13
    assert meld_na(0.9, 3.5, 1.8, 140) >= 15
    assert meld_na(0.9, 1.1, 1.1, 140) < 15


README_HEAD = """# Synthetic fixture patients

Generated by `scripts/generate_fixtures.py` (do not edit by hand: change the script and run
`python scripts/generate_fixtures.py`; `--check` tells whether the files are current).
Every patient is fictional. Each scenario has two files:

- `<scenario>.bundle.json`: a FHIR R4 transaction Bundle; every entry is a `PUT` with a stable
  id (`Patient/mscfx-<scenario>`, `Observation/mscfx-<scenario>-obs<n>`, ...), so loading it
  twice into a server is harmless. Load them all with
  `cds-service fixtures load --fhir-server URL`.
- `<scenario>.expected.json`: what the service must conclude at `evaluation_time`
  (all dates in the bundle are computed from that instant, so tests freeze the clock there):
  `outcome` (not-applicable | excluded | workup-incomplete | meets-screening-criteria |
  does-not-meet), `reason_ids` that must be among the assessment's reasons,
  `absent_reason_ids` that must not be, `rule_status` (rule id -> met | not-met | unknown),
  `scores` (score id -> value/band), `evidence` (rule id -> the resources its reason must
  cite), `card_text` (phrases the spec requires on the cards) and `post_infusion_monitoring`
  (monitoring item id -> done | due | overdue) when an MSC infusion is on record.

The clinical acceptance test `tests/fixtures/test_expected_outcomes.py` checks every
expected file against the engine, the cards and the hook endpoint; the integration suite
loads the bundles into a real FHIR server and checks the same outcomes without prefetch.
Hook requests built from these bundles are in `examples/hook-requests/`
(`scripts/generate_hook_requests.py`).

| scenario | outcome | what it covers | entries |
|---|---|---|---|
"""


def set_evaluation_time(text: str) -> None:
    global EVALUATION_TIME
    if text == "now":
        moment = datetime.now(UTC).replace(microsecond=0)
    else:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    EVALUATION_TIME = moment.astimezone(UTC)


def build_all() -> dict[str, str]:
    """File name -> text, for every scenario (and the README listing them)."""
    self_check()
    files: dict[str, str] = {}
    rows: list[str] = []
    names: set[str] = set()
    for factory in SCENARIOS:
        s = factory()
        if s.name in names:
            raise ValueError(f"duplicate scenario {s.name}")
        names.add(s.name)
        bundle = s.bundle()
        files[f"{s.name}.bundle.json"] = json.dumps(bundle, indent=1) + "\n"
        files[f"{s.name}.expected.json"] = json.dumps(s.expected(), indent=2) + "\n"
        rows.append(
            f"| `{s.name}` | {s.outcome} | {'; '.join(s.covers)} | {len(bundle['entry'])} |"
        )
    files["README.md"] = README_HEAD + "\n".join(rows) + "\n"
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent.parent / "fhir_fixtures"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if the files on disk differ from the generated ones",
    )
    parser.add_argument(
        "--evaluation-time",
        metavar="ISO|now",
        help="compute the dates from this instant instead of "
        f"{EVALUATION_TIME:%Y-%m-%dT%H:%M:%SZ} (e.g. to load fresh patients into a test server; "
        "write them elsewhere with --out)",
    )
    args = parser.parse_args(argv)
    if args.evaluation_time:
        set_evaluation_time(args.evaluation_time)
    files = build_all()
    out: Path = args.out
    if args.check:
        return check(out, files)
    write(out, files)
    print(f"wrote {len(files) // 2} scenarios to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
