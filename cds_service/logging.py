"""Structured JSON logs: one object per line on stderr, with the request id.

What is never logged: access tokens, JWTs, request or resource bodies. Patient ids only
when ``CDS_LOG_PATIENT_IDS`` is true. Callers pass structured fields with
``log_event(logger, "event-name", field=value)``; free text goes in the message only when
it cannot hold patient data.
"""

from __future__ import annotations

import logging
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

from cds_service.config import Settings

#: the id of the HTTP request being served (set by the web layer), for every log line
request_id_var: ContextVar[str | None] = ContextVar("cds_request_id", default=None)

_FIELDS = "cds_fields"
_HANDLER_NAME = "cds-service-json"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            doc["request_id"] = request_id
        fields = getattr(record, _FIELDS, None)
        if isinstance(fields, dict):
            doc.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            # type and stack only: exception messages may quote data
            doc["exception"] = record.exc_info[0].__name__
            doc["stack"] = "".join(traceback.format_tb(record.exc_info[2]))
        return orjson.dumps(doc, default=str).decode()


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """Writes to whatever ``sys.stderr`` is now (test capture, gunicorn redirection)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override,unused-ignore]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(settings: Settings) -> None:
    """Send the ``cds_service`` loggers to stderr as JSON lines (idempotent)."""
    logger = logging.getLogger("cds_service")
    logger.setLevel(settings.log_level)
    if not any(h.get_name() == _HANDLER_NAME for h in logger.handlers):
        handler = _StderrHandler()
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.propagate = False


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log ``event`` with structured ``fields`` (already free of tokens and patient data)."""
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={_FIELDS: {"event": event, **fields}})
