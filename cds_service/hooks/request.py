"""Parse one CDS Hooks 2.0 ``patient-view`` request body into a typed value.

Order of checks, cheapest first: nesting depth (on the raw bytes), JSON syntax, JSON Schema,
then the hook name. Every failure is an :class:`InvalidRequestError` naming the field.

Two ways to read the body, one result: the common request (well-formed FHIR in its prefetch)
is decoded by :func:`~cds_service.hooks.subset.decode_subset`, which keeps of each prefetched
resource only the fields the service reads; anything that decoder does not take, and every
request the hand-written envelope check does not accept, is parsed whole by orjson and checked
against the JSON Schema, so errors and unusual requests take the one, complete path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from cds_service.hooks.errors import InvalidRequestError
from cds_service.hooks.subset import decode_subset
from cds_service.hooks.validation import first_error, schema

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
    subset = decode_subset(raw)
    if subset is not None and surely_valid(subset):
        return _hook_request(subset)
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequestError(
            "request body is not valid JSON", issue_code="structure"
        ) from None
    return hook_request_from(document)


def _pattern(*path: str) -> re.Pattern[str]:
    node: Any = schema("patient-view-request")
    for name in path:
        node = node["properties"][name]
    return re.compile(node["pattern"])


# the request schema's own patterns (jsonschema applies them with re.search, as here)
_HOOK_INSTANCE = _pattern("hookInstance")
_FHIR_SERVER = _pattern("fhirServer")
_TOKEN_TYPE = _pattern("fhirAuthorization", "token_type")
_USER_ID = _pattern("context", "userId")
_PATIENT_ID = _pattern("context", "patientId")
_ENCOUNTER_ID = _pattern("context", "encounterId")
_PREFETCH_KEYS = tuple(schema("patient-view-request")["properties"]["prefetch"]["properties"])


def _plain_string(value: Any, pattern: re.Pattern[str]) -> bool:
    return isinstance(value, str) and pattern.search(value) is not None


def surely_valid(document: dict[str, Any]) -> bool:
    """True only for a request the JSON Schema accepts; False means "ask the schema".

    The common, valid request is checked here in a few microseconds instead of ~80 us of
    jsonschema; anything unusual (and every invalid request) goes to the schema, so the
    400's field and message come from one place. Stricter than the schema, never looser:
    e.g. an integral float ``expires_in`` goes to the schema. It mirrors
    ``schemas/patient-view-request.schema.json``: change both together (a test pins the
    schema's text so that a change to it fails until this function is reviewed).
    """
    hook = document.get("hook")
    if not isinstance(hook, str) or not hook:
        return False
    if not _plain_string(document.get("hookInstance"), _HOOK_INSTANCE):
        return False
    if "fhirServer" in document:
        server = document["fhirServer"]
        if not _plain_string(server, _FHIR_SERVER) or len(server) > 2048:
            return False
    if "fhirAuthorization" in document:
        auth = document["fhirAuthorization"]
        if "fhirServer" not in document or not isinstance(auth, dict):
            return False
        token = auth.get("access_token")
        expires = auth.get("expires_in")
        if (
            not isinstance(token, str)
            or not 1 <= len(token) <= 16384
            or not _plain_string(auth.get("token_type"), _TOKEN_TYPE)
            or type(expires) is not int
            or expires < 0
            or not isinstance(auth.get("scope"), str)
            or not isinstance(auth.get("subject"), str)
            or ("patient" in auth and not isinstance(auth["patient"], str))
        ):
            return False
    context = document.get("context")
    if (
        not isinstance(context, dict)
        or not _plain_string(context.get("userId"), _USER_ID)
        or not _plain_string(context.get("patientId"), _PATIENT_ID)
        or ("encounterId" in context and not _plain_string(context["encounterId"], _ENCOUNTER_ID))
    ):
        return False
    if "prefetch" in document:
        prefetch = document["prefetch"]
        if not isinstance(prefetch, dict):
            return False
        for key in _PREFETCH_KEYS:
            value = prefetch.get(key)
            if value is not None and not isinstance(value, dict):
                return False
    return "extension" not in document or isinstance(document["extension"], dict)


def hook_request_from(document: Any) -> HookRequest:
    """Validate an already parsed request document (the command line uses this too)."""
    if not isinstance(document, dict):
        raise InvalidRequestError("request body must be a JSON object", issue_code="structure")
    problem = None if surely_valid(document) else first_error("patient-view-request", document)
    if problem is not None:
        where, message = problem
        raise InvalidRequestError(message, expression=where)
    return _hook_request(document)


def _hook_request(document: dict[str, Any]) -> HookRequest:
    """The typed request from a document the schema accepts."""
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
