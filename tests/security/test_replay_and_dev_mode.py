"""jti replay store and the dev-mode loopback rule."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from cds_service.config import ConfigError
from cds_service.security.dev_mode import (
    DevModeNotAllowed,
    assert_dev_mode_allowed,
    is_loopback_host,
)
from cds_service.security.replay import InMemoryJtiStore, JtiStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_jti_is_remembered_until_it_expires() -> None:
    now = [T0]
    store = InMemoryJtiStore(clock=lambda: now[0], prune_every=1)
    assert isinstance(store, JtiStore)
    assert store.remember_jti("a", T0 + timedelta(minutes=5))
    assert not store.remember_jti("a", T0 + timedelta(minutes=5))
    now[0] = T0 + timedelta(minutes=6)
    assert store.remember_jti("b", T0 + timedelta(minutes=11))
    assert len(store) == 1  # "a" pruned
    assert store.remember_jti("a", T0 + timedelta(minutes=11))


def test_jti_store_is_thread_safe() -> None:
    store = InMemoryJtiStore(clock=lambda: T0)
    wins: list[bool] = []
    lock = threading.Lock()

    def claim() -> None:
        result = store.remember_jti("same", T0 + timedelta(minutes=5))
        with lock:
            wins.append(result)

    threads = [threading.Thread(target=claim) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST."]
)
def test_loopback_hosts_allow_dev_mode(host: str) -> None:
    assert is_loopback_host(host)
    assert_dev_mode_allowed(host)


@pytest.mark.parametrize(
    "host",
    [
        "0.0.0.0",
        "::",
        "192.168.1.10",
        "10.0.0.1",
        "example.org",
        "",
        "127.0.0.1.nip.io",
        "a.localhost",
    ],
)
def test_other_hosts_refuse_dev_mode(host: str) -> None:
    with pytest.raises(DevModeNotAllowed, match="loopback") as info:
        assert_dev_mode_allowed(host)
    assert isinstance(info.value, ConfigError)
