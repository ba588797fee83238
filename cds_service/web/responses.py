"""JSON responses, serialised with orjson."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response

from cds_service.hooks.errors import operation_outcome

JSON = "application/json"


def json_response(document: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(document), status=status, mimetype=JSON)


def raw_json_response(body: bytes, status: int = 200) -> Response:
    return Response(body, status=status, mimetype=JSON)


def outcome_response(
    status: int, code: str, diagnostics: str, expression: str | None = None
) -> Response:
    return json_response(operation_outcome(code, diagnostics, expression), status)
