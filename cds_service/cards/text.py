"""Plain-text helpers for card fields: summary fitting, word checks, pruning empties."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from cds_service.cards.markdown import one_line

#: CDS Hooks 2.0: "One-sentence, <140-character summary".
SUMMARY_MAX_CHARS = 139
_ELLIPSIS = "…"


def utf16_len(text: str) -> int:
    """Length as a JavaScript EHR counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def fit_summary(text: str, limit: int = SUMMARY_MAX_CHARS) -> str:
    """One line of at most ``limit`` characters (also in UTF-16 units).

    Too long: cut at the last word boundary that leaves room for an ellipsis (or hard cut
    if a single word is longer than half the limit), so a summary is never cut mid-word
    where avoidable and is never over the limit for any input.
    """
    line = one_line(text)
    if len(line) <= limit and utf16_len(line) <= limit:
        return line
    room = limit - len(_ELLIPSIS)
    cut = line[:room]
    while utf16_len(cut) > room:
        cut = cut[:-1]
    boundary = cut.rfind(" ")
    if boundary >= room // 2:
        cut = cut[:boundary]
    cut = cut.rstrip(" ,;:(-\u2013")
    return cut + _ELLIPSIS


def forbidden_word_pattern(words: Iterable[str]) -> re.Pattern[str]:
    """Whole-word, case-insensitive match of any of ``words``."""
    alternatives = "|".join(re.escape(w) for w in words)
    return re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)


def prune_empty(value: Any) -> Any:
    """Drop None, "", [] and {} everywhere (CDS Hooks: no null or empty JSON elements)."""
    if isinstance(value, dict):
        pruned = {k: prune_empty(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if not _empty(v)}
    if isinstance(value, list | tuple):
        items = [prune_empty(v) for v in value]
        return [v for v in items if not _empty(v)]
    return value


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and len(value) == 0)
