"""Bearer tokens and JWTs never reach a log line, whatever logger or form they come in."""

from __future__ import annotations

import io
import logging

import pytest

from cds_service.security.redaction import RedactingFilter, install_log_redaction, redact

from .keys import SigningKey, mint


def test_redact_patterns(es384: SigningKey) -> None:
    token = mint(es384)
    assert token not in redact(f"Authorization: Bearer {token}")
    assert token not in redact(f"got {token} from the EHR")
    assert "opaque-token-123" not in redact("header bearer opaque-token-123 seen")
    assert "s3cr3t" not in redact('{"access_token": "s3cr3t", "scope": "x"}')
    assert "s3cr3t" not in redact("access_token=s3cr3t&x=1")
    assert "dXNlcjpwYXNzd29yZA" not in redact("Basic dXNlcjpwYXNzd29yZA==")
    assert redact("Observation 1742-6 value 54 U/L") == "Observation 1742-6 value 54 U/L"


def test_filter_on_handler_redacts_args_exceptions_and_extra(es384: SigningKey) -> None:
    token = mint(es384)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s %(fields)s"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("tests.security.redaction.handler")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("header %s", f"Bearer {token}", extra={"fields": {"auth": token}})
        try:
            raise ValueError(f"bad token {token}")
        except ValueError:
            logger.exception("failed", extra={"fields": [token]})
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert token not in output
    assert "[REDACTED" in output


def test_installed_factory_redacts_records_from_any_logger(
    es384: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    install_log_redaction()
    install_log_redaction()  # idempotent
    token = mint(es384)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("some.library.deep.down").info("sending %s", f"Bearer {token}")
        logging.getLogger("urllib3").debug("%s", token)
    assert caplog.records
    assert token not in caplog.text
    for record in caplog.records:
        assert token not in record.getMessage()
