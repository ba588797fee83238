"""The request fast path (``surely_valid``) never accepts what the JSON Schema refuses."""

from __future__ import annotations

import copy
import hashlib
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service.hooks.request import surely_valid
from cds_service.hooks.validation import first_error

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

VALID: dict[str, Any] = {
    "hook": "patient-view",
    "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
    "fhirServer": "https://ehr.example.org/fhir",
    "fhirAuthorization": {
        "access_token": "some-opaque-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "cds-service",
    },
    "context": {"userId": "Practitioner/123", "patientId": "1288992", "encounterId": "89284"},
    "prefetch": {"patient": {"resourceType": "Patient", "id": "1288992"}, "conditions": None},
}


def test_the_schema_is_the_one_surely_valid_mirrors() -> None:
    # surely_valid() restates this schema's rules; when the schema changes, review it and
    # update this digest
    text = (
        resources.files("cds_service.hooks")
        .joinpath("schemas/patient-view-request.schema.json")
        .read_bytes()
    )
    assert (
        hashlib.sha256(text).hexdigest()
        == "ee4bef775e68dfe3cb39e825e461eab63a23ab8c177cb5e871332fdc93786a18"
    )


def test_a_valid_request_takes_the_fast_path() -> None:
    assert first_error("patient-view-request", VALID) is None
    assert surely_valid(copy.deepcopy(VALID))


def test_example_requests_agree_with_the_schema() -> None:
    files = [EXAMPLES / "hook-request-prefetch.json"]
    files += sorted(EXAMPLES.glob("hook-requests/*.json"))
    fast = 0
    for path in files:
        document = orjson.loads(path.read_bytes())
        if isinstance(document, dict) and surely_valid(document):
            fast += 1
            assert first_error("patient-view-request", document) is None, path.name
    assert fast > 0


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            "",
            "x",
            "Bearer",
            "bearer",
            "Bearer\n",
            "Practitioner/1",
            "Practitioner/1\n",
            "Patient/a.b-c",
            "abc",
            "a b",
            "https://h/fhir",
            "ftp://h",
            "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea\n",
            "x" * 70,
        ]
    ),
    st.just({}),
    st.just([]),
    st.just({"resourceType": "Patient"}),
)

_PATHS = [
    ("hook",),
    ("hookInstance",),
    ("fhirServer",),
    ("fhirAuthorization",),
    ("fhirAuthorization", "access_token"),
    ("fhirAuthorization", "token_type"),
    ("fhirAuthorization", "expires_in"),
    ("fhirAuthorization", "scope"),
    ("fhirAuthorization", "subject"),
    ("fhirAuthorization", "patient"),
    ("context",),
    ("context", "userId"),
    ("context", "patientId"),
    ("context", "encounterId"),
    ("prefetch",),
    ("prefetch", "patient"),
    ("prefetch", "observations"),
    ("prefetch", "medicationStatements"),
    ("extension",),
    ("somethingElse",),
]


@settings(max_examples=400)
@given(
    st.lists(
        st.tuples(st.sampled_from(_PATHS), st.one_of(_VALUES, st.just("<delete>"))),
        max_size=4,
    )
)
def test_fast_path_never_accepts_what_the_schema_refuses(
    edits: list[tuple[tuple[str, ...], Any]],
) -> None:
    document: Any = copy.deepcopy(VALID)
    for path, value in edits:
        node = document
        for name in path[:-1]:
            node = node.get(name) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            continue
        if value == "<delete>":
            node.pop(path[-1], None)
        else:
            node[path[-1]] = copy.deepcopy(value)
    if surely_valid(document):
        assert first_error("patient-view-request", document) is None
