"""Fixtures for the security tests: signing keys generated per test session."""

from __future__ import annotations

import pytest

from .keys import SigningKey, make_key


@pytest.fixture(scope="session")
def es384() -> SigningKey:
    return make_key("ES384", "es384-key")


@pytest.fixture(scope="session")
def rs384() -> SigningKey:
    return make_key("RS384", "rs384-key")
