"""Markdown safety for values taken from patient data.

Card details are GitHub Flavored Markdown. A value read from FHIR (a condition's display
text, a coded result, a resource id) could contain characters that change the layout (a
``|`` breaks a table, ``*`` starts emphasis, ``<`` starts raw HTML, ``{{`` looks like template
syntax). Every value a detail template prints goes through :func:`escape_markdown` (the
template environment's ``finalize`` hook), unless the code built it as :class:`Markdown`.
"""

from __future__ import annotations

import re

# GFM allows a backslash before any ASCII punctuation; these are the ones that can change
# how inline text renders (or look like template syntax to a reader).
_SPECIAL = "\\`*_[]{}<>|#~!&$"
_ESCAPES = str.maketrans({c: "\\" + c for c in _SPECIAL})
_HAS_SPECIAL = re.compile("[" + re.escape(_SPECIAL) + "]")
# Runs of whitespace and control characters: a value is always printed on one line.
_WHITESPACE = re.compile(r"[\s\x00-\x1f\x7f]+")


class Markdown(str):
    """Text the code built as Markdown on purpose (e.g. a link): printed as is."""

    __slots__ = ()


def one_line(value: object) -> str:
    """Collapse whitespace and control characters (plain-text fields such as the summary)."""
    text = str(value)
    if "  " in text or not text.isprintable():
        text = _WHITESPACE.sub(" ", text)
    return text.strip()


def escape_markdown(value: object) -> str:
    """Render ``value`` as inline Markdown text: one line, special characters escaped."""
    if isinstance(value, Markdown):
        return str(value)
    text = one_line(value)
    # most values need no escaping: a C-speed search first is cheaper than translate()
    return text.translate(_ESCAPES) if _HAS_SPECIAL.search(text) else text


def escape_str(text: str) -> str:
    """:func:`escape_markdown` for a plain ``str`` (not :class:`Markdown`), same result.

    The card renderer escapes a few hundred context strings per hook: most are printable,
    single-spaced and free of special characters, so one check replaces two calls.
    """
    if "  " not in text and text.isprintable() and _HAS_SPECIAL.search(text) is None:
        return text.strip()
    return escape_markdown(text)

