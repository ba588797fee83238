"""``escape_str`` (the renderer's fast path) gives exactly what ``escape_markdown`` gives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cds_service.cards.markdown import escape_markdown, escape_str


@given(st.text())
def test_escape_str_equals_escape_markdown(text: str) -> None:
    assert escape_str(text) == escape_markdown(text)


@given(st.text(alphabet=" \t\n\x00|*_[]{}<>#~!&$`\\abc1.-"))
def test_escape_str_equals_escape_markdown_on_special_characters(text: str) -> None:
    assert escape_str(text) == escape_markdown(text)
