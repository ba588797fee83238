"""Errors raised by the card layer."""

from __future__ import annotations


class CardConfigError(ValueError):
    """The card definitions, templates or reference catalog are invalid.

    Raised by :meth:`CardRenderer.load` at start-up with a message naming the file and
    the problem, so a typo in card wording fails the deployment, never a hook call.
    """
