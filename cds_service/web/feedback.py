"""Feedback endpoint ``POST /cds-services/<id>/feedback``.

PLACEHOLDER owned by the feedback/audit work (issue 7): ``blueprint`` will be
replaced by the real endpoint backed by the store.
"""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("feedback", __name__)
