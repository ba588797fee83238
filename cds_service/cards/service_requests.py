"""Draft FHIR R4 ServiceRequests for the workup suggestions.

Each proposal is status ``draft``, intent ``proposal``, LOINC-coded, with the patient as
subject: the clinician reviews and signs it in the EHR. The resource is built as a plain
dict and its shape validated with ``fhir.resources.R4B`` (the R4 models; the default
models are R5). Validation costs about 80 µs, so it is memoised per (code, display,
reason): the patient reference is the only part that varies, and it is checked here
against the FHIR id grammar, which the model would not check.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from fhir.resources.R4B.servicerequest import ServiceRequest

LOINC_SYSTEM = "http://loinc.org"
# FHIR R4 id datatype: [A-Za-z0-9\-\.]{1,64}
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_LOINC_CODE = re.compile(r"[0-9]{1,7}-[0-9]|LA[0-9]{1,7}-[0-9]|LP[0-9]{1,7}-[0-9]")
_VALIDATION_PATIENT = "validation-placeholder"


class ServiceRequestError(ValueError):
    """A proposal could not be built (bad patient id, code or text)."""


def is_fhir_id(value: str) -> bool:
    return _FHIR_ID.fullmatch(value) is not None


def _build(loinc: str, display: str, reason: str, patient_id: str) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "code": {
            "coding": [{"system": LOINC_SYSTEM, "code": loinc, "display": display}],
            "text": display,
        },
        "subject": {"reference": f"Patient/{patient_id}"},
        "reasonCode": [{"text": reason}],
    }


@lru_cache(maxsize=1024)
def _validate_shape(loinc: str, display: str, reason: str) -> None:
    if not _LOINC_CODE.fullmatch(loinc):
        raise ServiceRequestError(f"not a LOINC code: {loinc!r}")
    try:
        ServiceRequest.model_validate(_build(loinc, display, reason, _VALIDATION_PATIENT))
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise ServiceRequestError(f"invalid ServiceRequest for LOINC {loinc}: {exc}") from exc


def draft_service_request(loinc: str, display: str, reason: str, patient_id: str) -> dict[str, Any]:
    """A validated draft ServiceRequest proposing the LOINC test ``loinc`` for the patient."""
    if not is_fhir_id(patient_id):
        raise ServiceRequestError("the patient id is not a valid FHIR id")
    display, reason = " ".join(display.split()), " ".join(reason.split())
    if not display or not reason:
        raise ServiceRequestError(f"no display text for LOINC {loinc}")
    _validate_shape(loinc, display, reason)
    return _build(loinc, display, reason, patient_id)
