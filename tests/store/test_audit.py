"""Audit of hook calls: every record written, none lost under load, at shutdown or fork."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from cds_service.config import Settings
from cds_service.store import Store, parse_feedback_request
from cds_service.store.schema import feedback, hook_calls, issued_cards

from .helpers import SERVICE_ID, T0, hook_record


def count(store: Store, table: object) -> int:
    with store.read() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)) or 0)  # type: ignore[arg-type]


def test_a_record_is_written_with_every_field(store: Store) -> None:
    record = hook_record(
        hook_instance="d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        reason_ids=("exclusion.liver-cancer", "indication.cirrhosis"),
        card_uuids=("card-a", "card-b"),
        data_source="fhir-server",
        fhir_requests=("Patient/{{context.patientId}}", "Condition?patient={{context.patientId}}"),
        latency_ms=48.25,
        status_code=200,
    )
    store.record_hook_call(record)
    assert store.flush(10)
    with store.read() as conn:
        row = conn.execute(select(hook_calls)).one()
        cards = conn.execute(select(issued_cards).order_by(issued_cards.c.card_uuid)).all()
    assert row.called_at == T0
    assert row.hook_instance == record.hook_instance
    assert row.service_id == SERVICE_ID
    assert row.ruleset_version == "2026.1"
    assert row.user_id == "Practitioner/example"
    assert row.patient_ref == "pat-1"
    assert row.patient_ref_hashed is False
    assert row.outcome == "excluded"
    assert row.reason_ids == ["exclusion.liver-cancer", "indication.cirrhosis"]
    assert row.card_uuids == ["card-a", "card-b"]
    assert row.data_source == "fhir-server"
    assert row.fhir_request_count == 2
    assert row.fhir_requests == list(record.fhir_requests)
    assert row.latency_ms == 48.25
    assert row.status_code == 200
    assert [(c.card_uuid, c.hook_call_id, c.outcome, c.issued_at) for c in cards] == [
        ("card-a", row.id, "excluded", T0),
        ("card-b", row.id, "excluded", T0),
    ]


def test_failed_calls_are_audited_too(store: Store) -> None:
    store.record_hook_call(
        hook_record(outcome=None, reason_ids=(), card_uuids=(), data_source=None, status_code=412)
    )
    assert store.flush(10)
    with store.read() as conn:
        row = conn.execute(select(hook_calls)).one()
    assert (row.status_code, row.outcome, row.card_uuids) == (412, None, [])


def test_patient_id_is_stored_as_keyed_hash_when_configured(
    make_store: Callable[..., Store],
) -> None:
    store = make_store(patient_id_hash_key="operator-secret")
    store.record_hook_call(
        hook_record(
            patient_id="pat-1",
            fhir_requests=("Observation?patient=pat-1&access_token=abc.def.ghi&_count=200",),
        )
    )
    assert store.flush(10)
    with store.read() as conn:
        row = conn.execute(select(hook_calls)).one()
    expected = hmac.new(b"operator-secret", b"pat-1", hashlib.sha256).hexdigest()
    assert row.patient_ref == expected
    assert row.patient_ref_hashed is True
    stored = repr(tuple(row))
    assert "pat-1" not in stored
    assert "abc.def.ghi" not in stored
    assert row.fhir_requests == [
        "Observation?patient={{context.patientId}}&access_token=[redacted]&_count=200"
    ]


def test_oversized_values_are_cut_not_rejected(store: Store) -> None:
    store.record_hook_call(hook_record(hook_instance="h" * 1000, user_id="u" * 1000))
    assert store.flush(10)
    assert count(store, hook_calls) == 1
    assert store.audit_writer.lost == 0


def test_a_bad_record_is_isolated_and_the_writer_keeps_going(store: Store) -> None:
    store.record_hook_call(hook_record(hook_instance="ok-1"))
    store.record_hook_call(hook_record(hook_instance="bad", time=T0.replace(tzinfo=None)))
    store.record_hook_call(hook_record(hook_instance="ok-2"))
    assert store.flush(10)
    store.record_hook_call(hook_record(hook_instance="ok-3"))
    assert store.flush(10)
    with store.read() as conn:
        assert set(conn.scalars(select(hook_calls.c.hook_instance))) == {"ok-1", "ok-2", "ok-3"}
    assert store.audit_writer.lost == 1


def test_a_reissued_card_uuid_does_not_lose_the_call(store: Store) -> None:
    store.record_hook_call(hook_record(card_uuids=("same",)))
    store.record_hook_call(hook_record(card_uuids=("same",), time=T0 + timedelta(minutes=1)))
    assert store.flush(10)
    assert count(store, hook_calls) == 2
    assert count(store, issued_cards) == 1


def test_concurrent_hook_calls_are_all_written(store: Store) -> None:
    threads_n, per_thread = 8, 250
    start = threading.Barrier(threads_n)

    def run(t: int) -> None:
        start.wait()
        for i in range(per_thread):
            store.record_hook_call(
                hook_record(hook_instance=f"{t}-{i}", card_uuids=(f"card-{t}-{i}",))
            )

    threads = [threading.Thread(target=run, args=(t,)) for t in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.flush(60)
    with store.read() as conn:
        instances = set(conn.scalars(select(hook_calls.c.hook_instance)))
    assert len(instances) == threads_n * per_thread
    assert count(store, hook_calls) == threads_n * per_thread
    assert count(store, issued_cards) == threads_n * per_thread
    assert store.audit_writer.lost == 0


def test_close_writes_what_is_still_queued(make_store: Callable[..., Store]) -> None:
    writer_store = make_store()
    for i in range(500):
        writer_store.record_hook_call(hook_record(hook_instance=f"q-{i}", card_uuids=()))
    writer_store.close()  # no flush first
    assert count(make_store(), hook_calls) == 500


WORKER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from cds_service.config import Settings
    from cds_service.hooks.audit import HookCallRecord
    from cds_service.store import open_store

    name = sys.argv[1]
    store = open_store(Settings.from_env())
    store.upgrade()
    for i in range(300):
        store.record_hook_call(HookCallRecord(
            time=datetime.now(UTC), hook_instance=f"{name}-{i}", service_id="s",
            ruleset_version="1", user_id=None, patient_id=None, outcome=None,
            reason_ids=(), card_uuids=(f"{name}-card-{i}",), data_source=None,
            fhir_requests=(), latency_ms=1.0, status_code=200))
    sys.exit(0)  # no store.close(): the atexit flush must write the queue
    """
)


def run_workers(store_settings: Settings, cwd: Path, names: list[str]) -> None:
    env = {**os.environ, "DATABASE_URL": store_settings.database_url or ""}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, name],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name in names
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err.decode()


def test_records_queued_at_interpreter_exit_are_written(
    store_settings: Settings, make_store: Callable[..., Store], tmp_path: Path
) -> None:
    """A worker that exits (sys.exit, as gunicorn's do) without closing the store."""
    run_workers(store_settings, tmp_path, ["exit"])
    assert count(make_store(), hook_calls) == 300


def test_several_worker_processes_audit_into_one_database(
    store_settings: Settings, make_store: Callable[..., Store], tmp_path: Path
) -> None:
    run_workers(store_settings, tmp_path, ["w1", "w2", "w3"])
    store = make_store()
    with store.read() as conn:
        instances = set(conn.scalars(select(hook_calls.c.hook_instance)))
    assert len(instances) == 900
    assert count(store, issued_cards) == 900


def test_readers_are_not_blocked_by_a_writer(store: Store) -> None:
    """Reports and readiness read while the audit writer holds the write lock (SQLite)."""
    with store.engine.begin() as writer:  # BEGIN IMMEDIATE on SQLite: holds the write lock
        writer.execute(hook_calls.delete())
        started = time.monotonic()
        assert store.counts()["hook_calls"] == 0
        store.ping()
        assert time.monotonic() - started < 2


def test_a_forked_worker_writes_its_own_records(store: Store) -> None:
    """gunicorn --preload forks after the app (and the writer thread) exist."""
    store.record_hook_call(hook_record(hook_instance="parent-before"))
    assert store.flush(10)
    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a threaded process is risky: it is, which is
        # exactly what gunicorn --preload does and what this test covers.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # child: must start its own writer thread and connections
        code = 1
        try:
            for i in range(50):
                store.record_hook_call(hook_record(hook_instance=f"child-{i}", card_uuids=()))
            store.close()
            code = 0 if store.audit_writer.written == 50 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    store.record_hook_call(hook_record(hook_instance="parent-after"))
    assert store.flush(10)
    assert count(store, hook_calls) == 52


def test_feedback_that_arrives_before_its_audit_record_is_unflagged(store: Store) -> None:
    item = {"card": "early", "outcome": "overridden", "outcomeTimestamp": "2026-03-02T09:31:00Z"}
    items = parse_feedback_request({"feedback": [item]})
    result = store.record_feedback(SERVICE_ID, items)
    assert result.unissued_cards == ("early",)
    with store.read() as conn:
        assert conn.scalar(select(feedback.c.card_issued)) is False
    store.record_hook_call(hook_record(card_uuids=("early",)))
    assert store.flush(10)
    with store.read() as conn:
        assert conn.scalar(select(feedback.c.card_issued)) is True
