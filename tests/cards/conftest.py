"""Fixtures of the card tests: one renderer per session, deterministic uuids."""

from __future__ import annotations

import pytest

from cds_service.cards import CardRenderer
from tests.cards.builders import CountingUuids


@pytest.fixture(scope="session")
def renderer() -> CardRenderer:
    return CardRenderer.load()


@pytest.fixture
def uuids() -> CountingUuids:
    return CountingUuids()
