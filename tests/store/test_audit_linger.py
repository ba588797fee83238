"""The audit writer lingers for more records before a transaction, never past flush/close."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from cds_service.store.audit_writer import AuditWriter


class Batches:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.lock = threading.Lock()

    def __call__(self, records: Sequence[int]) -> None:
        with self.lock:
            self.batches.append(list(records))


def test_records_one_after_another_are_written_in_one_batch() -> None:
    sink = Batches()
    writer: AuditWriter[int] = AuditWriter(sink, linger=0.5)
    for n in range(5):
        writer.submit(n)
        time.sleep(0.01)
    assert writer.flush(5)
    assert sink.batches == [[0, 1, 2, 3, 4]]
    writer.close()


def test_flush_cuts_the_linger_short() -> None:
    sink = Batches()
    writer: AuditWriter[int] = AuditWriter(sink, linger=30.0)
    writer.submit(1)
    started = time.monotonic()
    assert writer.flush(10)
    assert time.monotonic() - started < 5
    assert sink.batches == [[1]]
    writer.close()


def test_close_writes_a_lingering_batch_at_once() -> None:
    sink = Batches()
    writer: AuditWriter[int] = AuditWriter(sink, linger=30.0)
    writer.submit(1)
    writer.submit(2)
    started = time.monotonic()
    writer.close(timeout=10)
    assert time.monotonic() - started < 5
    assert [r for b in sink.batches for r in b] == [1, 2]
    assert writer.written == 2
    assert writer.lost == 0


def test_a_full_batch_is_written_without_waiting_for_the_linger() -> None:
    sink = Batches()
    writer: AuditWriter[int] = AuditWriter(sink, linger=30.0, batch_size=3)
    for n in range(3):
        writer.submit(n)
    deadline = time.monotonic() + 5
    while not sink.batches and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sink.batches == [[0, 1, 2]]
    writer.close()
