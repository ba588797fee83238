"""Background audit writer: the hook hands a record over in microseconds, a thread writes.

One writer per process (gunicorn worker). Records wait in a bounded queue; the thread
takes everything waiting (up to ``batch_size``) and writes it in one transaction, so
under load the cost per record falls instead of rising. After the first record of a batch
it lingers up to ``linger`` seconds (default 50 ms) for more: hooks one after another (one
connection) would otherwise each wake the thread and pay a whole transaction (about 1 ms
of CPU, taken from the hook on a 2-core machine), where a batch costs a fraction of that
per record. :meth:`flush` and :meth:`close` cut the linger short. Nothing is dropped silently:

* a database outage: the batch is retried with back-off while the queue absorbs new
  records; when the queue is full, ``submit`` blocks (back-pressure) up to
  ``put_timeout`` seconds before it gives up and logs the loss;
* shutdown: :meth:`close` (also run by ``atexit``) writes what is queued before returning;
* ``fork`` (gunicorn ``--preload``): a thread does not survive a fork, so the child
  notices the new process id and starts its own writer with an empty queue.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)

T = TypeVar("T")

_STOP = object()
#: queued by :meth:`AuditWriter.flush`: write what is waiting now, do not linger
_FLUSH = object()


class AuditWriter(Generic[T]):
    def __init__(
        self,
        write_batch: Callable[[Sequence[T]], None],
        *,
        on_fork: Callable[[], None] | None = None,
        maxsize: int = 10_000,
        batch_size: int = 500,
        linger: float = 0.05,
        put_timeout: float = 5.0,
        max_backoff: float = 5.0,
    ) -> None:
        self._write_batch = write_batch
        self._on_fork = on_fork
        self._maxsize = maxsize
        self._batch_size = batch_size
        self._linger = linger
        self._put_timeout = put_timeout
        self._max_backoff = max_backoff
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._queue: queue.Queue[object] = queue.Queue(maxsize)
        self._thread: threading.Thread | None = None
        self._closing = False
        self._atexit_registered = False
        #: records given up on (queue full for put_timeout, or rejected by the database)
        self.lost = 0
        #: records written
        self.written = 0

    # -- producer side ---------------------------------------------------------------
    def submit(self, record: T) -> None:
        """Queue one record; returns at once unless the queue is full."""
        thread = self._thread
        if self._pid != os.getpid() or thread is None or not thread.is_alive():
            self._start()
        if self._closing:
            # after close (interpreter exit): write synchronously rather than lose it
            self._write_with_retry([record], give_up_after=self._put_timeout)
            return
        try:
            self._queue.put(record, timeout=self._put_timeout)
        except queue.Full:
            self.lost += 1
            log.error("audit queue full for %.1fs: one hook call record lost", self._put_timeout)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued record is written (or given up); False on timeout."""
        deadline = time.monotonic() + timeout
        if self._queue.unfinished_tasks:
            # wake a lingering writer; a full queue is being written without lingering
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(_FLUSH)
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._queue.all_tasks_done.wait(remaining)
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, then stop the thread. Idempotent."""
        with self._lock:
            thread = self._thread if self._pid == os.getpid() else None
            if self._closing:
                return
            self._closing = True
        if thread is not None and thread.is_alive():
            self._queue.put(_STOP)
            thread.join(timeout)
            if thread.is_alive():
                log.error("audit writer did not finish within %.0fs", timeout)
                return
        # anything a racing producer queued after the writer's last look
        self._drain_after_stop()

    @property
    def pending(self) -> int:
        return self._queue.unfinished_tasks

    # -- writer thread -----------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            pid = os.getpid()
            if self._pid != pid:
                # forked child: the parent's thread and queued records stay with the parent
                self._pid = pid
                self._queue = queue.Queue(self._maxsize)
                self._thread = None
                self._closing = False
                self.lost = self.written = 0
                if self._on_fork is not None:
                    self._on_fork()
            alive = self._thread is not None and self._thread.is_alive()
            if not alive and not self._closing:
                self._thread = threading.Thread(
                    target=self._run, name="cds-audit-writer", daemon=True
                )
                self._thread.start()
                if not self._atexit_registered:
                    atexit.register(self.close)
                    self._atexit_registered = True

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch: list[object] = [first]
            lingering = first is not _STOP and first is not _FLUSH and self._linger > 0
            deadline = time.monotonic() + self._linger
            while len(batch) < self._batch_size:
                remaining = deadline - time.monotonic() if lingering else 0.0
                try:
                    if remaining > 0:
                        item = self._queue.get(timeout=remaining)
                    else:
                        item = self._queue.get_nowait()
                except queue.Empty:
                    break
                batch.append(item)
                if item is _STOP or item is _FLUSH:
                    lingering = False  # write now; still take what is already waiting
            stop = any(item is _STOP for item in batch)
            records: list[T] = [
                item  # type: ignore[misc]
                for item in batch
                if item is not _STOP and item is not _FLUSH
            ]
            try:
                if records:
                    self._write_with_retry(records, give_up_after=None if not stop else 30.0)
            finally:
                for _ in batch:
                    self._queue.task_done()
            if stop:
                self._drain_after_stop()
                return

    def _drain_after_stop(self) -> None:
        # records queued after the stop marker (racing producers) are written too
        rest: list[T] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            self._queue.task_done()
            if item is not _STOP and item is not _FLUSH:
                rest.append(item)  # type: ignore[arg-type]
        if rest:
            self._write_with_retry(rest, give_up_after=30.0)

    def _write_with_retry(self, records: Sequence[T], give_up_after: float | None) -> None:
        started = time.monotonic()
        backoff = 0.05
        while True:
            try:
                self._write_batch(records)
                self.written += len(records)
                return
            except OperationalError as exc:
                # database unreachable or locked: wait and try the same batch again
                waited = time.monotonic() - started
                if give_up_after is not None and waited >= give_up_after:
                    self.lost += len(records)
                    log.error(
                        "audit: %d hook call records lost, database unavailable: %s",
                        len(records),
                        type(exc).__name__,
                    )
                    return
                log.warning("audit write failed (%s); retrying", type(exc).__name__)
                time.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
            except Exception as exc:
                # a record the database (or its conversion) rejects must not take the rest
                # of the batch along, nor stop the writer: isolate it, log it, go on
                if len(records) == 1:
                    self.lost += 1
                    log.error("audit: one hook call record rejected: %s", type(exc).__name__)
                    return
                for record in records:
                    self._write_with_retry([record], give_up_after)
                return
