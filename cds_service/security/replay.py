"""Seen-``jti`` store: a JWT may be used once within its lifetime.

The service uses ``deps.store.remember_jti`` when a store exists (shared by every worker
through the database). Without one, :class:`InMemoryJtiStore` protects a single process;
with several workers a replay to another worker is then not detected (logged at start-up).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable


@runtime_checkable
class JtiStore(Protocol):
    def remember_jti(self, jti: str, expires_at: datetime) -> bool:
        """Record ``jti`` until ``expires_at``; False when it was already recorded (a replay)."""
        ...


class InMemoryJtiStore:
    """Thread-safe in-process store; expired ids are pruned as new ones arrive."""

    def __init__(
        self,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        prune_every: int = 256,
    ) -> None:
        self._clock = clock
        self._seen: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._prune_every = prune_every
        self._since_prune = 0

    def remember_jti(self, jti: str, expires_at: datetime) -> bool:
        now = self._clock()
        with self._lock:
            self._since_prune += 1
            if self._since_prune >= self._prune_every:
                self._seen = {k: v for k, v in self._seen.items() if v > now}
                self._since_prune = 0
            previous = self._seen.get(jti)
            if previous is not None and previous > now:
                return False
            self._seen[jti] = expires_at
            return True

    def __len__(self) -> int:
        return len(self._seen)
