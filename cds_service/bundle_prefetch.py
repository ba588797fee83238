"""Answer the discovery prefetch templates from a FHIR Bundle on disk, with no server.

The command line (``cds-service evaluate --bundle``), the hook-request generator and the
tests use this to build the exact prefetch an EHR would send for a patient whose records
are in a transaction Bundle: each template is evaluated as a FHIR search over the
Bundle's resources (patient reference, ``code`` token lists, ``clinical-status``,
``status``, ``category``, ``_sort`` by date; ``_count`` is ignored because a complete
prefetch holds every match). A template using a search parameter this module does not
implement raises :class:`UnsupportedQueryError`, so a template change cannot silently
produce a wrong prefetch.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from cds_service.hooks.prefetch import render_template

Json = dict[str, Any]
_NAMESPACE = uuid.UUID("6f1b6a5e-4f7e-4d43-9a57-6c7a3bb4c2e1")


class UnsupportedQueryError(ValueError):
    """A prefetch template uses a query feature this evaluator does not implement."""


def bundle_resources(bundle: Mapping[str, Any]) -> list[Json]:
    entries = bundle.get("entry")
    out: list[Json] = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, Mapping) and isinstance(entry.get("resource"), dict):
            out.append(entry["resource"])
    return out


def patient_ids(bundle: Mapping[str, Any]) -> list[str]:
    return [
        str(r["id"])
        for r in bundle_resources(bundle)
        if r.get("resourceType") == "Patient" and isinstance(r.get("id"), str)
    ]


def _refers_to(reference: Any, patient_id: str) -> bool:
    """``Patient/<id>``, an absolute URL ending so, or a bundle-local ``urn:uuid:<id>``."""
    if not isinstance(reference, Mapping):
        return False
    ref = reference.get("reference")
    if not isinstance(ref, str):
        return False
    return ref in (f"Patient/{patient_id}", f"urn:uuid:{patient_id}") or ref.endswith(
        f"/Patient/{patient_id}"
    )


def _belongs_to(resource: Mapping[str, Any], patient_id: str) -> bool:
    return _refers_to(resource.get("subject"), patient_id) or _refers_to(
        resource.get("patient"), patient_id
    )


def _codings(concept: Any) -> list[Mapping[str, Any]]:
    if isinstance(concept, list):
        return [c for item in concept for c in _codings(item)]
    if not isinstance(concept, Mapping):
        return []
    codings = concept.get("coding")
    return [c for c in codings if isinstance(c, Mapping)] if isinstance(codings, list) else []


def _token_matches(token: str, codings: Iterable[Mapping[str, Any]], plain: Any = None) -> bool:
    if "|" in token:
        system, code = token.split("|", 1)
    else:
        system, code = None, token
    if plain is not None and system is None and plain == code:
        return True
    for coding in codings:
        if coding.get("code") != code:
            continue
        if system is None or (system == "" and not coding.get("system")):
            return True
        if coding.get("system") == system:
            return True
    return False


def _any_token(value: str, codings: Sequence[Mapping[str, Any]], plain: Any = None) -> bool:
    return any(_token_matches(t, codings, plain) for t in value.split(",") if t)


def _date_of(resource: Mapping[str, Any]) -> datetime | None:
    """The resource's clinical date, as the ``date`` search parameter reads it."""
    kind = resource.get("resourceType")
    candidates: list[Any]
    if kind == "Observation":
        period = resource.get("effectivePeriod")
        candidates = [
            resource.get("effectiveDateTime"),
            resource.get("effectiveInstant"),
            period.get("start") if isinstance(period, Mapping) else None,
        ]
    elif kind == "Condition":
        candidates = [resource.get("recordedDate"), resource.get("onsetDateTime")]
    elif kind == "Procedure":
        period = resource.get("performedPeriod")
        candidates = [
            resource.get("performedDateTime"),
            period.get("start") if isinstance(period, Mapping) else None,
        ]
    else:
        candidates = [resource.get("authoredOn"), resource.get("dateAsserted")]
    for value in candidates:
        parsed = _parse_datetime(value)
        if parsed is not None:
            return parsed
    return None


def _parse_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) < 4:
        return None
    text = value
    if len(text) == 4:
        text += "-01-01"
    elif len(text) == 7:
        text += "-01"
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _matches(resource: Mapping[str, Any], name: str, value: str, patient_id: str) -> bool:
    if name in ("patient", "subject"):
        return _belongs_to(resource, patient_id)
    if name == "code":
        return _any_token(value, _codings(resource.get("code")))
    if name == "clinical-status":
        return _any_token(value, _codings(resource.get("clinicalStatus")))
    if name == "verification-status":
        return _any_token(value, _codings(resource.get("verificationStatus")))
    if name == "category":
        return _any_token(value, _codings(resource.get("category")))
    if name == "status":
        return _any_token(value, [], plain=resource.get("status"))
    raise UnsupportedQueryError(f"search parameter {name!r} is not supported offline")


def search(resources: Sequence[Json], query: str, patient_id: str) -> list[Json]:
    """Evaluate one rendered type-level search (``Type?param=value&...``)."""
    kind, _, params = query.partition("?")
    matched = [r for r in resources if r.get("resourceType") == kind]
    sort: str | None = None
    for name, value in parse_qsl(params, keep_blank_values=True):
        if name == "_count":
            continue
        if name == "_sort":
            sort = value
            continue
        if name in ("patient", "subject"):
            wanted = unquote(value).removeprefix("Patient/")
            if wanted != patient_id:
                raise UnsupportedQueryError("the query names another patient")
        matched = [r for r in matched if _matches(r, name, value, patient_id)]
    if sort is not None:
        if sort.lstrip("-") != "date":
            raise UnsupportedQueryError(f"_sort={sort} is not supported offline")
        floor = datetime.min.replace(tzinfo=UTC)
        matched.sort(key=lambda r: _date_of(r) or floor, reverse=sort.startswith("-"))
    if not any(name in ("patient", "subject") for name, _ in parse_qsl(params)):
        raise UnsupportedQueryError("a prefetch search must be restricted to the patient")
    return matched


def searchset(resources: Sequence[Json]) -> Json:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {
                "fullUrl": f"{r['resourceType']}/{r.get('id', '')}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }


def prefetch_from_bundle(
    bundle: Mapping[str, Any], patient_id: str, templates: Mapping[str, str]
) -> Json:
    """The complete prefetch object for ``patient_id`` from the Bundle's resources."""
    resources = bundle_resources(bundle)
    context = {"patientId": patient_id}
    prefetch: Json = {}
    for key, template in templates.items():
        query = render_template(template, context)
        if "?" not in query:
            kind, _, rid = query.partition("/")
            found = [
                r
                for r in resources
                if r.get("resourceType") == kind and r.get("id") == unquote(rid)
            ]
            prefetch[key] = found[0] if found else None
            continue
        prefetch[key] = searchset(search(resources, query, patient_id))
    return prefetch


def hook_instance_for(name: str) -> str:
    """A stable hookInstance for a named example (the same file every time)."""
    return str(uuid.uuid5(_NAMESPACE, name))


def hook_request(
    patient_id: str,
    *,
    hook_instance: str,
    prefetch: Mapping[str, Any] | None = None,
    fhir_server: str | None = None,
    access_token: str | None = None,
    user_id: str = "Practitioner/example",
) -> Json:
    """A CDS Hooks 2.0 ``patient-view`` request body."""
    request: Json = {
        "hook": "patient-view",
        "hookInstance": hook_instance,
        "context": {"userId": user_id, "patientId": patient_id},
    }
    if fhir_server:
        request["fhirServer"] = fhir_server
    if fhir_server and access_token:
        request["fhirAuthorization"] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/Patient.read patient/Observation.read patient/Condition.read "
            "patient/MedicationRequest.read patient/MedicationStatement.read "
            "patient/Procedure.read",
            "subject": "cds-service-msc-liver-screening",
        }
    if prefetch is not None:
        request["prefetch"] = dict(prefetch)
    return request
