"""Prefetch templates (discovery) and their rendering into FHIR queries (fallback fetches).

The Observation code list comes from the clinical engine's value sets
(``engine.observation_code_tokens()``), so discovery cannot drift from the rules. Templates
use only the CDS Hooks 2.0 prefetch query subset: an instance read, type-level searches by
patient reference, token equality on ``code``, ``_sort`` and ``_count``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

#: what a prefetch key holds: one resource (a read) or a searchset Bundle (a search)
KeyKind = Literal["read", "search"]


@dataclass(frozen=True, slots=True)
class PrefetchKey:
    name: str
    kind: KeyKind
    #: resource types kept from this key's results (others, e.g. OperationOutcome, are skipped)
    resource_types: frozenset[str]


PATIENT = PrefetchKey("patient", "read", frozenset({"Patient"}))
CONDITIONS = PrefetchKey("conditions", "search", frozenset({"Condition"}))
OBSERVATIONS = PrefetchKey("observations", "search", frozenset({"Observation"}))
MEDICATIONS = PrefetchKey("medications", "search", frozenset({"MedicationRequest"}))
#: Anticoagulants and UDCA are often recorded only as MedicationStatements (patient-reported
#: or reconciled lists). Without this key an INR on warfarin reads as "off anticoagulation"
#: and the patient is wrongly excluded.
MEDICATION_STATEMENTS = PrefetchKey(
    "medicationStatements", "search", frozenset({"MedicationStatement"})
)
PROCEDURES = PrefetchKey("procedures", "search", frozenset({"Procedure"}))

PREFETCH_KEYS: tuple[PrefetchKey, ...] = (
    PATIENT,
    CONDITIONS,
    OBSERVATIONS,
    MEDICATIONS,
    MEDICATION_STATEMENTS,
    PROCEDURES,
)
KEYS_BY_NAME: Mapping[str, PrefetchKey] = {k.name: k for k in PREFETCH_KEYS}

_TOKEN = re.compile(r"\{\{\s*context\.([A-Za-z0-9_]+)\s*\}\}")


def prefetch_templates(
    observation_code_tokens: Iterable[str], observation_page_size: int
) -> dict[str, str]:
    """The discovery ``prefetch`` object, keyed like :data:`PREFETCH_KEYS`."""
    codes = ",".join(dict.fromkeys(observation_code_tokens))  # keep order, drop repeats
    if not codes:
        raise ValueError("the clinical engine reports no Observation codes to prefetch")
    patient = "{{context.patientId}}"
    return {
        PATIENT.name: f"Patient/{patient}",
        CONDITIONS.name: f"Condition?patient={patient}",
        OBSERVATIONS.name: (
            f"Observation?patient={patient}&code={codes}&_sort=-date&_count={observation_page_size}"
        ),
        MEDICATIONS.name: f"MedicationRequest?patient={patient}",
        MEDICATION_STATEMENTS.name: f"MedicationStatement?patient={patient}",
        PROCEDURES.name: f"Procedure?patient={patient}",
    }


def render_template(template: str, context: Mapping[str, object]) -> str:
    """Replace ``{{context.<field>}}`` tokens with URL-escaped values from ``context``.

    Only root-level primitive context fields are eligible (CDS Hooks 2.0, prefetch tokens).
    A missing or non-primitive field raises KeyError naming it.
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        v = context.get(name)
        if not isinstance(v, str | int | float) or isinstance(v, bool):
            raise KeyError(f"context.{name}")
        return quote(str(v), safe="")

    # the ',' and '|' of token lists stay readable; FHIR servers accept them unescaped
    return _TOKEN.sub(value, template)


def redact_patient(path: str, patient_id: str) -> str:
    """A query path with the patient id put back as the prefetch token (for the audit)."""
    return path.replace(quote(patient_id, safe=""), "{{context.patientId}}")
