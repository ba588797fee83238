"""Commands of the `cds-service` CLI (being built: see the issue that owns this module)."""

from __future__ import annotations
