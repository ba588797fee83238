"""Audit and feedback store: what one hook call pays for its audit record, and more.

    .venv/bin/python bench/bench_store.py [--records 5000] [--postgres URL]

Measures, on SQLite (a temporary file, WAL) and on PostgreSQL when ``--postgres`` or
``TEST_DATABASE_URL`` is given:

* hand-off: ``store.record_hook_call`` as the hook view calls it (queue put; a background
  thread writes), from 1 thread and from 8 threads at once;
* writer throughput: records per second the background thread commits (batched);
* synchronous write: one transaction per record, the alternative the queue replaces;
* feedback: a one-item ``POST .../feedback`` through the Flask test client (durable on return).

Prints figures and ratios; no assertion (speed targets live here, not in tests).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask

from cds_service.config import Settings
from cds_service.hooks.audit import HookCallRecord
from cds_service.store import open_store
from cds_service.web import feedback as feedback_web


def record(n: int) -> HookCallRecord:
    return HookCallRecord(
        time=datetime.now(UTC),
        hook_instance=str(uuid.uuid4()),
        service_id="msc-liver-screening",
        ruleset_version="bench",
        user_id="Practitioner/bench",
        patient_id=f"pat-{n % 500}",
        outcome="workup-incomplete",
        reason_ids=("workup.fibrosis-assessment", "indication.masld-alt", "exclusion.none"),
        card_uuids=(str(uuid.uuid4()), str(uuid.uuid4())),
        data_source="prefetch",
        fhir_requests=("Observation?patient={{context.patientId}}&code=x&_count=200",),
        latency_ms=41.7,
        status_code=200,
    )


def line(label: str, samples_s: list[float]) -> tuple[float, float, float]:
    mean, p50, p99 = summary(samples_s)
    print(f"  {label:<28}  mean {mean:8.1f} us  p50 {p50:8.1f} us  p99 {p99:8.1f} us")
    return mean, p50, p99


def summary(samples_s: list[float]) -> tuple[float, float, float]:
    """mean, p50, p99 in microseconds."""
    us = sorted(s * 1e6 for s in samples_s)
    return statistics.fmean(us), us[len(us) // 2], us[min(len(us) - 1, int(len(us) * 0.99))]


def timed(fn: Callable[[], object], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return samples


def bench(name: str, settings: Settings, n: int) -> None:
    store = open_store(settings)
    store.upgrade()
    counter = iter(range(10**9))
    print(f"\n== {name}")

    # 1. hand-off from one thread, then time until the writer has committed everything
    records = [record(next(counter)) for _ in range(n)]
    it = iter(records)
    t0 = time.perf_counter()
    handoff = timed(lambda: store.record_hook_call(next(it)), n)
    enqueued = time.perf_counter()
    store.flush(120)
    written = time.perf_counter()
    mean, _, _ = line("audit hand-off, 1 thread", handoff)
    print(
        f"  {'writer throughput':<28}  {n / (written - t0):8.0f} records/s "
        f"({n} records committed {1000 * (written - enqueued):.0f} ms after the last hand-off)"
    )

    # 2. hand-off from 8 threads at once (a busy gthread worker)
    per_thread = max(1, n // 8)
    lock = threading.Lock()
    all_samples: list[float] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        mine = [record(i) for i in range(per_thread)]
        barrier.wait()
        samples = timed(lambda: store.record_hook_call(mine.pop()), per_thread)
        with lock:
            all_samples.extend(samples)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.flush(120)
    line("audit hand-off, 8 threads", all_samples)
    assert store.audit_writer.lost == 0, "records lost"

    # 3. the synchronous alternative: one transaction per hook call
    sync_n = max(1, n // 5)
    sync_records = [record(i) for i in range(sync_n)]
    sit = iter(sync_records)
    sync = timed(lambda: store.write_hook_calls([next(sit)]), sync_n)
    smean, _, _ = line("synchronous write, 1 thread", sync)
    print(f"  -> the queue makes the hook's audit cost {smean / mean:.0f}x smaller (mean)")

    # 4. feedback POST, durable on return
    app = Flask("bench")
    app.register_blueprint(feedback_web.blueprint)
    feedback_web.init_store(app, store)
    client = app.test_client()
    fb_n = max(1, n // 10)

    def post() -> None:
        body = {"feedback": [{"card": str(uuid.uuid4()), "outcome": "overridden",
                              "outcomeTimestamp": "2026-11-01T12:00:00Z"}]}  # fmt: skip
        response = client.post("/cds-services/msc-liver-screening/feedback", json=body)
        assert response.status_code == 200

    line("feedback POST (1 item)", timed(post, fb_n))
    counts = store.counts()
    print(f"  rows: {counts}")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL"))
    args = parser.parse_args()
    # every benchmark card is unknown to the store: keep its per-request warning quiet
    logging.getLogger("cds_service.web.feedback").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = Settings(sqlite_path=str(Path(tmp) / "b.sqlite3"))
        bench("SQLite (WAL, synchronous=NORMAL)", sqlite, args.records)
    if args.postgres:
        url = args.postgres
        settings = Settings(database_url=url)
        # a fresh schema so the figures do not depend on what is already stored
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        base = make_url(url)
        if base.drivername in {"postgres", "postgresql"}:
            base = base.set(drivername="postgresql+psycopg")
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(base)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            scoped = base.update_query_dict({"options": f"-csearch_path={schema}"})
            settings = Settings(database_url=scoped.render_as_string(hide_password=False))
            bench("PostgreSQL", settings, args.records)
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    else:
        print("\n(PostgreSQL skipped: pass --postgres URL or set TEST_DATABASE_URL)")


if __name__ == "__main__":
    main()


