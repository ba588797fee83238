"""The CDS Hooks 2.0 card JSON Schema this layer promises to satisfy."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

CARD_SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "cds-hooks-card.schema.json"


@cache
def card_validator() -> jsonschema.Draft202012Validator:
    schema: dict[str, Any] = json.loads(CARD_SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def card_errors(card: dict[str, Any]) -> list[str]:
    """Every schema violation of ``card``, as 'path: message' lines (empty when valid)."""
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(card)'}: {e.message}"
        for e in card_validator().iter_errors(card)
    ]
