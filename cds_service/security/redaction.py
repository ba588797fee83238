"""Keep bearer tokens and JWTs out of every log line.

Two layers, because a ``logging.Filter`` on a logger does not see records propagated from
child loggers:

* :class:`RedactingFilter` rewrites a record's message (after ``%`` formatting), its
  exception text and stack text; attach it to handlers.
* :func:`install_log_redaction` wraps the log-record factory so every record created in the
  process is redacted at birth, whatever logger or handler it goes to (gunicorn's, pytest's),
  and adds the filter to the root logger's handlers. Idempotent.

This is a safety net: code must still not log tokens or resource contents in the first place.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Bearer <anything>
    (re.compile(r"(?i)\b(bearer)(\s+|%20|\+)[A-Za-z0-9\-._~+/]+=*"), r"\1 [REDACTED]"),
    # A JWS/JWT anywhere (header starts with base64url of '{"'): three dot-separated parts.
    (re.compile(r"eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{2,}\.[A-Za-z0-9_\-]*"), "[REDACTED-JWT]"),
    # "access_token": "..." / access_token=... (fhirAuthorization, OAuth responses)
    (
        re.compile(
            r"(?i)([\"']?(?:access_token|refresh_token|id_token|client_secret|password)[\"']?"
            r"\s*[:=]\s*[\"']?)[^\"'\s,&}]+"
        ),
        r"\1[REDACTED]",
    ),
    # Basic credentials
    (re.compile(r"(?i)\b(basic)\s+[A-Za-z0-9+/]{8,}=*"), r"\1 [REDACTED]"),
)


def redact(text: str) -> str:
    """``text`` with bearer tokens, JWTs and token-valued fields replaced."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string must not break logging
        message = str(record.msg)
    cleaned = redact(message)
    if cleaned != message or record.args:
        record.msg = cleaned
        record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class RedactingFilter(logging.Filter):
    """A filter that redacts secrets in the record and lets it through."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        return True


_install_lock = threading.Lock()
_installed = False
_FILTER = RedactingFilter()


def install_log_redaction() -> None:
    """Redact every log record created from now on (process-wide, idempotent)."""
    global _installed
    with _install_lock:
        for handler in logging.getLogger().handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _redact_record(record)
            return record

        logging.setLogRecordFactory(redacting_factory)
        _installed = True
