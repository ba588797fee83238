"""Keep bearer tokens and JWTs out of every log line.

Two layers, because a ``logging.Filter`` on a logger does not see records propagated from
child loggers:

* :class:`RedactingFilter` rewrites a record's message (after ``%`` formatting), its
  exception text, stack text and structured fields passed with ``extra=`` (strings inside
  dicts and lists too); attach it to handlers.
* :func:`install_log_redaction` wraps the log-record factory so every record's message and
  exception is redacted at birth, whatever logger or handler it goes to (gunicorn's,
  pytest's), and adds the filter to the handlers of every logger that exists at that moment
  (``extra=`` fields are attached after the factory runs). Idempotent; call it again after
  adding handlers.

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


#: a lower-cased ASCII text without any of these cannot match a pattern above
_TRIGGERS = ("bearer", "eyj", "token", "client_secret", "password", "basic")


def redact(text: str) -> str:
    """``text`` with bearer tokens, JWTs and token-valued fields replaced."""
    if text.isascii():
        # Every log line passes here (message and each field, twice): most hold none of the
        # words a pattern starts from. ASCII only: for other text, case-insensitive regex
        # matching knows foldings (e.g. U+017F for "s") that str.lower() does not.
        lowered = text.lower()
        if not any(word in lowered for word in _TRIGGERS):
            return text
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


#: attributes every LogRecord has; anything else came in through ``extra=`` (structured fields)
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


def _redact_value(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact(value)
    if depth > 4:
        return value
    if isinstance(value, dict):
        return {k: _redact_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v, depth + 1) for v in value)
    return value


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
    for name, value in list(vars(record).items()):
        if name not in _STANDARD_ATTRS and isinstance(value, str | dict | list | tuple):
            setattr(record, name, _redact_value(value))


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
        # Structured fields (``extra=``) are set after the record factory runs, so handlers
        # get the filter too: those of every logger known now (root, cds_service, gunicorn).
        loggers: list[logging.Logger] = [logging.getLogger()]
        loggers += [
            logger
            for logger in logging.Logger.manager.loggerDict.values()
            if isinstance(logger, logging.Logger)
        ]
        for logger in loggers:
            for handler in logger.handlers:
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
