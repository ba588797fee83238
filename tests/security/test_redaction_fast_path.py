"""``redact`` skips the regular expressions only for text none of them can match."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cds_service.security.redaction import _REDACTIONS, redact


def _all_patterns(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


_WORDS = st.sampled_from(
    [
        "Bearer ",
        "bEaReR%20",
        "eyJhbGciOi.eyJzdWIiOi.c2ln",
        "access_token=",
        '"refresh_token": "',
        "ID_TOKEN:",
        "client_secret=",
        "Password=",
        "Basic ",
        "abcdefgh12345678",
        " ",
        "\u017f",  # long s: case-folds to "s"
        "\u212a",  # Kelvin sign: case-folds to "k"
        "x",
    ]
)


@given(st.lists(_WORDS, max_size=8).map("".join))
def test_redact_equals_applying_every_pattern(text: str) -> None:
    assert redact(text) == _all_patterns(text)


@given(st.text())
def test_redact_equals_applying_every_pattern_on_any_text(text: str) -> None:
    assert redact(text) == _all_patterns(text)
