"""The request parser's cheap checks agree with the slow, obvious ones."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service.hooks.request import nesting_exceeds

tricky_text = st.text(alphabet='[]{}"\\ab:,\n', max_size=8)
values = st.recursive(
    st.none() | st.integers() | tricky_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(tricky_text, children, max_size=3)
    ),
    max_leaves=30,
)


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


@settings(max_examples=400, deadline=None)
@given(values, st.integers(min_value=0, max_value=8), st.booleans())
def test_nesting_check_matches_the_parsed_depth(value: Any, limit: int, indent: bool) -> None:
    text = json.dumps(value, indent=1 if indent else None).encode()
    assert nesting_exceeds(text, limit) == (depth(value) > limit)


def test_brackets_in_strings_do_not_count() -> None:
    text = json.dumps({"a": "[[[[[[[[[[", "b": "]]]]]]", "c": '\\"[{'}).encode()
    assert not nesting_exceeds(text, 1)
    assert nesting_exceeds(json.dumps([[[1]]]).encode(), 2)
