"""Decode a hook request keeping, of each prefetched resource, only the fields the service reads.

Why: a realistic ``patient-view`` request is ~140 KiB of FHIR JSON of which the rules read
perhaps a fifth (code, status, date, value, ranges). Parsing all of it into Python objects
(orjson: ~0.5 ms on the build machine) and freeing it again is one of the larger costs of a
hook. msgspec decodes straight into the typed subset below, skipping every other field in C:
~0.36 ms, and a smaller tree to free (bench/bench_hooks.py prints both).

The contract, which ``tests/web/test_request_subset.py`` enforces:

* **Same answer or no answer.** When :func:`decode_subset` returns a document, every field the
  service reads has exactly the value orjson would have produced: strings, lists and objects
  are the same, integers stay integers and floats floats. Any value outside the declared type
  (a FHIR-invalid shape such as a numeric ``status`` or a ``null`` display), any JSON error,
  invalid UTF-8 anywhere in the body, and integers orjson would not read as 64-bit integers
  make it return None, and the caller parses the whole body with orjson and reads it with the
  defensive readers exactly as before. The fast path never accepts a request the full path
  would refuse, except in one place noted below.
* **Every field the service reads is declared here.** A test records, over every fixture and
  Synthea patient, each key the resolver, engine and cards read from prefetched resources and
  fails when one is missing from these types; another lists every key literal the readers use.
  Reading a new FHIR field means declaring it here.
* The envelope (``hook``, ``hookInstance``, ``context``, ``fhirAuthorization``, ...) is
  small and is decoded by orjson from the raw slices msgspec hands over, so its validation is
  unchanged. Unknown top-level fields are dropped: the request schema does not constrain them.

The one difference: in the skipped fields msgspec checks JSON syntax but not number range, so
a number too large for a double (``1e400``) in a field the service ignores is accepted here,
while orjson refuses the whole body. Both readings are allowed by RFC 8259 (section 9:
parsers may limit the range of numbers); it cannot change an answer.
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

import msgspec
import orjson

# orjson reads an integer literal as int when it fits in 64 bits and as a float beyond; msgspec
# would keep any size as int. Outside the signed 64-bit range the fast path gives up, so the
# two readings of an integer are always the same int.
_Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
_Number = _Int | float


class Coding(TypedDict, total=False):
    system: str
    code: str
    display: str


class CodeableConcept(TypedDict, total=False):
    coding: list[Coding]
    text: str


class Quantity(TypedDict, total=False):
    value: _Number
    comparator: str
    unit: str
    code: str


class Period(TypedDict, total=False):
    start: str
    end: str


class Range(TypedDict, total=False):  # Observation.referenceRange
    low: Quantity
    high: Quantity


class Reference(TypedDict, total=False):
    reference: str


class DispenseRequest(TypedDict, total=False):
    validityPeriod: Period


class ContainedResource(TypedDict, total=False):  # a contained Medication
    resourceType: str
    id: str
    code: CodeableConcept


class Link(TypedDict, total=False):
    relation: str
    url: str


class Entry(TypedDict, total=False):
    resource: Resource


class Resource(TypedDict, total=False):
    """A prefetched value (Bundle, Patient, OperationOutcome) or a Bundle entry's resource:
    the union of the fields the service reads of each type (no two types disagree on one)."""

    resourceType: str
    id: str
    # Bundle
    entry: list[Entry]
    link: list[Link]
    # Patient
    gender: str
    birthDate: str
    # Observation
    status: str
    code: CodeableConcept
    effectiveDateTime: str
    effectiveInstant: str
    effectivePeriod: Period
    issued: str
    valueQuantity: Quantity
    valueString: str
    valueCodeableConcept: CodeableConcept
    valueInteger: _Int
    interpretation: list[CodeableConcept]
    referenceRange: list[Range]
    # Condition
    clinicalStatus: CodeableConcept
    verificationStatus: CodeableConcept
    onsetDateTime: str
    onsetPeriod: Period
    abatementDateTime: str
    abatementPeriod: Period
    recordedDate: str
    # MedicationRequest / MedicationStatement
    medicationCodeableConcept: CodeableConcept
    medicationReference: Reference
    contained: list[ContainedResource]
    authoredOn: str
    dispenseRequest: DispenseRequest
    dateAsserted: str
    # Procedure
    performedDateTime: str
    performedPeriod: Period


class _Request(TypedDict, total=False):
    hook: msgspec.Raw
    hookInstance: msgspec.Raw
    fhirServer: msgspec.Raw
    fhirAuthorization: msgspec.Raw
    context: msgspec.Raw
    extension: msgspec.Raw
    prefetch: dict[str, Resource | None]


#: envelope fields handed over raw and decoded by orjson, as the full path does
ENVELOPE_FIELDS = (
    "hook",
    "hookInstance",
    "fhirServer",
    "fhirAuthorization",
    "context",
    "extension",
)

_DECODER = msgspec.json.Decoder(_Request)
_GIVE_UP = (
    msgspec.DecodeError,  # also msgspec.ValidationError
    orjson.JSONDecodeError,
    UnicodeDecodeError,
    RecursionError,
)


def decode_subset(raw: bytes) -> dict[str, Any] | None:
    """The request with each prefetched resource cut to the fields the service reads, or
    None: then parse the whole body (see the module docstring for the guarantee)."""
    try:
        raw.decode("utf-8")  # msgspec does not check the UTF-8 of strings it skips
        document: dict[str, Any] = _DECODER.decode(raw)  # type: ignore[assignment]
        for name in ENVELOPE_FIELDS:
            if name in document:
                document[name] = orjson.loads(memoryview(document[name]))
    except _GIVE_UP:
        return None
    return document
