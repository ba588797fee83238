"""``GET /cds-services``: the discovery document (CDS Hooks 2.0, Discovery)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response

from cds_service.hooks.prefetch import prefetch_templates
from cds_service.hooks.service import SERVICE_ID, Engine
from cds_service.web.responses import raw_json_response
from cds_service.web.state import current_state

blueprint = Blueprint("discovery", __name__)

TITLE = "MSC therapy screening in chronic liver disease"
DESCRIPTION = (
    "Checks the patient's diagnoses, labs and scores (Child-Pugh, MELD-Na, MELD 3.0, FIB-4, "
    "APRI) against a liver clinic's screening criteria for evaluation for investigational "
    "mesenchymal stem cell (MSC) therapy: what excludes the patient, what workup is missing, "
    "and the monitoring schedule. Advisory only; MSC therapy is investigational."
)
USAGE_REQUIREMENTS = (
    "Needs the patient's Conditions and recent Observations (liver panel, coagulation, blood "
    "count, viral markers), by prefetch or by a fhirServer with fhirAuthorization granting "
    "read access to Patient, Condition, Observation, MedicationRequest, MedicationStatement "
    "and Procedure. Without them the service answers 412."
)


def discovery_document(engine: Engine, observation_page_size: int) -> dict[str, Any]:
    return {
        "services": [
            {
                "hook": "patient-view",
                "id": SERVICE_ID,
                "title": TITLE,
                "description": DESCRIPTION,
                "prefetch": prefetch_templates(
                    engine.observation_code_tokens(), observation_page_size
                ),
                "usageRequirements": USAGE_REQUIREMENTS,
            }
        ]
    }


def service_entry(document: Mapping[str, Any]) -> Mapping[str, Any]:
    entry: Mapping[str, Any] = document["services"][0]
    return entry


@blueprint.get("/cds-services")
def discovery() -> Response:
    return raw_json_response(current_state().discovery_json)
