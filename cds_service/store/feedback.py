"""CDS Hooks 2.0 feedback: validate a request body and turn it into values (no Flask).

The JSON Schema (``schemas/feedback-request.schema.json``) carries the spec's rules,
including "acceptedSuggestions is required for accepted outcomes". A violation raises
:class:`FeedbackError` naming the offending field as a path, e.g.
``feedback[0].acceptedSuggestions``, for the OperationOutcome ``expression``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "feedback-request.schema.json"

FeedbackOutcome = Literal["accepted", "overridden"]

_RFC3339 = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?"
    r"(?P<offset>[Zz]|[+-]\d{2}:\d{2})$",
    re.ASCII,
)


class FeedbackError(ValueError):
    """The request body is not valid CDS Hooks 2.0 feedback."""

    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True, slots=True)
class OverrideReason:
    code: str | None = None
    system: str | None = None
    display: str | None = None
    user_comment: str | None = None


@dataclass(frozen=True, slots=True)
class FeedbackItem:
    card_uuid: str
    outcome: FeedbackOutcome
    outcome_timestamp: datetime  # UTC, microsecond precision
    accepted_suggestions: tuple[str, ...] = ()
    override_reason: OverrideReason | None = None

    @property
    def key(self) -> tuple[str, str, datetime]:
        """What makes two items the same feedback (the store keeps one row per key)."""
        return (self.card_uuid, self.outcome, self.outcome_timestamp)


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def parse_feedback_request(body: Any) -> tuple[FeedbackItem, ...]:
    """Validate a decoded JSON body; raise FeedbackError naming the first bad field."""
    errors = sorted(_validator().iter_errors(body), key=_error_order)
    if errors:
        raise _feedback_error(errors[0])
    items = []
    for index, raw in enumerate(body["feedback"]):
        items.append(_item(raw, index))
    return tuple(items)


def parse_rfc3339(value: str) -> datetime:
    """RFC 3339 ``date-time`` to an aware UTC datetime (fraction cut to microseconds)."""
    match = _RFC3339.match(value)
    if match is None:
        raise ValueError(f"not an RFC 3339 date-time: {value!r}")
    frac = (match["frac"] or "")[:6].ljust(6, "0")
    offset = "+00:00" if match["offset"] in {"Z", "z"} else match["offset"]
    try:
        parsed = datetime.fromisoformat(f"{match['date']}T{match['time']}.{frac}{offset}")
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-14:00 is past year 9999 in UTC
        raise ValueError(f"date-time out of range: {value!r}") from None


def _item(raw: Mapping[str, Any], index: int) -> FeedbackItem:
    try:
        timestamp = parse_rfc3339(raw["outcomeTimestamp"])
    except ValueError:
        field = f"feedback[{index}].outcomeTimestamp"
        raise FeedbackError(f"{field}: not a valid RFC 3339 date-time", field) from None
    reason = raw.get("overrideReason")
    override = None
    if isinstance(reason, Mapping):
        coding = reason.get("reason") or {}
        override = OverrideReason(
            code=coding.get("code"),
            system=coding.get("system"),
            display=coding.get("display"),
            user_comment=reason.get("userComment"),
        )
    suggestions = tuple(s["id"] for s in raw.get("acceptedSuggestions", ()))
    return FeedbackItem(
        card_uuid=raw["card"],
        outcome=raw["outcome"],
        outcome_timestamp=timestamp,
        accepted_suggestions=suggestions,
        override_reason=override,
    )


def _error_order(error: ValidationError) -> tuple[int, Sequence[str]]:
    # Report the shallowest, first-listed problem: the one a reader fixes first.
    return (len(error.absolute_path), [str(p) for p in error.absolute_path])


def _feedback_error(error: ValidationError) -> FeedbackError:
    path = list(error.absolute_path)
    required: Any = error.validator_value
    if error.validator == "required" and isinstance(error.instance, Mapping):
        missing = [name for name in required if name not in error.instance]
        if missing:
            path.append(missing[0])
            return FeedbackError(f"{_dotted(path)} is required", _dotted(path))
    field = _dotted(path) or None
    where = field or "the request body"
    return FeedbackError(f"{where}: {_short(error)}", field)


def _short(error: ValidationError) -> str:
    expected: Any = error.validator_value
    if error.validator == "enum":
        return f"must be one of {', '.join(map(str, expected))}"
    if error.validator == "pattern":
        return "must be an RFC 3339 date-time such as 2021-12-11T10:05:31Z"
    if error.validator == "type":
        return f"must be of type {error.validator_value}"
    if error.validator == "minItems":
        return f"must have at least {error.validator_value} item(s)"
    if error.validator == "maxItems":
        return f"must have at most {error.validator_value} items"
    if error.validator == "minLength":
        return "must not be empty"
    if error.validator == "maxLength":
        return f"must be at most {error.validator_value} characters"
    return str(error.message)[:200]


def _dotted(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out
