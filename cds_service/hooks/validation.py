"""JSON Schemas of the CDS Hooks 2.0 documents this service reads and writes.

The schemas (``schemas/*.schema.json``) are written by us from the 2.0.1 specification and
compiled once. Error messages name the field (as a dotted path) and the rule it broke, and
never echo the offending value: a value may be an access token or patient data.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

SCHEMA_NAMES = ("patient-view-request", "response", "discovery")

_RULE_TEXT = {
    "type": "has the wrong type",
    "pattern": "has an invalid format",
    "minLength": "is too short",
    "maxLength": "is too long",
    "minimum": "is below the minimum",
    "enum": "is not one of the allowed values",
    "const": "is not the allowed value",
    "minItems": "must not be empty",
    "minProperties": "must not be empty",
    "additionalProperties": "has an attribute that is not allowed",
    "not": "has an attribute that is not allowed here",
}


@cache
def schema(name: str) -> dict[str, Any]:
    """The parsed schema ``name`` (one of :data:`SCHEMA_NAMES`)."""
    text = resources.files("cds_service.hooks").joinpath(f"schemas/{name}.schema.json").read_bytes()
    loaded: dict[str, Any] = orjson.loads(text)
    return loaded


@cache
def validator(name: str) -> Draft202012Validator:
    s = schema(name)
    Draft202012Validator.check_schema(s)
    return Draft202012Validator(s)


def _dotted(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def describe(error: ValidationError) -> tuple[str, str]:
    """(field path, message) for one schema error, without the offending value."""
    field = _dotted(error.absolute_path)
    rule = str(error.validator)
    if rule in {"required", "dependentRequired"}:
        # name the first missing property (the schema lists them; the instance lacks them)
        schema_value: Any = error.validator_value
        instance = error.instance if isinstance(error.instance, dict) else {}
        if rule == "required":
            names = [n for n in schema_value if n not in instance]
        else:
            names = [
                n
                for trigger, needed in schema_value.items()
                if trigger in instance
                for n in needed
                if n not in instance
            ]
        missing = names[0] if names else "?"
        full = f"{field}.{missing}" if field else missing
        return full, f"{full} is required"
    where = field or "request body"
    return where, f"{where} {_RULE_TEXT.get(rule, 'is invalid')} ({rule})"


def first_error(name: str, document: Any) -> tuple[str, str] | None:
    """The most relevant violation of schema ``name`` by ``document``, or None if valid."""
    v = validator(name)
    error = best_match(v.iter_errors(document))
    return None if error is None else describe(error)


def errors(name: str, document: Any) -> list[str]:
    """Every violation's message, each naming its field (for tests and the command line)."""
    return [f"{describe(e)[1]}" for e in validator(name).iter_errors(document)]
