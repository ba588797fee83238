"""Parse one CDS Hooks 2.0 ``patient-view`` request body into a typed value.

Order of checks, cheapest first: nesting depth (on the raw bytes), JSON syntax (orjson),
JSON Schema, then the hook name. Every failure is an :class:`InvalidRequestError` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from cds_service.hooks.errors import InvalidRequestError
from cds_service.hooks.validation import first_error

PATIENT_VIEW = "patient-view"

# keep only brackets and quotes; every other byte is deleted
_KEEP = b'[]{}"'
_DELETE = bytes(b for b in range(256) if b not in _KEEP)
_BRACES_TO_BRACKETS = bytes.maketrans(b"{}", b"[]")


def nesting_exceeds(raw: bytes, limit: int) -> bool:
    """True when the JSON text ``raw`` nests arrays/objects deeper than ``limit``.

    Works on the raw bytes in C-speed passes (under half the parse time for a 140 KiB
    hook), so a deeply nested body is refused before it is parsed. Exact for well-formed
    JSON; malformed text is refused by the parser right after.
    """
    text = raw
    if b"\\" in text:
        # escapes cannot hide a quote after this: drop escaped backslashes, then escaped quotes
        text = text.replace(b"\\\\", b"").replace(b'\\"', b"")
    text = text.translate(None, _DELETE)
    # Drop strings: removing an adjacent pair of quotes keeps every bracket's inside/outside
    # parity, so first drop the (many) bracket-free strings, then split what is left.
    text = text.replace(b'""', b"")
    if b'"' in text:
        text = b"".join(text.split(b'"')[::2])
    text = text.translate(_BRACES_TO_BRACKETS)
    # each pass removes exactly one level: pairs formed by a removal are not rescanned
    for _ in range(limit):
        if not text:
            return False
        shorter = text.replace(b"[]", b"")
        if shorter == text:
            return False  # unbalanced: leave it to the parser
        text = shorter
    return bool(text)


@dataclass(frozen=True, slots=True)
class HookRequest:
    hook_instance: str
    user_id: str
    patient_id: str
    encounter_id: str | None
    fhir_server: str | None
    #: the bearer token for ``fhir_server``; never logged, stored or shown in repr
    access_token: str | None = field(repr=False)
    #: the prefetch object as sent (keys absent, null, or a FHIR resource)
    prefetch: Mapping[str, Any] = field(repr=False)
    context: Mapping[str, Any] = field(repr=False)


def parse_hook_request(raw: bytes, *, max_depth: int) -> HookRequest:
    if nesting_exceeds(raw, max_depth):
        raise InvalidRequestError(
            f"request body nests deeper than {max_depth} levels", issue_code="too-costly"
        )
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequestError(
            "request body is not valid JSON", issue_code="structure"
        ) from None
    return hook_request_from(document)


def hook_request_from(document: Any) -> HookRequest:
    """Validate an already parsed request document (the command line uses this too)."""
    if not isinstance(document, dict):
        raise InvalidRequestError("request body must be a JSON object", issue_code="structure")
    problem = first_error("patient-view-request", document)
    if problem is not None:
        where, message = problem
        raise InvalidRequestError(message, expression=where)
    if document["hook"] != PATIENT_VIEW:
        raise InvalidRequestError(
            f"this service answers the {PATIENT_VIEW} hook only", expression="hook"
        )
    context = document["context"]
    auth = document.get("fhirAuthorization")
    return HookRequest(
        hook_instance=document["hookInstance"],
        user_id=context["userId"],
        patient_id=context["patientId"],
        encounter_id=context.get("encounterId"),
        fhir_server=document.get("fhirServer"),
        access_token=auth["access_token"] if auth else None,
        prefetch=document.get("prefetch") or {},
        context=context,
    )
