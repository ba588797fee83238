from __future__ import annotations

import pytest

from cds_service.clinical import ClinicalEngine


@pytest.fixture(scope="session")
def engine() -> ClinicalEngine:
    return ClinicalEngine.load()
