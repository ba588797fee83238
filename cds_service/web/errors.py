"""JSON errors everywhere: every 4xx/5xx is an OperationOutcome, never HTML or a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from cds_service.hooks.errors import HookError
from cds_service.web.responses import outcome_response

_log = logging.getLogger("cds_service.web")

#: FHIR issue-type codes for HTTP statuses
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    408: "timeout",
    411: "invalid",
    412: "incomplete",
    413: "too-long",
    415: "not-supported",
    429: "throttled",
}


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    diagnostics = {
        404: "no such endpoint",
        405: "method not allowed on this endpoint",
        413: "request body too large",
    }.get(status, error.name)
    response = outcome_response(status, ISSUE_CODES.get(status, "exception"), diagnostics)
    if status == 405 and error.response is None:
        allowed = getattr(error, "valid_methods", None)
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
    return response


def _hook_error(error: HookError) -> Response:
    return outcome_response(error.status, error.issue_code, error.diagnostics, error.expression)


def _unexpected(error: Exception) -> Response:
    _log.error("unhandled error", exc_info=error)
    return outcome_response(500, "exception", "internal error; see the service log")


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(HookError, _hook_error)
    app.register_error_handler(Exception, _unexpected)
