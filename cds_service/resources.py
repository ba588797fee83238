"""Locate data folders shipped with the service, installed or run from a checkout.

``cards/`` and ``fhir_fixtures/`` live at the top of the repository so clinicians and
integrators find them; the wheel carries them as ``cds_service/_data/<name>``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the folder ``name`` (``"cards"`` or ``"fhir_fixtures"``).

    Raises FileNotFoundError naming both places looked in, so a broken install fails
    loudly at start-up rather than at request time.
    """
    installed = _PACKAGE_DIR / "_data" / name
    if installed.is_dir():
        return installed
    checkout = _PACKAGE_DIR.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"data folder {name!r} not found in {installed} or {checkout}")
