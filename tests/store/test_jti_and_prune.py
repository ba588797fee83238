"""JWT replay memory shared by workers, and retention (``db prune``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import func, select

from cds_service.cli import main
from cds_service.config import Settings
from cds_service.store import Store, parse_feedback_request
from cds_service.store.schema import feedback, hook_calls, issued_cards, seen_jtis
from cds_service.store.store import JTI_SWEEP_EVERY

from .helpers import SERVICE_ID, T0, hook_record


def counts(store: Store) -> dict[str, int]:
    return store.counts()


def test_a_jti_is_new_once_then_seen(store: Store) -> None:
    expires = T0 + timedelta(minutes=5)
    assert store.remember_jti("jti-1", expires) is True
    assert store.remember_jti("jti-1", expires) is False
    assert store.remember_jti("jti-2", expires) is True


def test_a_jti_is_stored_only_as_its_hash(store: Store) -> None:
    store.remember_jti("secret-looking-jti", T0)
    with store.read() as conn:
        (row,) = conn.execute(select(seen_jtis)).all()
    assert "secret-looking-jti" not in repr(tuple(row))
    assert len(row.jti_sha256) == 64


def test_concurrent_replays_of_one_jti_across_stores_admit_exactly_one(
    make_store: Callable[..., Store],
) -> None:
    """Two workers (two stores) and four threads each race the same token."""
    stores = [make_store(), make_store()]
    results: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def race(store: Store) -> None:
        start.wait()
        for n in range(20):
            fresh = store.remember_jti(f"race-{n}", T0 + timedelta(minutes=5))
            with lock:
                results.append(fresh)

    threads = [threading.Thread(target=race, args=(stores[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 160
    assert results.count(True) == 20  # one winner per jti


def test_expired_jtis_are_swept_now_and_then(store: Store) -> None:
    assert JTI_SWEEP_EVERY == store.jti_sweep_every == 1000
    store.jti_sweep_every = 10
    store.remember_jti("long-gone", T0 - timedelta(days=1))
    for n in range(9):
        store.remember_jti(f"fresh-{n}", datetime.now(UTC) + timedelta(minutes=5))
    assert store.counts()["seen_jtis"] == 9  # the 10th call swept "long-gone"


def _fill(store: Store, old: datetime, new: datetime) -> None:
    store.write_hook_calls(
        [
            hook_record(time=old, card_uuids=("old-card",)),
            hook_record(time=new, card_uuids=("new-card",)),
        ]
    )
    for card, when in (("old-card", old), ("new-card", new)):
        items = parse_feedback_request(
            {"feedback": [{"card": card, "outcome": "overridden",
                           "outcomeTimestamp": when.isoformat()}]}
        )  # fmt: skip
        store.record_feedback(SERVICE_ID, items, received_at=when)
    store.remember_jti("expired", old + timedelta(minutes=5))
    store.remember_jti("valid", new + timedelta(days=365))


def test_prune_deletes_rows_older_than_the_retention_period(store: Store) -> None:
    now = T0 + timedelta(days=40)
    _fill(store, old=T0, new=T0 + timedelta(days=35))
    result = store.prune(now=now, retention_days=30)
    assert (result.hook_calls, result.issued_cards, result.feedback, result.jtis) == (1, 1, 1, 1)
    assert result.cutoff == now - timedelta(days=30)
    with store.read() as conn:
        assert conn.scalar(select(issued_cards.c.card_uuid)) == "new-card"
        assert conn.scalar(select(feedback.c.card_uuid)) == "new-card"
        assert conn.scalar(select(func.count()).select_from(hook_calls)) == 1
    assert store.remember_jti("valid", now) is False  # still remembered
    assert store.remember_jti("expired", now) is True  # forgotten after expiry


def test_prune_uses_the_configured_retention(make_store: Callable[..., Store]) -> None:
    store = make_store(retention_days=10)
    _fill(store, old=T0, new=T0 + timedelta(days=5))
    result = store.prune(now=T0 + timedelta(days=12))
    assert result.hook_calls == 1
    assert counts(store)["hook_calls"] == 1


def test_db_prune_command(store_settings: Settings, store: Store) -> None:
    now = datetime.now(UTC)
    _fill(store, old=now - timedelta(days=200), new=now - timedelta(days=1))
    runner = CliRunner()
    env = {"DATABASE_URL": store_settings.database_url or ""}
    result = runner.invoke(main, ["db", "prune", "--retention-days", "100"], env=env)
    assert result.exit_code == 0, result.output
    assert "1 hook calls, 1 issued cards, 1 feedback; 1 expired JWT ids" in result.output
    assert counts(store) == {"hook_calls": 1, "issued_cards": 1, "feedback": 1, "seen_jtis": 1}


def test_db_upgrade_and_status_commands(store_settings: Settings) -> None:
    runner = CliRunner()
    env = {"DATABASE_URL": store_settings.database_url or ""}
    first = runner.invoke(main, ["db", "upgrade"], env=env)
    assert first.exit_code == 0, first.output
    assert "migrated from empty to" in first.output
    again = runner.invoke(main, ["db", "upgrade"], env=env)
    assert "already at" in again.output
    status = runner.invoke(main, ["db", "status"], env=env)
    assert status.exit_code == 0
    assert "hook_calls" in status.output
