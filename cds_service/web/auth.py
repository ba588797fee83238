"""Request authentication for every endpoint but the CORS preflight.

PLACEHOLDER owned by the security work (issue 6): ``init_app`` will register a
``before_request`` hook that verifies the EHR's JWT. Until then it does nothing.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from cds_service.config import Settings


def init_app(app: Flask, settings: Settings, authenticator: Any) -> None:
    """Register JWT verification on ``app`` (not yet implemented)."""
